"""A case shared with a collaborator (DOMAIN.md "Collaborator status"): the collaborator evaluates the setup and marks
it ready, or rejects it; only the treating doctor approves; each step is announced. Over HTTP, SQLite and
PostgreSQL."""

from __future__ import annotations

import uuid

from services.cases.tests.conftest import Cases, new_order, ok, submitted_case
from shared.internal_token import Collaboration
from tests.harness.events import Tap

SETUP = {"technician_comment": "distalise 26/27", "steps_upper": 24, "steps_lower": 20}


async def test_a_collaborator_evaluates_and_marks_ready_but_only_the_doctor_approves(cases: Cases) -> None:
    order = new_order(collaborator_ids=["collab-1"])
    colleague = Collaboration("collab-1", order.doctor_id, ("view", "evaluate_setups"))
    onlooker = Collaboration("collab-1", order.doctor_id, ("view",))
    stranger = Collaboration("collab-9", order.doctor_id, ("view", "evaluate_setups"))
    case = order.case_id
    async with (
        Tap(cases.vhost_url, "case.collaborator_status_changed.#", "setup.rejected.#") as tap,
        cases.doctor(order.doctor_id) as doctor,
        cases.doctor(None, colleague) as collaborator,
        cases.doctor(None, onlooker) as viewer,
        cases.doctor(None, stranger) as outsider,
        cases.staff() as lab,
    ):
        await submitted_case(cases, order)
        assert (await ok(await collaborator.get(f"/cases/{case}")))["case"]["collaborator_status"] is None
        palette = await ok(await doctor.get("/labels"))
        await ok(await doctor.put(f"/cases/{case}/label", json={"label_id": palette[0]["id"]}))
        await ok(await doctor.put(f"/cases/{case}/comment", json={"text": "private: patient anxious"}))
        seen = (await ok(await viewer.get(f"/cases/{case}")))["case"]
        assert (seen["label"], seen["comment"], seen["patient_link"]) == (None, None, None)  # the doctor's own notes
        assert (await ok(await viewer.get("/cases", params={"label_id": palette[0]["id"]})))["total"] == 0
        assert (await ok(await viewer.get("/cases")))["items"][0]["comment"] is None
        assert (await ok(await doctor.get(f"/cases/{case}")))["case"]["label"]["id"] == palette[0]["id"]
        assert (await outsider.get(f"/cases/{case}")).status_code == 404
        await ok(await lab.post(f"/staff/cases/{case}/setups", json=SETUP), 201)
        page = await ok(await collaborator.get(f"/cases/{case}"))
        assert page["case"]["collaborator_status"] == "setup_pending"
        assert [action["kind"] for action in page["action_required"]] == ["evaluate_setup"]
        assert page["case"]["allowed_actions"] == []

        assert (await viewer.post(f"/cases/{case}/setups/1/evaluate")).status_code == 403  # no evaluate permission
        assert (await ok(await viewer.get(f"/cases/{case}")))["action_required"] == []
        assert (await collaborator.post(f"/cases/{case}/setups/1/approve", json={"package": "ONE"})).status_code == 403
        for path in ("hold", "cancel"):
            assert (await collaborator.post(f"/cases/{case}/{path}", json={"reason": "x"})).status_code == 403
        assert (await collaborator.put(f"/cases/{case}/comment", json={"text": "mine"})).status_code == 403
        assert (await doctor.post(f"/cases/{case}/setups/1/ready")).status_code == 403  # the collaborator's to mark

        opened = await ok(await collaborator.post(f"/cases/{case}/setups/1/evaluate"))
        assert opened["collaborator_status"] == "setup_evaluation" and opened["status"] == "setup_approval_pending"
        assert (await ok(await collaborator.post(f"/cases/{case}/setups/1/evaluate")))[
            "collaborator_status"
        ] == "setup_evaluation"
        ready = await ok(await collaborator.post(f"/cases/{case}/setups/1/ready"))
        assert ready["collaborator_status"] == "ready_for_approval"
        twice = await collaborator.post(f"/cases/{case}/setups/1/reject", json={"reason": "changed my mind"})
        assert twice.status_code == 409 and "already marked ready" in twice.json()["detail"]

        approved = await ok(await doctor.post(f"/cases/{case}/setups/1/approve", json={"package": "TWO"}))
        assert approved["collaborator_status"] == "approved" and approved["status"] == "in_production"
        changes = await tap.wait("case.collaborator_status_changed", 4)
    assert [e.payload["collaborator_status"] for e in changes] == [
        "setup_pending",
        "setup_evaluation",
        "ready_for_approval",
        "approved",
    ]
    assert changes[2].payload["collaborator_id"] == "collab-1" and changes[2].payload["setup_version"] == 1


async def test_a_collaborators_reject_sends_the_setup_back_to_pending_until_a_new_version(cases: Cases) -> None:
    order = new_order(collaborator_ids=["collab-2"])
    colleague = Collaboration("collab-2", order.doctor_id, ("view", "evaluate_setups"))
    case = order.case_id
    async with (
        cases.doctor(order.doctor_id) as doctor,
        cases.doctor(str(uuid.uuid4()), colleague) as collaborator,
        cases.staff() as lab,
    ):
        await submitted_case(cases, order)
        await ok(await lab.post(f"/staff/cases/{case}/setups", json=SETUP), 201)
        await ok(await collaborator.post(f"/cases/{case}/setups/1/evaluate"))
        rejected = await ok(
            await collaborator.post(f"/cases/{case}/setups/1/reject", json={"reason": "molar intrusion"})
        )
        assert rejected["collaborator_status"] == "setup_pending" and rejected["status"] == "setup_approval_pending"
        assert (await collaborator.post(f"/cases/{case}/setups/1/ready")).status_code == 409
        setups = (await ok(await doctor.get(f"/cases/{case}/setups")))["items"]
        assert (setups[0]["collaborator_verdict"], setups[0]["collaborator_reason"]) == ("rejected", "molar intrusion")
        await ok(await doctor.post(f"/cases/{case}/setups/1/reject", json={"reason": "as my colleague says"}))
        await ok(await lab.post(f"/staff/cases/{case}/setups", json=SETUP), 201)
        ready = await ok(await collaborator.post(f"/cases/{case}/setups/2/ready"))
        assert ready["collaborator_status"] == "ready_for_approval" and ready["setup"]["version"] == 2
        history = (await ok(await doctor.get(f"/cases/{case}")))["history"]
        kinds = [entry["kind"] for entry in history]
        assert "collaborator_reject" in kinds and kinds[-1] == "collaborator_ready"
        assert history[kinds.index("collaborator_reject")]["actor"] == "collaborator"


async def test_an_unshared_case_has_no_collaborator_status(cases: Cases) -> None:
    order = new_order()
    async with cases.doctor(order.doctor_id) as doctor, cases.staff() as lab:
        await submitted_case(cases, order)
        await ok(await lab.post(f"/staff/cases/{order.case_id}/setups", json=SETUP), 201)
        assert (await ok(await doctor.get(f"/cases/{order.case_id}")))["case"]["collaborator_status"] is None
        approved = await ok(await doctor.post(f"/cases/{order.case_id}/setups/1/approve", json={"package": "ONE"}))
        assert approved["collaborator_status"] is None
