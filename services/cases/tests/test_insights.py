"""The dashboard's numbers against a hand-computed expectation: a month to date compared with the same part of the
month before, from history entries written as the service writes them, on SQLite and PostgreSQL; and the
dashboard route's counts and all-time insights over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.cases.insights import Window, change, metrics
from services.cases.models import HistoryEntry
from services.cases.tests.conftest import Cases, ok
from services.cases.tests.test_listing_api import seeded
from shared.events.doctors import DoctorRegistered, DoctorUpdated
from shared.internal_token import Collaboration
from tests.harness.events import envelope_of


def on(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def entries(doctor_id: str) -> list[HistoryEntry]:
    """Four cases' dated events in February and March 2026 (see the test for what each one counts as)."""
    one, two, three, four = (str(uuid.uuid4()) for _ in range(4))
    rows = [
        (one, "order_submitted", on(2, 3), None, None),
        (one, "publish_setup", on(2, 10), 1, None),
        (one, "approve_setup", on(3, 2), 1, None),
        (one, "ship_phase", on(3, 5), 1, None),
        (one, "ship_phase", on(3, 12), 2, None),
        (one, "deliver_phase", on(3, 13), 1, None),
        (one, "deliver_phase", on(3, 14), 2, "last_phase_delivered"),
        (two, "order_submitted", on(3, 1), None, None),
        (two, "publish_setup", on(3, 4), 1, None),
        (two, "reject_setup", on(3, 6), 1, "setup_in_progress"),
        (two, "publish_setup", on(3, 8), 2, None),
        (two, "approve_setup", on(3, 10), 2, None),
        (two, "modification_submitted", on(3, 11), None, None),
        (three, "order_submitted", on(3, 2), None, None),
        (three, "publish_setup", on(3, 7), 1, None),
        (three, "approve_setup", on(3, 20), 1, None),  # after the window
        (four, "order_submitted", on(2, 5), None, None),
        (four, "publish_setup", on(2, 6), 1, None),
        (four, "approve_setup", on(2, 8), 1, None),
        (four, "ship_phase", on(2, 12), 1, None),
        (four, "deliver_phase", on(2, 14), 1, "last_phase_delivered"),
        (four, "ship_phase", on(2, 20), 2, None),  # in neither window
    ]
    return [
        HistoryEntry(
            case_id=case,
            doctor_id=doctor_id,
            at=when,
            kind=kind,
            actor="staff",
            summary=kind,
            number=number,
            status_to=to,
        )
        for case, kind, when, number, to in rows
    ]


async def test_month_to_date_and_the_month_before_match_a_hand_count(cases: Cases) -> None:
    doctor, other = str(uuid.uuid4()), str(uuid.uuid4())
    async with cases.sessions() as session, session.begin():
        session.add_all(entries(doctor) + entries(other))
    current = Window(on(3, 1, 0), on(3, 15, 12))
    previous = Window(on(2, 1, 0), on(2, 15, 12))
    async with cases.sessions() as session:
        now, before = await metrics(session, doctor, [current, previous])
    assert now == {
        "cases_submitted": 2,  # two and three (one was submitted in February; a modification is not a case)
        "setups_approved": 2,  # one's v1 and two's v2 (three's comes after the window)
        "cases_started": 1,  # one's phase 1
        "phases_shipped": 2,  # one's phases 1 and 2
        "cases_completed": 1,  # one
        "median_days_submission_to_first_setup": 4.0,  # two: 3 days, three: 5 days
        "median_days_setup_to_approval": 11.0,  # one: 20 days (v1 of 10 February), two: 2 days (v2)
    }
    assert before == {
        "cases_submitted": 2,  # one and four
        "setups_approved": 1,  # four
        "cases_started": 1,
        "phases_shipped": 1,  # four's phase 2 ships on the 20th, after the 15th
        "cases_completed": 1,
        "median_days_submission_to_first_setup": 4.0,  # one: 7 days, four: 1 day
        "median_days_setup_to_approval": 2.0,  # four
    }
    assert change(now, before) == {
        "cases_submitted": {"delta": 0, "percent": 0.0},
        "setups_approved": {"delta": 1, "percent": 100.0},
        "cases_started": {"delta": 0, "percent": 0.0},
        "phases_shipped": {"delta": 1, "percent": 100.0},
        "cases_completed": {"delta": 0, "percent": 0.0},
        "median_days_submission_to_first_setup": {"delta": 0.0, "percent": 0.0},
        "median_days_setup_to_approval": {"delta": 9.0, "percent": 450.0},
    }
    async with cases.sessions() as session:
        [empty] = await metrics(session, str(uuid.uuid4()), [current])
    assert empty["cases_submitted"] == 0 and empty["median_days_setup_to_approval"] is None
    assert change(empty, before)["median_days_setup_to_approval"] == {"delta": None, "percent": None}


