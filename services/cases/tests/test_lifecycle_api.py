"""A case from its order to its last phase, over the service's HTTP API with the events it consumes applied by its own
handlers, on SQLite and PostgreSQL; the events it publishes are read off the real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.cases.tests.conftest import Cases, new_order, ok, ship_phase_one, submitted_case
from shared.internal_token import Principal
from tests.harness.events import Tap


async def test_the_lab_and_the_doctor_take_a_case_to_its_last_phase(cases: Cases) -> None:
    order = new_order()
    async with (
        Tap(cases.vhost_url, "case.#", "setup.#", "phase.#") as tap,
        cases.doctor(order.doctor_id) as doctor,
        cases.staff() as lab,
    ):
        await submitted_case(cases, order)
        page = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert page["case"]["status"] == "setup_in_progress" and page["action_required"] == []
        assert page["case"]["order_number"] == order.order_number
        assert page["case"]["patient"] == {"id": order.patient_id, "first_name": "Zoë", "last_name": "Lefèvre"}

        first = await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/setups",
                json={"technician_comment": "IPR 0.2 mm at 31/41", "steps_upper": 18, "steps_lower": 14},
            ),
            201,
        )
        assert (first["version"], first["state"]) == (1, "pending")
        page = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert page["case"]["status"] == "setup_approval_pending"
        assert page["case"]["setup"]["version"] == 1 and page["case"]["setup"]["state"] == "pending"
        [review] = page["action_required"]
        assert review["kind"] == "review_setup" and review["technician_comment"] == "IPR 0.2 mm at 31/41"
        assert review["patient_link"] is None  # the doctor may show the setup to the patient before deciding
        await ok(await doctor.post(f"/cases/{order.case_id}/patient-link", json={"password": "tooth-fairy"}), 201)
        [review] = (await ok(await doctor.get(f"/cases/{order.case_id}")))["action_required"]
        assert review["patient_link"]["password_protected"] is True and review["patient_link"]["views"] == 0
        # the history apart, as the gateway asks for it
        history = (await ok(await doctor.get(f"/cases/{order.case_id}/history")))["items"]
        assert history == page["history"] and history[-1]["kind"] == "publish_setup"
        assert (await ok(await lab.get(f"/staff/cases/{order.case_id}/history")))["items"] == history
        assert "history" not in await ok(await doctor.get(f"/cases/{order.case_id}", params={"history": "false"}))
        async with cases.doctor() as stranger:
            assert (await stranger.get(f"/cases/{order.case_id}/history")).status_code == 404

        refused = await doctor.post(f"/cases/{order.case_id}/setups/1/reject", json={})
        assert refused.status_code == 422
        rejected = await ok(
            await doctor.post(f"/cases/{order.case_id}/setups/1/reject", json={"reason": "more expansion upper"})
        )
        assert rejected["status"] == "setup_in_progress" and rejected["setup"]["state"] == "rejected"

        await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/setups",
                json={"technician_comment": "expanded", "steps_upper": 20, "steps_lower": 14},
            ),
            201,
        )
        stale = await doctor.post(f"/cases/{order.case_id}/setups/1/approve", json={"package": "ONE"})
        assert stale.status_code == 409 and "v2 is awaiting" in stale.json()["detail"]
        approved = await ok(await doctor.post(f"/cases/{order.case_id}/setups/2/approve", json={"package": "ONE"}))
        assert approved["status"] == "in_production" and approved["package"] == "ONE"

        await ok(
            await lab.post(f"/staff/cases/{order.case_id}/phases", json={"number": 1, "steps_from": 1, "steps_to": 10}),
            201,
        )
        shipped = await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/phases/1/ship", json={"carrier": "DHL", "tracking_number": "JD0146 0001"}
            )
        )
        assert shipped["status"] == "shipped"
        ships_on = datetime.now(UTC).date()
        expires = datetime.fromisoformat(shipped["expires_at"])
        assert expires.date() == ships_on.replace(year=ships_on.year + 1) and shipped["expiry_level"] == "normal"
        await ok(await lab.post(f"/staff/cases/{order.case_id}/phases/1/deliver", json={"final": False}))
        again = await lab.post(
            f"/staff/cases/{order.case_id}/phases", json={"number": 2, "steps_from": 5, "steps_to": 12}
        )
        assert again.status_code == 422 and again.json()["errors"][0]["field"] == "steps_from"  # 1-10 are made
        await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/phases", json={"number": 2, "steps_from": 11, "steps_to": 20}
            ),
            201,
        )
        await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/phases/2/ship", json={"carrier": "DHL", "tracking_number": "JD0146 0002"}
            )
        )
        done = await ok(await lab.post(f"/staff/cases/{order.case_id}/phases/2/deliver", json={"final": True}))
        assert done["status"] == "last_phase_delivered" and [p["state"] for p in done["phases"]] == ["delivered"] * 2

        history = (await ok(await doctor.get(f"/cases/{order.case_id}")))["history"]
        kinds = [entry["kind"] for entry in history]
        assert kinds == [
            "open", "order_submitted", "records_checked", "submit", "publish_setup", "reject_setup", "publish_setup",
            "approve_setup", "start_phase", "ship_phase", "deliver_phase", "start_phase", "ship_phase", "deliver_phase",
        ]  # fmt: skip
        assert [e["status_to"] for e in history if e["status_to"]] == [
            "incomplete_submission", "setup_in_progress", "setup_approval_pending", "setup_in_progress",
            "setup_approval_pending", "in_production", "shipped", "in_production", "shipped", "last_phase_delivered",
        ]  # fmt: skip
        rejection = history[kinds.index("reject_setup")]
        assert rejection["reason"] == "more expansion upper" and rejection["actor"] == "doctor"

        changes = await tap.wait("case.status_changed", 10)
        assert [e.payload["status"] for e in changes][-1] == "last_phase_delivered"
        versions = [e.aggregate_version for e in tap.envelopes]
        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        [ship_one, ship_two] = await tap.wait("phase.shipped", 2)
        assert ship_one.payload["expires_at"] is not None and ship_one.payload["tracking_number"] == "JD0146 0001"
        assert [e.payload["version"] for e in await tap.wait("setup.published", 2)] == [1, 2]
        [approval] = await tap.wait("setup.approved")
        assert approval.payload["package"] == "ONE" and approval.payload["order_number"] == order.order_number


async def test_hold_resume_and_cancel_say_why_and_go_back_where_they_were(cases: Cases) -> None:
    order = new_order()
    async with cases.doctor(order.doctor_id) as doctor, cases.staff() as lab:
        await submitted_case(cases, order)
        shipped = await ship_phase_one(cases, order, "FLEX")
        assert shipped["expires_at"] is None and shipped["expiry_level"] is None  # FLEX never expires
        assert (await doctor.post(f"/cases/{order.case_id}/hold", json={})).status_code == 422
        held = await ok(await doctor.post(f"/cases/{order.case_id}/hold", json={"reason": "patient travelling"}))
        assert held["status"] == "on_hold" and held["held_from"] == "shipped"
        again = await doctor.post(f"/cases/{order.case_id}/hold", json={"reason": "twice"})
        assert again.status_code == 409 and again.json()["case_status"] == "on_hold"
        assert again.json()["allowed_actions"] == ["resume"]  # what the doctor may ask for; the lab may deliver too
        final = await lab.post(f"/staff/cases/{order.case_id}/phases/1/deliver", json={"final": True})
        assert final.status_code == 409 and final.json()["allowed_actions"] == ["deliver_phase", "resume"]
        assert final.json()["detail"] == "deliver_phase from on_hold cannot make the case last_phase_delivered"
        resumed = await ok(await lab.post(f"/cases/{order.case_id}/resume"))
        assert resumed["status"] == "shipped" and resumed["held_from"] is None
        late = await doctor.post(f"/cases/{order.case_id}/cancel", json={"reason": "too late"})
        assert late.status_code == 409 and "cancel" not in late.json()["allowed_actions"]

        other = new_order(order.doctor_id)
        await submitted_case(cases, other)
        setup = {"technician_comment": "c", "steps_upper": 3, "steps_lower": 0}
        await ok(await lab.post(f"/staff/cases/{other.case_id}/setups", json=setup), 201)
        link = await ok(await doctor.post(f"/cases/{other.case_id}/patient-link", json={}), 201)
        cancelled = await ok(await doctor.post(f"/cases/{other.case_id}/cancel", json={"reason": "patient moved away"}))
        assert cancelled["status"] == "cancelled" and cancelled["bucket"] == "archive"
        assert cancelled["setup"]["state"] == "withdrawn" and cancelled["patient_link"] is None
        assert (await ok(await doctor.get(f"/cases/{other.case_id}/setups")))["items"][0]["state"] == "withdrawn"
        assert (await doctor.post(f"/cases/{other.case_id}/patient-link", json={})).status_code == 409
        async with cases.client(Principal(uuid.UUID(int=0), "patient", None)) as visitor:
            assert (await visitor.get(f"/patient-links/{link['token']}")).status_code == 404
        history = (await ok(await doctor.get(f"/cases/{other.case_id}")))["history"]
        assert history[-1]["kind"] == "cancel" and history[-1]["reason"] == "patient moved away"


async def test_a_records_problem_is_resolved_by_sending_its_slots_again_or_by_an_answer(cases: Cases) -> None:
    from services.cases.tests.conftest import uploaded

    order = new_order()
    async with cases.doctor(order.doctor_id) as doctor, cases.staff() as lab:
        await submitted_case(cases, order)
        problem = {"reason": "face photos blurred", "slots": ["photo.face_frontal", "photo.face_smiling"]}
        raised = await ok(await lab.post(f"/staff/cases/{order.case_id}/records-problem", json=problem))
        assert raised["status"] == "submission_problem" and raised["records_problem"]["slots"] == problem["slots"]
        page = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert page["action_required"] == [
            {"kind": "answer_records_problem", "reason": "face photos blurred", "slots": problem["slots"]}
        ]
        await cases.apply(
            uploaded(order, "photo.face_frontal"),
            uploaded(order, "photo.face_frontal", uploaded_at=datetime.now(UTC) - timedelta(days=1)),
        )
        assert (await ok(await doctor.get(f"/cases/{order.case_id}")))["case"]["status"] == "submission_problem"
        await cases.apply(uploaded(order, "photo.face_smiling"))
        page = await ok(await doctor.get(f"/cases/{order.case_id}"))
        assert page["case"]["status"] == "setup_in_progress" and page["case"]["records_problem"] is None
        assert [e["kind"] for e in page["history"]][-3:] == [
            "records_received",
            "records_received",
            "resolve_records_problem",
        ]

        await ok(
            await lab.post(
                f"/staff/cases/{order.case_id}/records-problem", json={"reason": "which arch is to be treated?"}
            )
        )
        answered = await ok(
            await doctor.post(f"/cases/{order.case_id}/records-problem/answer", json={"answer": "both arches"})
        )
        assert answered["status"] == "setup_in_progress"
