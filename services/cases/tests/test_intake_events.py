"""The events that open and move a case before the lab starts, in every order and more than once: the final case is
the one the in-order stream gives. Applied through the service's own consumers (inbox, handler, outbox) on SQLite
and PostgreSQL, then read over HTTP; one stream also travels through the real broker."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
import sqlalchemy as sa

from services.cases.tests.conftest import (
    Cases,
    deleted,
    draft_created,
    new_order,
    ok,
    records_checked,
    records_completed,
    ship_phase_one,
    submitted,
    uploaded,
)
from services.cases.views import rfc3339
from shared.db import create_engine, is_sqlite
from shared.events.orders import PatientUpdated
from tests.harness.events import Tap, envelope_of, publish

MISSING = ["photo.face_frontal", "photo.face_smiling", "photo.face_profile"]


async def final_case(cases: Cases, doctor_id: str, case_id: str) -> dict[str, Any]:
    """What the doctor reads of the case, without what depends on when it was read."""
    async with cases.doctor(doctor_id) as doctor:
        case = (await ok(await doctor.get(f"/cases/{case_id}")))["case"]
    return {
        key: case[key]
        for key in (
            "status",
            "order_number",
            "patient",
            "kind",
            "records",
            "created_at",
            "submitted_at",
            "main_photo_document_id",
        )
    }


async def test_the_order_and_records_events_give_one_result_in_any_order_and_twice(cases: Cases) -> None:
    for permutation in itertools.permutations(range(4)):
        order = new_order()
        photo = uploaded(order, "photo.intraoral_frontal")
        opened = draft_created(cases, order)
        stream = [
            opened,
            submitted(cases, order),
            records_checked(cases, order, MISSING),
            records_completed(cases, order),
        ]
        shuffled = [stream[i] for i in permutation]
        outcomes = await cases.apply(*shuffled, photo, *shuffled)
        assert outcomes == ["applied"] * 5 + ["duplicate"] * 4
        case = await final_case(cases, order.doctor_id, order.case_id)
        assert case == {
            "status": "setup_in_progress",
            "order_number": order.order_number,
            "patient": {"id": order.patient_id, "first_name": "Zoë", "last_name": "Lefèvre"},
            "kind": "aligner",
            "records": {
                "order_id": order.order_id,
                "required": stream[1].payload["required_slots"],
                "missing": [],
                "complete": True,
                "pvs_impressions": False,
                "impressions_received_at": None,
            },
            "created_at": rfc3339(opened.occurred_at),
            "submitted_at": rfc3339(stream[1].occurred_at),
            "main_photo_document_id": photo.payload["document_id"],
        }, permutation


async def test_records_missing_then_completed_moves_through_awaiting_records(cases: Cases) -> None:
    order = new_order()
    async with Tap(cases.vhost_url, "case.status_changed.#") as tap:
        await cases.apply(draft_created(cases, order), submitted(cases, order))
        async with cases.doctor(order.doctor_id) as doctor:  # submitted, its records check due: nothing to do
            pending = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert pending["case"]["status"] == "incomplete_submission" and pending["action_required"] == []
        assert pending["case"]["allowed_actions"] == ["cancel"] and pending["case"]["records"]["complete"] is None
        await cases.apply(records_checked(cases, order, MISSING))
        waiting = await final_case(cases, order.doctor_id, order.case_id)
        assert waiting["status"] == "awaiting_records" and waiting["records"]["missing"] == MISSING
        async with cases.doctor(order.doctor_id) as doctor:
            page = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert page["action_required"] == [{"kind": "upload_records", "order_id": order.order_id, "missing": MISSING}]
        late = records_checked(cases, order, MISSING)
        await cases.apply(records_completed(cases, order))
        stale = late.model_copy(update={"aggregate_version": 1})
        await cases.apply(stale)  # an older answer arriving late does not bring the missing slots back
        assert (await final_case(cases, order.doctor_id, order.case_id))["status"] == "setup_in_progress"
        changes = await tap.wait("case.status_changed", 3)
    assert [(e.payload["previous_status"], e.payload["status"]) for e in changes] == [
        (None, "incomplete_submission"),
        ("incomplete_submission", "awaiting_records"),
        ("awaiting_records", "setup_in_progress"),
    ]
    assert changes[1].payload["slots"] == MISSING and changes[1].payload["order_number"] == order.order_number


async def test_pvs_impressions_wait_for_their_box_and_the_photos(cases: Cases) -> None:
    order = new_order()
    photos_only = [slot for slot in records_checked(cases, order, []).payload["required"] if slot.startswith("photo.")]
    await cases.apply(
        draft_created(cases, order), submitted(cases, order, scans="pvs_impressions", required=photos_only)
    )
    assert (await final_case(cases, order.doctor_id, order.case_id))["status"] == "awaiting_records"  # at once
    async with cases.doctor(order.doctor_id) as doctor:
        page = await ok(await doctor.get(f"/cases/{order.case_id}"))
    assert page["action_required"] == [  # every photo, while the documents service has not answered
        {"kind": "upload_records", "order_id": order.order_id, "missing": photos_only},
        {"kind": "mail_impressions", "order_id": order.order_id},
    ]
    await cases.apply(records_checked(cases, order, MISSING, required=photos_only))
    async with cases.staff() as lab, cases.doctor(order.doctor_id) as doctor:
        page = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert [action["kind"] for action in page["action_required"]] == ["upload_records", "mail_impressions"]
        box = await ok(await lab.post(f"/staff/cases/{order.case_id}/impressions-received"))
        assert box["status"] == "awaiting_records" and box["records"]["impressions_received_at"] is not None
        twice = await lab.post(f"/staff/cases/{order.case_id}/impressions-received")
        assert twice.status_code == 409 and "already arrived" in twice.json()["detail"]
        await cases.apply(records_completed(cases, order))
        assert (await final_case(cases, order.doctor_id, order.case_id))["status"] == "setup_in_progress"

        digital = new_order()
        await cases.apply(
            draft_created(cases, digital), submitted(cases, digital), records_checked(cases, digital, MISSING)
        )
        refused = await lab.post(f"/staff/cases/{digital.case_id}/impressions-received")
        assert refused.status_code == 409 and "digital scans" in refused.json()["detail"]


async def test_a_deleted_draft_cancels_its_case_even_before_the_draft_event(cases: Cases) -> None:
    order = new_order()
    created, gone = draft_created(cases, order), deleted(cases, order)
    await cases.apply(gone, created)
    case = await final_case(cases, order.doctor_id, order.case_id)
    assert case["status"] == "cancelled" and case["order_number"] == order.order_number
    modification = new_order(order.doctor_id, kind="modification")
    modification.case_id = order.case_id
    await cases.apply(draft_created(cases, modification), deleted(cases, modification))
    assert (await final_case(cases, order.doctor_id, order.case_id))["status"] == "cancelled"


async def test_a_modification_after_the_last_phase_goes_back_to_a_setup(cases: Cases) -> None:
    order = new_order()
    await cases.apply(
        draft_created(cases, order), submitted(cases, order, scans=None, source="pvs_impressions", required=[])
    )
    async with cases.staff() as lab, cases.doctor(order.doctor_id) as doctor:
        await ok(await lab.post(f"/staff/cases/{order.case_id}/impressions-received"))
        await ship_phase_one(cases, order, "MINI")
        await ok(await lab.post(f"/staff/cases/{order.case_id}/phases/1/deliver", json={"final": True}))
        modification = new_order(order.doctor_id, kind="modification", patient_id=order.patient_id)
        modification.case_id = order.case_id
        scans = ["scan.upper", "scan.lower"]
        await cases.apply(
            draft_created(cases, modification),
            submitted(cases, modification, scans=None, source="new_scans", required=scans),
        )
        assert (await final_case(cases, order.doctor_id, order.case_id))[
            "status"
        ] == "last_phase_delivered"  # check due
        await cases.apply(records_checked(cases, modification, [], required=scans))
        case = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert case["case"]["status"] == "setup_in_progress" and case["case"]["order_number"] == order.order_number
        assert [e["kind"] for e in case["history"]][-3:] == ["modification_submitted", "records_checked", "modify"]
        await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/setups",
                json={"technician_comment": "refinement", "steps_upper": 6, "steps_lower": 0},
            ),
            201,
        )
        again = await ok(await doctor.post(f"/cases/{order.case_id}/setups/2/approve", json={"package": "ONE"}))
        assert again["status"] == "in_production" and again["expires_at"] is not None  # now a year from phase 1
        await ok(
            await lab.post(f"/staff/cases/{order.case_id}/phases", json={"number": 2, "steps_from": 1, "steps_to": 6}),
            201,
        )


async def test_events_travel_through_the_broker_to_the_service(cases: Cases) -> None:
    order = new_order()
    opened = draft_created(cases, order)  # drafted before it was submitted, but published after
    stream = [submitted(cases, order), opened, records_checked(cases, order, [])]
    await publish(cases.vhost_url, *stream, stream[0])
    deadline = time.monotonic() + 20
    async with cases.doctor(order.doctor_id) as doctor:
        while True:
            answer = await doctor.get(f"/cases/{order.case_id}")
            if answer.status_code == 200 and answer.json()["case"]["status"] == "setup_in_progress":
                break
            assert time.monotonic() < deadline, answer.text
            await asyncio.sleep(0.1)
        history = answer.json()["history"]
    assert history[0]["kind"] == "open"  # the rest by when each happened, whatever order they arrived in
    assert sorted(entry["kind"] for entry in history) == ["open", "order_submitted", "records_checked", "submit"]


async def test_an_order_and_its_records_answer_decided_at_the_same_moment_still_move_the_case(
    cases: Cases, database_url: str
) -> None:
    """The two handlers of one case (on two queues) both read it before either commits: PostgreSQL only, where the
    test holds every history insert back until both have read (SQLite runs one writing transaction at a time)."""
    if is_sqlite(database_url):
        pytest.skip("SQLite serialises writing transactions: the two handlers cannot overlap")
    order = new_order()
    await cases.apply(draft_created(cases, order))
    engine = create_engine(database_url)
    try:
        async with engine.connect() as holder:
            await holder.execute(sa.text("BEGIN"))
            await holder.execute(sa.text("LOCK TABLE case_history IN EXCLUSIVE MODE"))
            both = asyncio.gather(cases.apply(submitted(cases, order)), cases.apply(records_checked(cases, order, [])))
            await asyncio.sleep(0.5)  # both handlers are now inside their transactions
            await holder.execute(sa.text("COMMIT"))
            await both
    finally:
        await engine.dispose()
    assert (await final_case(cases, order.doctor_id, order.case_id))["status"] == "setup_in_progress"


async def test_a_renamed_patient_is_renamed_on_every_case_and_an_older_name_comes_too_late(cases: Cases) -> None:
    first = new_order()
    second = new_order(first.doctor_id, patient_id=first.patient_id)
    for order in (first, second):
        await cases.apply(draft_created(cases, order), submitted(cases, order))
    renamed, older = (
        envelope_of(
            PatientUpdated(
                patient_id=first.patient_id,
                doctor_id=first.doctor_id,
                first_name=name,
                last_name="Núñez",
                date_of_birth="2011-05-17",
                sex="female",
            ),
            source="orders",
            subject=first.patient_id,
            version=version,
        )
        for name, version in (("Inès", 3), ("Ines-old", 2))
    )
    assert await cases.apply(renamed, older) == ["applied", "stale"]
    for order in (first, second):
        case = await final_case(cases, order.doctor_id, order.case_id)
        assert case["patient"] == {"id": first.patient_id, "first_name": "Inès", "last_name": "Núñez"}
    async with cases.doctor(first.doctor_id) as doctor:
        found = await ok(await doctor.get("/cases", params={"q": "ines nunez"}))
    assert {item["id"] for item in found["items"]} == {first.case_id, second.case_id}
    late = new_order(first.doctor_id, patient_id=first.patient_id)  # submitted after the rename, with the old name
    await cases.apply(draft_created(cases, late), submitted(cases, late))
    assert (await final_case(cases, late.doctor_id, late.case_id))["patient"]["first_name"] == "Inès"
