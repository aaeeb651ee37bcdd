"""Modification orders over HTTP: on a submitted case only, submitted once the cases service announces the case in
production (``case.status_changed`` published onto the broker as it would) with their record needs, refused once it
announces the case cancelled."""

from __future__ import annotations

import asyncio
import time
import uuid

from services.orders.tests.conftest import Orders, complete_aligner, problem_fields, publish_case_status
from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS
from tests.harness.events import Tap


async def submitted_case(orders: Orders, doctor, **overrides) -> dict:  # type: ignore[no-untyped-def]
    """A submitted aligner order of ``doctor`` (PVS impressions unless overridden)."""
    body = complete_aligner(records={"scans": "pvs_impressions"}, **overrides)
    draft = (await doctor.post("/orders", json=body)).json()
    answer = await doctor.post(f"/orders/{draft['id']}/submit")
    assert answer.status_code == 202, answer.text
    return answer.json()["order"]


async def submit_when_accepted(doctor, order_id: str):  # type: ignore[no-untyped-def]
    """Submit ``order_id`` again and again until the answer is not 409 (the case status is still travelling), at most
    20 s; returns the last answer."""
    deadline = time.monotonic() + 20
    while True:
        answer = await doctor.post(f"/orders/{order_id}/submit")
        if answer.status_code != 409 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


async def test_modification_draft_completed_and_submitted(orders: Orders) -> None:
    doctor_id = uuid.uuid4()
    async with Tap(orders.vhost_url, "order.#") as tap, orders.client(orders.token(doctor_id=doctor_id)) as doctor:
        original = await submitted_case(orders, doctor)
        case_id = original["case_id"]
        created = await doctor.post(f"/cases/{case_id}/modifications", json={"reason": "relapse of 31"})
        assert created.status_code == 201, created.text
        draft = created.json()
        assert draft["kind"] == "modification" and draft["status"] == "draft" and draft["case_id"] == case_id
        assert draft["order_number"] != original["order_number"]
        assert draft["patient_id"] == original["patient_id"] and draft["patient"] == original["patient"]
        assert draft["reason"] == "relapse of 31" and draft["source"] is None
        assert draft["incomplete_sections"] == ["modification"]

        early = await doctor.post(f"/orders/{draft['id']}/submit")
        assert early.status_code == 409 and early.json()["case_status"] is None, early.text  # not in production yet
        owner = str(doctor_id)
        await publish_case_status(orders.vhost_url, case_id, owner, "setup_in_progress", "incomplete_submission", 2)
        await asyncio.sleep(0.5)
        refused = await doctor.post(f"/orders/{draft['id']}/submit")
        assert refused.status_code == 409 and refused.json()["case_status"] == "setup_in_progress", refused.text
        await publish_case_status(orders.vhost_url, case_id, owner, "in_production", "setup_approval_pending", 5)
        assert (await submit_when_accepted(doctor, draft["id"])).status_code == 422

        step = await doctor.patch(f"/orders/{draft['id']}", json={"source": "existing_step", "instructions": "x"})
        assert problem_fields(await doctor.post(f"/orders/{draft['id']}/submit")) == ["step"]
        assert step.json()["incomplete_sections"] == ["modification"]
        assert problem_fields(await doctor.patch(f"/orders/{draft['id']}", json={"patient_id": None})) == ["patient_id"]
        await doctor.patch(f"/orders/{draft['id']}", json={"source": "new_scans"})
        submitted = await doctor.post(f"/orders/{draft['id']}/submit")
        assert submitted.status_code == 202, submitted.text
        assert submitted.json()["case_id"] == case_id

        other = (await doctor.post(f"/cases/{case_id}/modifications", json={})).json()
        assert (await doctor.delete(f"/orders/{other['id']}")).status_code == 204
        listed = (await doctor.get("/orders", params={"case_id": case_id})).json()
        assert sorted(item["kind"] for item in listed["items"]) == ["aligner", "modification"]

        events = await tap.wait("order.submitted", 2)
        [opened_modification] = [
            e for e in await tap.wait("order.draft_created", 3) if e.payload["order_id"] == draft["id"]
        ]
        [deleted] = await tap.wait("order.deleted")
    assert opened_modification.payload["opens_case"] is False and opened_modification.aggregate_version == 3
    modification = events[1]
    assert modification.subject == case_id and modification.aggregate_version == 4
    assert modification.payload["kind"] == "modification" and modification.payload["source"] == "new_scans"
    assert modification.payload["required_slots"] == list(SCAN_SLOTS)
    assert modification.payload["arches"] == "both" and modification.payload["practice_id"] == "practice-1"
    assert modification.payload["patient"]["id"] == original["patient_id"]
    assert events[0].payload["required_slots"] == list(PHOTO_SLOTS)  # PVS impressions: no scan files
    assert deleted.payload["cancels_case"] is False and deleted.aggregate_version == 6


async def test_modification_needs_a_submitted_case_of_the_doctor(orders: Orders) -> None:
    async with orders.doctor() as doctor:
        draft = (await doctor.post("/orders", json={"kind": "aligner"})).json()
        assert (await doctor.post(f"/cases/{draft['case_id']}/modifications", json={})).status_code == 404
        assert (await doctor.post("/cases/no-such-case/modifications", json={})).status_code == 404
        original = await submitted_case(orders, doctor)
        path = f"/cases/{original['case_id']}/modifications"
        assert problem_fields(await doctor.post(path, json={"reason": "x", "arches": "upper"})) == ["arches"]
        key = {"Idempotency-Key": "modification-1"}
        first = await doctor.post(path, json={"reason": "x"}, headers=key)
        again = await doctor.post(path, json={"reason": "x"}, headers=key)
        assert first.status_code == again.status_code == 201 and again.json() == first.json()
        assert problem_fields(await doctor.post(path, json={"reason": "y"}, headers=key)) == ["Idempotency-Key"]
        modifications = await doctor.get("/orders", params={"case_id": original["case_id"], "kind": "modification"})
        assert [item["id"] for item in modifications.json()["items"]] == [first.json()["id"]]


async def test_cancelled_case_refuses_modifications(orders: Orders) -> None:
    doctor_id = uuid.uuid4()
    async with orders.client(orders.token(doctor_id=doctor_id)) as doctor:
        original = await submitted_case(orders, doctor)
        case_id, owner = original["case_id"], str(doctor_id)
        body = {"reason": "r", "source": "new_scans", "instructions": "i"}
        pending = (await doctor.post(f"/cases/{case_id}/modifications", json=body)).json()
        await publish_case_status(orders.vhost_url, case_id, owner, "in_production", "setup_approval_pending", 5)
        await publish_case_status(orders.vhost_url, case_id, owner, "cancelled", "in_production", 7)
        await publish_case_status(orders.vhost_url, case_id, owner, "in_production", "on_hold", 6)  # stale: ignored
        deadline = time.monotonic() + 20
        while True:
            answer = await doctor.post(f"/cases/{case_id}/modifications", json={"reason": "again"})
            if answer.status_code == 409 or time.monotonic() > deadline:
                break
            await doctor.delete(f"/orders/{answer.json()['id']}")
            await asyncio.sleep(0.1)
        assert answer.status_code == 409, answer.text
        assert answer.json()["case_status"] == "cancelled"
        await asyncio.sleep(0.5)  # the stale in_production event has been handled (and skipped) by now
        assert (await doctor.post(f"/cases/{case_id}/modifications", json={})).status_code == 409
        refused = await doctor.post(f"/orders/{pending['id']}/submit")
        assert refused.status_code == 409 and refused.json()["case_status"] == "cancelled"
