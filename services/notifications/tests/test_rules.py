"""Rules without I/O: every notification kind has its severity, lifetime and words in every language; settings
refuse unknown kinds; retry delays grow and stop growing; a digest is due by the doctor's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from services.notifications.deliveries import retry_delay
from services.notifications.digest import digest_due, digest_key
from services.notifications.kinds import KINDS, retired_by_leaving
from services.notifications.messages import LANGUAGES, TEXTS, language_of, render
from services.notifications.settings import DEFAULT_EXPIRY_DAYS, Settings
from shared.events.notifications import NOTIFICATION_KINDS


def test_every_kind_has_an_entry_a_lifetime_and_words_in_every_language() -> None:
    assert set(KINDS) == set(DEFAULT_EXPIRY_DAYS) == set(NOTIFICATION_KINDS)
    for language in LANGUAGES:
        assert set(NOTIFICATION_KINDS) <= set(TEXTS[language])
        for kind in NOTIFICATION_KINDS:
            words = render(kind, {"slots": ["scan.upper"]}, language)
            assert words.title and words.body and "{" not in words.title + words.body
    assert render("phase_shipped", {}, "en").title == "Phase … shipped"  # a fact missing from old rows


def test_leaving_a_status_retires_the_notices_that_held_in_it() -> None:
    assert sorted(retired_by_leaving("setup_approval_pending")) == ["setup_published", "setup_ready_for_approval"]
    assert retired_by_leaving("awaiting_records") == ["records_missing"]
    assert retired_by_leaving("in_production") == []


def test_words_fall_back_to_english_and_name_the_case() -> None:
    assert (language_of("fr-CA"), language_of("de"), language_of(None)) == ("fr", "en", "en")
    assert render("case_on_hold", {"reason": None}, "de").body == "Your case is on hold: no reason given"
    missing = render("records_missing", {"order_number": "DP-2026-000001", "slots": []}, "fr")
    assert missing.title == "Empreintes PVS à envoyer" and missing.body.startswith("DP-2026-000001 : imprimez")


def test_settings_take_a_lifetime_per_known_kind_only() -> None:
    assert Settings(notification_expiry_days={"phase_shipped": 3}).expiry_days("phase_shipped") == 3
    assert Settings().expiry_days("phase_shipped") == DEFAULT_EXPIRY_DAYS["phase_shipped"]
    with pytest.raises(ValidationError, match="unknown notification kind"):
        Settings(notification_expiry_days={"phase_shiped": 3})
    with pytest.raises(ValidationError, match="at least 1 day"):
        Settings(notification_expiry_days={"phase_shipped": 0})


def test_retry_delays_double_up_to_the_maximum() -> None:
    settings = Settings(email_retry_initial_seconds=5, email_retry_max_seconds=30)
    assert [retry_delay(n, settings).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]


def test_a_digest_is_due_at_the_hour_of_the_doctors_own_day() -> None:
    before_seven = datetime.fromisoformat("2026-12-05T05:59:00+00:00")  # 06:59 in Paris
    day, due = digest_due(before_seven, "Europe/Paris", 7)
    assert (day.isoformat(), due) == ("2026-12-04", datetime.fromisoformat("2026-12-04T06:00:00+00:00"))
    assert digest_due(before_seven + timedelta(minutes=1), "Europe/Paris", 7)[0].isoformat() == "2026-12-05"
    assert digest_due(before_seven, "Not/AZone", 7)[0].isoformat() == "2026-12-04"  # unknown zones count as UTC
    assert digest_key("d", day) == digest_key("d", day) != digest_key("d", day + timedelta(days=1))
