"""Each business fact of a case becomes one notification for its doctor, with the right words, link, severity and an
e-mail: on SQLite and PostgreSQL, the same event delivered twice still makes one notification and one e-mail; facts
that ask nothing of the doctor make none; a notice that asks the doctor to act goes when the case moves on."""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.notifications.deliveries import send_due
from services.notifications.tests.conftest import CaseOf, Notifications, doctor_profile
from shared.db import utcnow
from shared.events.cases import (
    CaseExpiringSoon,
    CaseStatusChanged,
    CollaboratorStatusChanged,
    PhaseDelivered,
    PhaseShipped,
    SetupPublished,
)
from shared.events.documents import RecordsChecked, RecordsCompleted
from shared.events.envelope import Envelope
from shared.events.notifications import NOTIFICATION_KINDS
from tests.harness.events import envelope_of

# One moment for the facts and the dates their words must show, so a run that crosses midnight reads the same day.
NOW = utcnow()


def status(case: CaseOf, to: str, came_from: str, actor: str = "staff", **fields: Any) -> Envelope:
    return case.event(CaseStatusChanged, status=to, previous_status=came_from, actor=actor, **fields)


def setup_published(case: CaseOf, version: int = 2) -> Envelope:
    return case.event(
        SetupPublished,
        version=version,
        published_at=utcnow(),
        technician_comment="IPR 0.2 mm between 11 and 21",
        steps_upper=18,
        steps_lower=16,
    )


FACTS: dict[str, tuple[Callable[[CaseOf], Envelope], str, list[str], str]] = {
    "setup_published": (
        setup_published,
        "Treatment setup v2 awaits your approval",
        ["published treatment setup v2 (18 upper, 16 lower steps)"],
        "warning",
    ),
    "records_missing": (
        lambda c: status(
            c, "awaiting_records", "incomplete_submission", "doctor", slots=["photo.face_frontal", "scan.lower"]
        ),
        "Records needed",
        ["needs face photo (frontal), lower arch scan"],
        "warning",
    ),
    "submission_problem": (
        lambda c: status(
            c, "submission_problem", "setup_in_progress", reason="The upper scan is cut off", slots=["scan.upper"]
        ),
        "Problem with the submission",
        ["The upper scan is cut off (upper arch scan)"],
        "critical",
    ),
    "phase_shipped": (
        lambda c: c.event(
            PhaseShipped,
            number=1,
            steps_from=1,
            steps_to=10,
            carrier="DHL",
            tracking_number="JD0146000012",
            shipped_at=utcnow(),
            expires_at=utcnow() + timedelta(days=365),
        ),
        "Phase 1 shipped",
        ["steps 1 to 10", "with DHL, tracking number JD0146000012"],
        "info",
    ),
    "last_phase_delivered": (
        lambda c: c.event(PhaseDelivered, number=3, final=True, delivered_at=utcnow()),
        "Last phase delivered",
        ["phase 3, the last one, was delivered"],
        "info",
    ),
    "case_on_hold": (
        lambda c: status(c, "on_hold", "in_production", reason="Waiting for the patient's dentist"),
        "Case on hold",
        ["is on hold: Waiting for the patient's dentist"],
        "warning",
    ),
    "case_resumed": (
        lambda c: status(c, "in_production", "on_hold"),
        "Case resumed",
        ["was resumed: In production."],
        "info",
    ),
    "case_expiring_soon": (
        lambda c: c.event(CaseExpiringSoon, expires_at=NOW + timedelta(days=30), days_before=30),
        "Case expires in 30 days",
        [f"expires on {(NOW + timedelta(days=30)).date().isoformat()}"],
        "warning",
    ),
    "case_expired": (
        lambda c: status(c, "expired", "shipped", "system", occurred_at=NOW),
        "Case expired",
        [f"expired on {NOW.date().isoformat()}"],
        "info",
    ),
    "setup_ready_for_approval": (
        lambda c: c.event(
            CollaboratorStatusChanged,
            collaborator_status="ready_for_approval",
            previous_collaborator_status="setup_evaluation",
            setup_version=2,
            collaborator_id="c0ffee00-0000-4000-8000-000000000001",
        ),
        "Setup v2 ready for your approval",
        ["your collaborator reviewed treatment setup v2"],
        "warning",
    ),
}


