"""The rules of the cases service that need no I/O: the transitions table against DOMAIN.md, expiry dates and levels
at their boundaries, where a submitted order leads, insight periods, a patient's initials."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime

import pytest

from services.cases.api.patient_links import initials
from services.cases.expiry import expiry_level, expiry_of
from services.cases.insights import Window, windows
from services.cases.intake import intake_target
from services.cases.statuses import BEFORE_HOLD, TRANSITIONS, Action, TransitionRefused, allowed_actions, check

STARTED = ("in_production", "shipped", "last_phase_delivered")
BEFORE_PRODUCTION = (
    "incomplete_submission",
    "awaiting_records",
    "submission_problem",
    "setup_in_progress",
    "setup_approval_pending",
)
DOMAIN_ROWS = {
    (None, "incomplete_submission"),
    ("incomplete_submission", "cancelled"),
    ("incomplete_submission", "awaiting_records"),
    ("incomplete_submission", "setup_in_progress"),
    ("awaiting_records", "setup_in_progress"),
    ("setup_in_progress", "submission_problem"),
    ("submission_problem", "setup_in_progress"),
    ("setup_in_progress", "setup_approval_pending"),
    ("setup_approval_pending", "setup_in_progress"),
    ("setup_approval_pending", "in_production"),
    ("in_production", "shipped"),
    ("shipped", "in_production"),
    ("shipped", "last_phase_delivered"),
    ("in_production", "on_hold"),
    ("shipped", "on_hold"),
    ("on_hold", BEFORE_HOLD),
    *((source, target) for source in STARTED for target in ("setup_in_progress", "awaiting_records")),
    *((source, "cancelled") for source in BEFORE_PRODUCTION),
    *(
        (source, "expired")
        for source in (*BEFORE_PRODUCTION[1:], "in_production", "shipped", "on_hold", "last_phase_delivered")
    ),
}
"""Every status change of DOMAIN.md's transitions table, copied by hand ("any status before in_production",
"any status after approval except cancelled" spelled out)."""


def test_the_table_changes_statuses_exactly_as_domain_md_says() -> None:
    changes = {(row.source, row.target) for row in TRANSITIONS if row.source != row.target}
    assert changes == DOMAIN_ROWS
    stays = {(row.action, row.source) for row in TRANSITIONS if row.source == row.target}
    assert stays == {
        (Action.RECEIVE_IMPRESSIONS, "awaiting_records"),
        (Action.START_PHASE, "in_production"),
        (Action.DELIVER_PHASE, "in_production"),
        (Action.DELIVER_PHASE, "shipped"),
        (Action.DELIVER_PHASE, "on_hold"),
    }


def test_only_the_right_actor_may_make_a_move() -> None:
    assert check("setup_approval_pending", Action.APPROVE_SETUP, "in_production", "doctor") == "in_production"
    for actor in ("staff", "collaborator", "system"):
        with pytest.raises(TransitionRefused):
            check("setup_approval_pending", Action.APPROVE_SETUP, "in_production", actor)
    with pytest.raises(TransitionRefused) as refused:
        check("shipped", Action.PUBLISH_SETUP, "setup_approval_pending", "staff")
    assert refused.value.status == 409
    assert refused.value.extra == {
        "case_status": "shipped",
        "allowed_actions": ["start_phase", "deliver_phase", "hold"],
    }
    assert allowed_actions("shipped", "doctor") == ["hold", "modify"]
    assert allowed_actions("awaiting_records", "doctor") == ["cancel"]  # the records complete it, no one asks
    assert allowed_actions("setup_approval_pending", "collaborator") == []
    for actor in ("doctor", "staff", "system"):
        assert allowed_actions("expired", actor) == allowed_actions("cancelled", actor) == []
    assert allowed_actions(None, "doctor") == []  # a case is opened by its order's draft


@pytest.mark.parametrize(
    ("package", "shipped", "expires"),
    [
        ("ONE", datetime(2026, 3, 15, 16, 30, tzinfo=UTC), datetime(2027, 3, 15, tzinfo=UTC)),
        ("MINI", datetime(2026, 8, 31, 9, 0, tzinfo=UTC), datetime(2027, 2, 28, tzinfo=UTC)),
        ("TWO", datetime(2027, 2, 28, 23, 59, tzinfo=UTC), datetime(2029, 2, 28, tzinfo=UTC)),
        ("UNLIMITED3", datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)),
        ("UNLIMITED5", datetime(2028, 2, 29, 12, 0, tzinfo=UTC), datetime(2033, 2, 28, tzinfo=UTC)),
        ("FLEX", datetime(2026, 1, 1, tzinfo=UTC), None),
        (None, datetime(2026, 1, 1, tzinfo=UTC), None),
    ],
)
def test_the_expiry_date_is_phase_one_shipment_plus_the_packages_calendar_months(
    package: str | None, shipped: datetime, expires: datetime | None
) -> None:
    assert expiry_of(package, shipped) == expires


@pytest.mark.parametrize(
    ("today", "level"),
    [
        (date(2026, 12, 14), "normal"),  # more than 6 months left
        (date(2026, 12, 15), "warning"),  # exactly 6 months
        (date(2027, 3, 14), "warning"),
        (date(2027, 3, 15), "critical"),  # exactly 3 months: "3 months or less"
        (date(2027, 6, 14), "critical"),  # the day before
        (date(2027, 6, 15), "expired"),  # the day itself
        (date(2028, 1, 1), "expired"),
    ],
)
def test_expiry_levels_at_their_boundaries(today: date, level: str) -> None:
    assert expiry_level(datetime(2027, 6, 15, tzinfo=UTC), today) == level


def test_a_case_without_expiry_has_no_level() -> None:
    assert expiry_level(None, date(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("pvs", "received", "required", "complete", "target"),
    [
        (False, False, ["scan.upper"], None, None),  # wait for the records check
        (False, False, ["scan.upper"], False, "awaiting_records"),
        (False, False, ["scan.upper"], True, "setup_in_progress"),
        (False, False, [], None, "setup_in_progress"),  # nothing to send: straight on
        (True, False, [], None, "awaiting_records"),  # PVS impressions: at once
        (True, False, ["photo.face_frontal"], True, "awaiting_records"),  # the box is still in the mail
        (True, True, ["photo.face_frontal"], None, "awaiting_records"),
        (True, True, ["photo.face_frontal"], False, "awaiting_records"),
        (True, True, ["photo.face_frontal"], True, "setup_in_progress"),
        (True, True, [], None, "setup_in_progress"),
    ],
)
def test_where_a_submitted_order_leads(
    pvs: bool, received: bool, required: list[str], complete: bool | None, target: str | None
) -> None:
    assert intake_target(pvs=pvs, impressions_received=received, required=required, complete=complete) == target


UTC_ZONE = zoneinfo.ZoneInfo("UTC")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("period", "now", "zone", "current", "previous"),
    [
        (
            "mtd",
            at(2026, 3, 15, 12),
            UTC_ZONE,
            Window(at(2026, 3, 1), at(2026, 3, 15, 12)),
            Window(at(2026, 2, 1), at(2026, 2, 15, 12)),
        ),
        (
            "mtd",
            at(2026, 3, 31, 12),
            UTC_ZONE,
            Window(at(2026, 3, 1), at(2026, 3, 31, 12)),
            Window(at(2026, 2, 1), at(2026, 3, 1)),
        ),
        (
            "mtd",
            at(2026, 3, 15, 12),
            PARIS,
            Window(at(2026, 2, 28, 23), at(2026, 3, 15, 12)),
            Window(at(2026, 1, 31, 23), at(2026, 2, 15, 12)),
        ),
        (
            "mtd",
            at(2026, 2, 28, 23, 30),
            PARIS,
            Window(at(2026, 2, 28, 23), at(2026, 2, 28, 23, 30)),
            Window(at(2026, 1, 31, 23), at(2026, 1, 31, 23, 30)),
        ),
        (
            "qtd",
            at(2026, 5, 10),
            UTC_ZONE,
            Window(at(2026, 4, 1), at(2026, 5, 10)),
            Window(at(2026, 1, 1), at(2026, 2, 9)),
        ),
        (
            "ytd",
            at(2026, 7, 1),
            UTC_ZONE,
            Window(at(2026, 1, 1), at(2026, 7, 1)),
            Window(at(2025, 1, 1), at(2025, 7, 1)),
        ),
        ("all", at(2026, 7, 1), PARIS, Window(None, at(2026, 7, 1)), None),
    ],
)
def test_insight_periods_and_the_ones_they_are_compared_with(
    period: str, now: datetime, zone: zoneinfo.ZoneInfo, current: Window, previous: Window | None
) -> None:
    assert windows(period, now, zone) == (current, previous)


def test_a_patient_link_shows_initials_only() -> None:
    assert initials("zoë", "Lefèvre") == "Z. L."
    assert initials("Émile", None) == "É."
    assert initials(" ", "") == ""
