"""Order drafts over HTTP: saved with one field, completed in three PATCHes, submitted; deep merge; delete; the
events on the real broker."""

from __future__ import annotations

import re
import uuid

from services.orders.tests.conftest import Orders, complete_aligner, complete_retainer, new_patient, problem_fields
from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS
from tests.harness.events import Tap

ALIGNER_SECTIONS = ["general", "records", "treatment_approach", "terms"]
"""The sections an empty aligner draft misses (``additional`` has no required field)."""


async def test_draft_with_one_field_completed_in_three_patches_then_submitted(orders: Orders) -> None:
    full = complete_aligner()
    async with Tap(orders.vhost_url, "order.#") as tap, orders.doctor() as doctor:
        created = await doctor.post("/orders", json={"kind": "aligner", "general": {"arches": "upper"}})
        assert created.status_code == 201, created.text
        draft = created.json()
        assert draft["status"] == "draft" and draft["kind"] == "aligner"
        assert re.fullmatch(r"DP-\d{4}-\d{6}", draft["order_number"])
        uuid.UUID(draft["case_id"])
        assert draft["general"] == {"arches": "upper"}
        assert draft["patient"] is None and draft["patient_id"] is None
        assert draft["incomplete_sections"] == ALIGNER_SECTIONS
        order_id = draft["id"]

        first = await doctor.patch(f"/orders/{order_id}", json={"patient": full["patient"], "general": full["general"]})
        assert first.status_code == 200, first.text
        assert first.json()["general"]["arches"] == "both"
        assert first.json()["incomplete_sections"] == ["records", "treatment_approach", "terms"]
        second = await doctor.patch(f"/orders/{order_id}", json={"records": full["records"]})
        assert second.json()["incomplete_sections"] == ["treatment_approach", "terms"]
        third = await doctor.patch(
            f"/orders/{order_id}",
            json={key: full[key] for key in ("treatment_approach", "additional", "terms_accepted")},
        )
        assert third.json()["incomplete_sections"] == []
        resumed = await doctor.get(f"/orders/{order_id}")
        assert resumed.json() == third.json()

        submitted = await doctor.post(f"/orders/{order_id}/submit")
        assert submitted.status_code == 202, submitted.text
        answer = submitted.json()
        assert answer["case_id"] == draft["case_id"] and answer["case_status"] == "incomplete_submission"
        order = answer["order"]
        assert order["status"] == "submitted" and order["submitted_at"]
        assert order["patient"]["id"] == order["patient_id"] and order["patient"]["first_name"] == "Zoë"
        patient = await doctor.get(f"/patients/{order['patient_id']}")
        assert patient.status_code == 200 and patient.json()["last_name"] == "Lefèvre"

        again = await doctor.post(f"/orders/{order_id}/submit")
        assert again.status_code == 409 and again.json()["order_status"] == "submitted"
        assert (await doctor.patch(f"/orders/{order_id}", json={"terms_accepted": False})).status_code == 409
        assert (await doctor.delete(f"/orders/{order_id}")).status_code == 409
        assert (await doctor.get(f"/orders/{order_id}")).json()["terms_accepted"] is True

        [opened] = await tap.wait("order.draft_created")
        [done] = await tap.wait("order.submitted")
    assert opened.subject == draft["case_id"] and opened.aggregate_version == 1
    assert opened.routing_key == "order.draft_created.v1"
    assert opened.payload["order_id"] == order_id and opened.payload["kind"] == "aligner"
    assert opened.payload["order_number"] == draft["order_number"] and opened.payload["opens_case"] is True
    assert opened.payload["patient"] is None
    assert done.subject == draft["case_id"] and done.aggregate_version == 2
    assert done.payload["patient"] == {"id": order["patient_id"], "first_name": "Zoë", "last_name": "Lefèvre"}
    assert done.payload["arches"] == "both" and done.payload["scans"] == "digital"
    assert done.payload["practice_id"] == "practice-1"
    assert done.payload["required_slots"] == [*PHOTO_SLOTS, *SCAN_SLOTS]
    assert done.payload["doctor_id"] == opened.payload["doctor_id"]