async def test_the_dashboard_counts_what_the_list_shows_and_sums_all_time(cases: Cases) -> None:
    doctor, colleague = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        seeded(doctor, "DP-2026-000001", "A", "A", "setup_approval_pending", created_at=on(3, 1)),
        seeded(doctor, "DP-2026-000002", "B", "B", "shipped", created_at=on(3, 1)),
        seeded(doctor, "DP-2026-000003", "C", "C", "shipped", created_at=on(3, 1)),
        seeded(doctor, "DP-2026-000004", "D", "D", "cancelled", created_at=on(3, 1)),
        seeded(colleague, "DP-2026-000005", "E", "E", "awaiting_records", created_at=on(3, 1)),
    ]
    from services.cases.models import CaseCollaborator

    async with cases.sessions() as session, session.begin():
        session.add_all([*rows, *entries(doctor), CaseCollaborator(case_id=rows[-1].id, collaborator_id="c-1")])
    shared = Collaboration("c-1", colleague, ("view",))
    async with cases.doctor(doctor, shared) as client, cases.staff() as lab:
        board = await ok(await client.get("/dashboard", params={"period": "all"}))
        assert board["counts"]["buckets"] == {"action_required": 2, "in_progress": 2, "archive": 1}
        statuses = board["counts"]["statuses"]
        assert (statuses["shipped"], statuses["awaiting_records"], statuses["expired"], len(statuses)) == (2, 1, 0, 11)
        insights = board["insights"]
        assert (
            insights["period"],
            insights["time_zone"],
            insights["start"],
            insights["previous"],
            insights["change"],
        ) == ("all", "UTC", None, None, None)
        assert insights["metrics"]["cases_submitted"] == 4 and insights["metrics"]["setups_approved"] == 4
        month = await ok(await client.get("/dashboard"))
        assert month["insights"]["period"] == "mtd" and month["insights"]["start"].endswith("-01T00:00:00Z")
        assert set(month["insights"]["change"]) == set(month["insights"]["metrics"])
        assert (await client.get("/dashboard", params={"period": "week"})).status_code == 422
        assert (await lab.get("/dashboard")).status_code == 403


async def test_periods_are_counted_in_the_doctors_time_zone(cases: Cases) -> None:
    doctor = str(uuid.uuid4())
    profile = {
        "doctor_id": doctor,
        "email": "d@example.org",
        "first_name": "Zoë",
        "last_name": "Lefèvre",
        "language": "fr",
    }
    registered = DoctorRegistered(**profile, practice_name="Cabinet", time_zone="Pacific/Kiritimati")
    moved = DoctorUpdated(**profile, time_zone="Europe/Paris")
    await cases.apply(envelope_of(registered, source="gateway", subject=doctor, version=1))
    async with cases.doctor(doctor) as client:
        insights = (await ok(await client.get("/dashboard", params={"period": "ytd"})))["insights"]
        assert insights["time_zone"] == "Pacific/Kiritimati"  # UTC+14: its 1 January starts the day before in UTC
        assert insights["start"].endswith("-12-31T10:00:00Z")
        await cases.apply(envelope_of(moved, source="gateway", subject=doctor, version=2))
        insights = (await ok(await client.get("/dashboard", params={"period": "ytd"})))["insights"]
    assert insights["time_zone"] == "Europe/Paris" and insights["start"].endswith("-12-31T23:00:00Z")
    assert insights["previous_start"].endswith("-12-31T23:00:00Z") and insights["previous"]["cases_submitted"] == 0