def test_every_kind_has_a_fact() -> None:
    assert sorted(FACTS) == sorted(NOTIFICATION_KINDS)


async def eml_files(folder: Path, count: int, timeout: float = 10.0) -> list[Path]:
    """The ``.eml`` files in ``folder`` once ``count`` are there; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} e-mail file(s) in {folder}")


@pytest.mark.parametrize("kind", sorted(FACTS))
async def test_one_event_one_notification_and_one_email_even_when_delivered_twice(
    notifications: Notifications, kind: str
) -> None:
    make, title, phrases, severity = FACTS[kind]
    case = CaseOf()
    await notifications.apply(doctor_profile(case.doctor_id))
    fact = make(case)
    assert await notifications.apply(fact, fact) == ["applied", "duplicate"]

    async with notifications.doctor(case.doctor_id) as doctor:
        listed = (await doctor.get("/notifications")).json()
    assert listed["total"] == 1
    [item] = listed["items"]
    assert (item["kind"], item["title"], item["case_id"], item["severity"], item["read"]) == (
        kind,
        title,
        case.case_id,
        severity,
        False,
    )
    assert item["body"].startswith(f"{case.order_number} · Zoë Lefèvre")
    for phrase in phrases:
        assert phrase in item["body"]

    [eml] = await eml_files(notifications.settings.data_dir / "mail", 1)
    await send_due(notifications.sessions, notifications.settings)  # nothing more is due
    assert len(await notifications.deliveries_of(case.doctor_id)) == 1
    assert len(list(eml.parent.glob("*.eml"))) == 1
    message = email.message_from_bytes(eml.read_bytes(), policy=default)
    assert message["Subject"] == title and message["To"] == f"dr-{case.doctor_id[:8]}@example.com"
    text = message.get_content()
    assert text.startswith("Dear Dr Martin,") and phrases[0] in text
    assert f"Open the case: http://127.0.0.1:8000/api/v1/cases/{case.case_id}\n" in text


async def test_facts_that_ask_nothing_of_the_doctor_make_no_notification(notifications: Notifications) -> None:
    case = CaseOf()
    await notifications.apply(
        status(case, "incomplete_submission", None, "doctor"),  # type: ignore[arg-type]
        status(case, "setup_in_progress", "incomplete_submission", "doctor"),
        status(case, "in_production", "setup_approval_pending", "doctor"),
        status(case, "on_hold", "in_production", "doctor"),  # the doctor's own hold and resume
        status(case, "in_production", "on_hold", "doctor"),
        case.event(PhaseDelivered, number=1, final=False, delivered_at=utcnow()),
        case.event(
            CollaboratorStatusChanged,
            collaborator_status="setup_evaluation",
            previous_collaborator_status="setup_pending",
            setup_version=1,
        ),
    )
    assert await notifications.notifications_of(case.doctor_id) == []


async def test_an_approval_request_goes_when_the_case_moves_on_and_a_late_one_is_born_retired(
    notifications: Notifications,
) -> None:
    case = CaseOf()
    await notifications.apply(doctor_profile(case.doctor_id))
    await notifications.apply(status(case, "setup_approval_pending", "setup_in_progress"), setup_published(case, 1))
    async with notifications.doctor(case.doctor_id) as doctor:
        assert [i["kind"] for i in (await doctor.get("/notifications")).json()["items"]] == ["setup_published"]
        await notifications.apply(status(case, "setup_in_progress", "setup_approval_pending", "doctor"))
        assert (await doctor.get("/notifications")).json()["items"] == []

        # setup v2 published and approved, but the approval is heard before the publication
        late_case = CaseOf(doctor_id=case.doctor_id)
        published = setup_published(late_case, 2)
        approved = status(late_case, "in_production", "setup_approval_pending", "doctor")
        await notifications.apply(approved, published)
        assert (await doctor.get("/notifications")).json()["items"] == []
    rows = await notifications.notifications_of(case.doctor_id)
    assert [row.kind for row in rows] == ["setup_published", "setup_published"]
    [kept] = await notifications.deliveries_of(case.doctor_id)  # no e-mail for a notice already over
    assert kept.notification_ids == [rows[0].id]


async def test_a_nearer_expiry_reminder_replaces_the_earlier_one_and_ends_on_the_expiry_day(
    notifications: Notifications,
) -> None:
    case = CaseOf()
    expires = utcnow() + timedelta(days=7)
    await notifications.apply(
        case.event(CaseExpiringSoon, expires_at=expires + timedelta(days=23), days_before=30),
        case.event(CaseExpiringSoon, expires_at=expires, days_before=7),
    )
    async with notifications.doctor(case.doctor_id) as doctor:
        [item] = (await doctor.get("/notifications")).json()["items"]
        assert item["title"] == "Case expires in 7 days" and item["severity"] == "critical"
        assert datetime.fromisoformat(item["expires_at"]) == expires
        await notifications.apply(status(case, "expired", "shipped", "system"))
        assert [i["kind"] for i in (await doctor.get("/notifications")).json()["items"]] == ["case_expired"]


async def test_records_asked_once_each_pvs_impressions_and_missing_photos_apart(notifications: Notifications) -> None:
    digital, pvs, early = CaseOf(), CaseOf(), CaseOf()
    photos = ["photo.face_frontal", "photo.face_profile"]

    def checked(case: CaseOf, missing: list[str]) -> Envelope:
        payload = RecordsChecked(
            case_id=case.case_id,
            order_id="o",
            doctor_id=case.doctor_id,
            required=photos,
            missing=missing,
            complete=not missing,
        )
        return envelope_of(payload, source="documents", subject=case.case_id, version=1)

    # digital scans: the records check and the case's move name the same slots: asked once
    await notifications.apply(
        checked(digital, photos), status(digital, "awaiting_records", "incomplete_submission", "doctor", slots=photos)
    )
    # PVS impressions: the case waits for the box, and the check finds photos missing too: two requests, whichever
    # of the case's move and the check is heard first
    await notifications.apply(status(pvs, "awaiting_records", "incomplete_submission", "doctor"), checked(pvs, photos))
    await notifications.apply(
        checked(early, photos), status(early, "awaiting_records", "incomplete_submission", "doctor")
    )
    async with notifications.doctor(early.doctor_id) as doctor:
        assert sorted(i["title"] for i in await listed(doctor)) == ["PVS impressions to send", "Records needed"]
    async with notifications.doctor(digital.doctor_id) as doctor:
        [asked] = await listed(doctor)
        assert asked["title"] == "Records needed"
        assert asked["body"].startswith(f"{digital.order_number} · Zoë Lefèvre: the lab needs face photo (frontal)")
    async with notifications.doctor(pvs.doctor_id) as doctor:
        photos_asked, mail_box = await listed(doctor)
        assert mail_box["title"] == "PVS impressions to send" and mail_box["body"].startswith(pvs.order_number)
        assert "face photo (frontal), face photo (profile)" in photos_asked["body"]
        assert photos_asked["body"].startswith(f"{pvs.order_number} · Zoë Lefèvre")  # named from the case's status
        completed = RecordsCompleted(case_id=pvs.case_id, order_id="o", doctor_id=pvs.doctor_id, required=photos)
        await notifications.apply(envelope_of(completed, source="documents", subject=pvs.case_id, version=2))
        assert [i["title"] for i in await listed(doctor)] == ["PVS impressions to send"]


async def listed(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The carousel's items."""
    answer = await client.get("/notifications")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]