async def test_submit_lists_every_problem_at_once(orders: Orders) -> None:
    body = complete_aligner(terms_accepted=False, patient=new_patient(date_of_birth="2999-01-01"))
    body["general"]["duration"] = {"mode": "limit", "max_steps": 101}
    body["records"] = {"scans": "digital"}
    body["treatment_approach"].update(extractions=[14, 19, 36, 14], teeth_not_to_move=[36, 50], midline="left")
    async with orders.doctor() as doctor:
        created = await doctor.post("/orders", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["incomplete_sections"] == ["general", "records", "treatment_approach", "terms"]
        refused = await doctor.post(f"/orders/{created.json()['id']}/submit")
        assert problem_fields(refused) == [
            "general.patient.date_of_birth",
            "general.duration.max_steps",
            "records.scanner",
            "treatment_approach.midline",
            "treatment_approach.extractions[1]",
            "treatment_approach.extractions[3]",
            "treatment_approach.teeth_not_to_move[1]",
            "treatment_approach.extractions[2]",
            "terms_accepted",
        ]
        messages = {error["field"]: error["message"] for error in refused.json()["errors"]}
        assert "future" in messages["general.patient.date_of_birth"]
        assert "19 is not a tooth" in messages["treatment_approach.extractions[1]"]
        assert "50 is not a tooth" in messages["treatment_approach.teeth_not_to_move[1]"]
        assert "also listed in teeth_not_to_move" in messages["treatment_approach.extractions[2]"]
        assert "twice" in messages["treatment_approach.extractions[3]"]
        assert refused.json()["incomplete_sections"] == ["general", "records", "treatment_approach", "terms"]
        still = await doctor.get(f"/orders/{created.json()['id']}")
        assert still.json()["status"] == "draft"
        assert (await doctor.get("/patients")).json()["total"] == 0  # the typed patient is created on submit only


async def test_empty_draft_submission_names_each_required_field(orders: Orders) -> None:
    async with orders.doctor() as doctor:
        created = await doctor.post("/orders", json={"kind": "retainer"})
        refused = await doctor.post(f"/orders/{created.json()['id']}/submit")
    assert problem_fields(refused) == [
        "general.patient",
        "general.practice_id",
        "general.arches",
        "retainer.source",
        "retainer.sets",
        "retainer.shipping_method",
        "terms_accepted",
    ]


async def test_patch_deep_merges(orders: Orders) -> None:
    async with orders.doctor() as doctor:
        created = await doctor.post(
            "/orders",
            json={
                "kind": "aligner",
                "general": {"arches": "both", "duration": {"mode": "limit", "max_steps": 30}, "chief_concern": "x"},
                "treatment_approach": {"extractions": [14, 24], "crowding": {"upper": ["ipr"], "lower": ["ipr"]}},
            },
        )
        order_id = created.json()["id"]
        patched = await doctor.patch(
            f"/orders/{order_id}",
            json={
                "general": {"duration": {"max_steps": 12}, "chief_concern": None},
                "treatment_approach": {"extractions": [34], "crowding": {"lower": ["expand"]}},
                "records": {"scans": "pvs_impressions"},
            },
        )
        assert patched.status_code == 200, patched.text
        merged = patched.json()
        assert merged["general"] == {"arches": "both", "duration": {"mode": "limit", "max_steps": 12}}
        assert merged["treatment_approach"] == {
            "extractions": [34],
            "crowding": {"upper": ["ipr"], "lower": ["expand"]},
        }
        assert merged["records"] == {"scans": "pvs_impressions"}
        cleared = await doctor.patch(f"/orders/{order_id}", json={"treatment_approach": None})
        assert cleared.json()["treatment_approach"] == {}
        assert (await doctor.get(f"/orders/{order_id}")).json() == cleared.json()


async def test_patient_of_a_draft_is_a_link_or_a_typed_new_one(orders: Orders) -> None:
    async with orders.doctor() as doctor:
        existing = (await doctor.post("/patients", json=new_patient(first_name="Ana"))).json()
        created = await doctor.post("/orders", json={"kind": "aligner", "patient": {"first_name": "Noé"}})
        order_id = created.json()["id"]
        assert created.json()["patient"] == {"id": None, "first_name": "Noé"}
        typed = await doctor.patch(f"/orders/{order_id}", json={"patient": {"last_name": "Roux"}})
        assert typed.json()["patient"] == {"id": None, "first_name": "Noé", "last_name": "Roux"}
        linked = await doctor.patch(f"/orders/{order_id}", json={"patient_id": existing["id"]})
        assert linked.json()["patient_id"] == existing["id"]
        assert linked.json()["patient"]["first_name"] == "Ana"
        refused = await doctor.patch(f"/orders/{order_id}", json={"patient": {"first_name": "X"}})
        assert problem_fields(refused) == ["patient"]
        both = await doctor.post("/orders", json={"kind": "aligner", "patient_id": existing["id"], "patient": {}})
        assert problem_fields(both) == ["patient"]
        unlinked = await doctor.patch(f"/orders/{order_id}", json={"patient_id": None, "patient": {"first_name": "Y"}})
        assert unlinked.json()["patient"] == {"id": None, "first_name": "Y"} and unlinked.json()["patient_id"] is None
        body = complete_aligner(patient_id=existing["id"])
        del body["patient"]
        ready = await doctor.post("/orders", json=body)
        submitted = await doctor.post(f"/orders/{ready.json()['id']}/submit")
        assert submitted.status_code == 202, submitted.text
        assert submitted.json()["order"]["patient_id"] == existing["id"]
        assert (await doctor.get("/patients")).json()["total"] == 1


async def test_unknown_and_service_fields_are_refused(orders: Orders) -> None:
    async with orders.doctor() as doctor:
        refused = await doctor.post(
            "/orders",
            json={
                "kind": "aligner",
                "id": str(uuid.uuid4()),
                "order_number": "DP-2000-000001",
                "case_id": str(uuid.uuid4()),
                "status": "submitted",
                "doctor_id": str(uuid.uuid4()),
                "colour": "red",
                "general": {"arch": "both"},
                "records": "digital",
                "retainer": {},
            },
        )
        assert sorted(problem_fields(refused)) == sorted(
            [
                "id",
                "order_number",
                "case_id",
                "status",
                "doctor_id",
                "colour",
                "general.arch",
                "records",
                "retainer",
            ]
        )
        assert problem_fields(await doctor.post("/orders", json={"general": {}})) == ["kind"]
        assert problem_fields(await doctor.post("/orders", json={"kind": "modification"})) == ["kind"]
        created = await doctor.post("/orders", json={"kind": "retainer"})
        order_id = created.json()["id"]
        assert problem_fields(await doctor.patch(f"/orders/{order_id}", json={"kind": "aligner"})) == ["kind"]
        assert problem_fields(await doctor.patch(f"/orders/{order_id}", json={"status": "submitted"})) == ["status"]
        assert problem_fields(await doctor.patch(f"/orders/{order_id}", json={"records": {}})) == ["records"]
        same = await doctor.patch(f"/orders/{order_id}", json={"kind": "retainer", "retainer": {"sets": 2}})
        assert same.status_code == 200 and same.json()["retainer"] == {"sets": 2}
        assert (await doctor.get("/orders")).json()["total"] == 1


async def test_delete_draft_publishes_order_deleted(orders: Orders) -> None:
    async with Tap(orders.vhost_url, "order.#") as tap, orders.doctor() as doctor:
        created = (await doctor.post("/orders", json={"kind": "aligner"})).json()
        deleted = await doctor.delete(f"/orders/{created['id']}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert (await doctor.get(f"/orders/{created['id']}")).status_code == 404
        assert (await doctor.delete(f"/orders/{created['id']}")).status_code == 404
        [event] = await tap.wait("order.deleted")
    assert event.subject == created["case_id"] and event.aggregate_version == 2
    assert event.payload["order_id"] == created["id"] and event.payload["case_id"] == created["case_id"]
    assert event.payload["cancels_case"] is True and event.payload["kind"] == "aligner"


async def test_retainer_submission_and_list_filters(orders: Orders) -> None:
    async with Tap(orders.vhost_url, "order.submitted.*") as tap, orders.doctor() as doctor:
        step = await doctor.post(
            "/orders", json=complete_retainer(retainer={"source": "existing_step", "sets": 11, "shipping_method": "x"})
        )
        assert problem_fields(await doctor.post(f"/orders/{step.json()['id']}/submit")) == [
            "retainer.step",
            "retainer.sets",
            "retainer.shipping_method",
        ]
        scans = await doctor.post("/orders", json=complete_retainer())
        submitted = await doctor.post(f"/orders/{scans.json()['id']}/submit")
        assert submitted.status_code == 202, submitted.text
        [event] = await tap.wait("order.submitted")
        drafts = (await doctor.get("/orders", params={"status": "draft"})).json()
        assert [item["id"] for item in drafts["items"]] == [step.json()["id"]] and drafts["total"] == 1
        by_case = (await doctor.get("/orders", params={"case_id": scans.json()["case_id"]})).json()
        assert [item["status"] for item in by_case["items"]] == ["submitted"]
        paged = (await doctor.get("/orders", params={"page": 2, "page_size": 1})).json()
        assert (
            paged["total"] == 2
            and paged["page"] == 2
            and [item["id"] for item in paged["items"]] == [step.json()["id"]]
        )
        assert (await doctor.get("/orders", params={"status": "shipped"})).status_code == 422
    assert event.payload["kind"] == "retainer" and event.payload["source"] == "new_scans"
    assert event.payload["scans"] is None and event.payload["required_slots"] == list(SCAN_SLOTS)
