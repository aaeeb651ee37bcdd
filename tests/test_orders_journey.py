"""Patients and orders through the gateway's public API only (``/api/v1``, bearer tokens from sign-in), with the
orders service running behind it, on SQLite and on PostgreSQL (each service on a database of its own), and the events
that reached the real broker (an exclusive queue of the test's own, bound to ``portal.events`` before acting).

Proven here, end to end: each patients and orders route; a draft saved with one field, completed in three deep-merge
PATCHes and submitted; every submission rule answered as one 422 listing each field; a submitted order is immutable
(409 on resubmit, PATCH, DELETE); a double submit sent at once gives one 202, one 409 and one ``order.submitted``;
``Idempotency-Key`` replays a create; another doctor gets 404 with every id of the first one's. A retried create is
replayed even after the doctor's preferences changed what the gateway fills in."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.tests.conftest import sign_up
from tests.harness.bodies import APPROACH, PATIENT, PREFERRED_APPROACH, complete_aligner
from tests.harness.events import Tap
from tests.harness.system import Portal, running_portal

PROBLEM_JSON = "application/problem+json"
PHOTOS = [
    "photo.face_frontal",
    "photo.face_smiling",
    "photo.face_profile",
    "photo.intraoral_frontal",
    "photo.right_buccal",
    "photo.left_buccal",
    "photo.upper_occlusal",
    "photo.lower_occlusal",
]
SCANS = ["scan.upper", "scan.lower"]
"""The record slots of DOMAIN.md "Records checklist" an aligner order needs (scans unless PVS impressions)."""


def problem_fields(answer: httpx.Response) -> list[str]:
    """The fields a 422 problem names, in its order (fails unless the answer is one)."""
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    return [error["field"] for error in answer.json()["errors"]]


def is_problem(answer: httpx.Response, status: int) -> bool:
    """True when ``answer`` is a problem+json of ``status``."""
    return answer.status_code == status and answer.headers["content-type"].startswith(PROBLEM_JSON)


def only(envelopes: list[Any], order_id: str) -> Any:
    """The one envelope of ``envelopes`` about ``order_id`` (fails when there are none or several)."""
    [envelope] = [envelope for envelope in envelopes if envelope.payload["order_id"] == order_id]
    return envelope


async def first_practice_id(client: httpx.AsyncClient) -> str:
    """The id of the doctor's first practice (the default ship-to), read from ``/account/practices`` (a page as
    API.md "Lists" has it, or a plain list)."""
    listed = await client.get("/account/practices")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"] if isinstance(listed.json(), dict) else listed.json()
    return items[0]["id"]


@pytest.fixture
async def portal(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Portal]:
    """The gateway with the orders service behind it, on each kind of database in turn."""
    async with running_portal(tmp_path, vhost_url, database_url, ("orders",)) as running:
        yield running


async def test_a_doctor_saves_completes_submits_and_modifies_orders(portal: Portal) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()
    async with Tap(portal.vhost_url, "order.#", "patient.#") as tap:
        account, token = await sign_up(portal.gateway)
        async with portal.gateway.client(token) as doctor:
            practice_id = await first_practice_id(doctor)

            # Patients: create, read, update, search ignoring accents and case.
            created = await doctor.post("/patients", json=PATIENT)
            assert created.status_code == 201, created.text
            patient = created.json()
            assert {key: patient[key] for key in PATIENT} == PATIENT
            assert (await doctor.get(f"/patients/{patient['id']}")).json() == patient
            chloe = await doctor.post("/patients", json={**PATIENT, "first_name": "Chloé", "last_name": "Dupont"})
            assert chloe.status_code == 201, chloe.text
            changed = await doctor.patch(f"/patients/{patient['id']}", json={"last_name": "Martin"})
            assert changed.status_code == 200, changed.text
            assert changed.json()["last_name"] == "Martin" and changed.json()["first_name"] == "Zoë"
            assert (await doctor.get(f"/patients/{patient['id']}")).json() == changed.json()
            for query in ("zoe", "ZOË martin"):
                found = await doctor.get("/patients", params={"q": query})
                assert found.status_code == 200, found.text
                assert [item["id"] for item in found.json()["items"]] == [patient["id"]], query
            assert (await doctor.get("/patients")).json()["total"] == 2
            assert problem_fields(await doctor.post("/patients", json={**PATIENT, "date_of_birth": future})) == [
                "date_of_birth"
            ]

            # An aligner draft saved with one field: the gateway adds the doctor's defaults.
            created = await doctor.post("/orders", json={"kind": "aligner", "general": {"chief_concern": "crowding"}})
            assert created.status_code == 201, created.text
            draft = created.json()
            assert draft["status"] == "draft" and draft["kind"] == "aligner"
            assert re.fullmatch(r"DP-\d{4}-\d{6}", draft["order_number"])
            uuid.UUID(draft["case_id"])
            assert draft["general"] == {
                "chief_concern": "crowding",
                "practice_id": practice_id,
                "arches": "both",
                "wear_schedule_days": 14,
                "duration": {"mode": "recommend"},
            }
            assert draft["treatment_approach"] == PREFERRED_APPROACH
            assert draft["incomplete_sections"] == ["general", "records", "treatment_approach", "terms"]
            assert (await doctor.get(f"/orders/{draft['id']}")).json() == draft
            path = f"/orders/{draft['id']}"

            # Completed in three PATCHes, each merged into what is there.
            first = await doctor.patch(
                path,
                json={"patient_id": patient["id"], "general": {"arches": "upper", "duration": {"mode": "limit"}}},
            )
            assert first.status_code == 200, first.text
            assert first.json()["general"]["chief_concern"] == "crowding"
            assert first.json()["general"]["duration"] == {"mode": "limit"}
            assert first.json()["patient"]["id"] == patient["id"] and first.json()["patient"]["last_name"] == "Martin"
            assert first.json()["incomplete_sections"] == ["general", "records", "treatment_approach", "terms"]
            second = await doctor.patch(
                path,
                json={
                    "general": {"duration": {"max_steps": 20}},
                    "records": {"scans": "digital", "scanner": "iTero Element"},
                    "treatment_approach": APPROACH,
                    "additional": {"instructions": "call me", "collaborator_ids": []},
                },
            )
            assert second.status_code == 200, second.text
            assert second.json()["general"]["duration"] == {"mode": "limit", "max_steps": 20}
            assert second.json()["treatment_approach"] == {**PREFERRED_APPROACH, **APPROACH}
            assert second.json()["incomplete_sections"] == ["terms"]
            third = await doctor.patch(
                path,
                json={
                    "treatment_approach": {"crowding": {"lower": ["ipr"]}, "ipr_allowed": False},
                    "additional": {"instructions": None},
                    "terms_accepted": True,
                },
            )
            assert third.status_code == 200, third.text
            completed = third.json()
            assert completed["treatment_approach"]["crowding"] == {"upper": ["expand"], "lower": ["ipr"]}
            assert completed["treatment_approach"]["ipr_allowed"] is False
            assert completed["treatment_approach"]["extractions"] == [14, 24]
            assert completed["additional"] == {"collaborator_ids": []}
            assert completed["incomplete_sections"] == [] and completed["terms_accepted"] is True
            assert (await doctor.get(path)).json() == completed

            # Submitted: 202, then immutable.
            submitted = await doctor.post(f"{path}/submit")
            assert submitted.status_code == 202, submitted.text
            answer = submitted.json()
            assert set(answer) == {"order", "case_id", "case_status"} and isinstance(answer["case_status"], str)
            order = answer["order"]
            assert answer["case_id"] == draft["case_id"] == order["case_id"] and order["id"] == draft["id"]
            assert order["status"] == "submitted" and order["submitted_at"]
            assert order["patient_id"] == patient["id"] and order["general"] == completed["general"]
            again = await doctor.post(f"{path}/submit")
            assert is_problem(again, 409) and again.json()["order_status"] == "submitted", again.text
            assert is_problem(await doctor.patch(path, json={"terms_accepted": False}), 409)
            assert is_problem(await doctor.patch(path, json={"general": {"arches": "lower"}}), 409)
            assert is_problem(await doctor.delete(path), 409)
            assert (await doctor.get(path)).json() == order

            # A retainer draft for the existing patient, then deleted.
            created = await doctor.post(
                "/orders", json={"kind": "retainer", "patient_id": patient["id"], "retainer": {"source": "new_scans"}}
            )
            assert created.status_code == 201, created.text
            retainer = created.json()
            assert retainer["kind"] == "retainer" and retainer["status"] == "draft"
            assert retainer["case_id"] != draft["case_id"]
            assert retainer["general"] == {"practice_id": practice_id, "arches": "both"}
            assert retainer["retainer"] == {"source": "new_scans"}
            assert retainer["incomplete_sections"] == ["retainer", "terms"]
            assert (await doctor.get(f"/orders/{retainer['id']}")).json() == retainer
            deleted = await doctor.delete(f"/orders/{retainer['id']}")
            assert deleted.status_code == 204 and deleted.content == b"", deleted.text
            assert is_problem(await doctor.get(f"/orders/{retainer['id']}"), 404)
            assert is_problem(await doctor.delete(f"/orders/{retainer['id']}"), 404)

            # A modification of the submitted case.
            created = await doctor.post(f"/cases/{draft['case_id']}/modifications", json={"reason": "relapse of 31"})
            assert created.status_code == 201, created.text
            modification = created.json()
            assert modification["kind"] == "modification" and modification["status"] == "draft"
            assert modification["case_id"] == draft["case_id"] and modification["patient_id"] == patient["id"]
            assert modification["reason"] == "relapse of 31" and modification["incomplete_sections"] == ["modification"]
            assert modification["order_number"] not in (draft["order_number"], retainer["order_number"])
            listed = (await doctor.get("/orders", params={"case_id": draft["case_id"]})).json()
            assert sorted(item["kind"] for item in listed["items"]) == ["aligner", "modification"]
            assert (await doctor.get("/orders", params={"status": "draft"})).json()["total"] == 1

            # Every rule of the order form at once: one 422 naming each field.
            treatment = {**PREFERRED_APPROACH, **APPROACH, "extractions": [19, 36], "teeth_not_to_move": [36]}
            body = complete_aligner(
                patient={**PATIENT, "date_of_birth": future},
                general={"arches": "both"},
                records={"scans": "digital", "scanner": "iTero Element"},
                treatment_approach=treatment,
                terms_accepted=False,
            )
            invalid = await doctor.post("/orders", json=body)
            assert invalid.status_code == 201, invalid.text
            refused = await doctor.post(f"/orders/{invalid.json()['id']}/submit")
            assert problem_fields(refused) == [
                "general.patient.date_of_birth",
                "general.chief_concern",
                "treatment_approach.extractions[0]",
                "treatment_approach.extractions[1]",
                "terms_accepted",
            ]
            messages = [error["message"] for error in refused.json()["errors"]]
            assert "future" in messages[0] and messages[1] == "required" and "19 is not a tooth" in messages[2]
            assert "also listed in teeth_not_to_move" in messages[3] and "accepted" in messages[4]
            assert (await doctor.get(f"/orders/{invalid.json()['id']}")).json()["status"] == "draft"
            assert (await doctor.get("/patients")).json()["total"] == 2  # the typed patient waits for submission

        events = {
            kind: await tap.wait(kind, count)
            for kind, count in (
                ("order.draft_created", 4),
                ("order.submitted", 1),
                ("order.deleted", 1),
                ("patient.updated", 1),
            )
        }
    doctor_id = str(account["id"])
    opened = only(events["order.draft_created"], draft["id"])
    assert opened.subject == draft["case_id"] and opened.routing_key == "order.draft_created.v1"
    assert opened.payload == {
        "order_id": draft["id"],
        "case_id": draft["case_id"],
        "order_number": draft["order_number"],
        "doctor_id": doctor_id,
        "kind": "aligner",
        "opens_case": True,
        "patient": None,
    }
    retainer_opened = only(events["order.draft_created"], retainer["id"])
    assert retainer_opened.payload["kind"] == "retainer" and retainer_opened.payload["case_id"] == retainer["case_id"]
    assert retainer_opened.payload["patient"] == {"id": patient["id"], "first_name": "Zoë", "last_name": "Martin"}
    modification_opened = only(events["order.draft_created"], modification["id"])
    assert modification_opened.payload["case_id"] == draft["case_id"]
    assert modification_opened.payload["opens_case"] is False and modification_opened.payload["kind"] == "modification"

    done = only(events["order.submitted"], draft["id"])
    assert done.subject == draft["case_id"] and done.aggregate_version == 2
    assert {key: value for key, value in done.payload.items() if key != "submitted_at"} == {
        "order_id": draft["id"],
        "case_id": draft["case_id"],
        "order_number": draft["order_number"],
        "doctor_id": doctor_id,
        "kind": "aligner",
        "patient": {"id": patient["id"], "first_name": "Zoë", "last_name": "Martin"},
        "practice_id": practice_id,
        "arches": "upper",
        "scans": "digital",
        "source": None,
        "step": None,
        "required_slots": PHOTOS + SCANS,
        "collaborator_ids": [],
    }
    [gone] = events["order.deleted"]
    assert gone.payload["order_id"] == retainer["id"] and gone.payload["case_id"] == retainer["case_id"]
    assert gone.payload["cancels_case"] is True
    [renamed] = events["patient.updated"]
    assert renamed.subject == patient["id"] and renamed.payload["last_name"] == "Martin"
    assert renamed.payload["doctor_id"] == doctor_id


async def test_doubled_requests_create_and_submit_once(portal: Portal) -> None:
    async with Tap(portal.vhost_url, "order.#") as tap:
        _, token = await sign_up(portal.gateway)
        async with portal.gateway.client(token) as doctor:
            # Two submissions of one draft at once: one 202, one 409, one order.submitted.
            drafts = []
            for _ in range(3):
                created = await doctor.post("/orders", json=complete_aligner())
                assert created.status_code == 201 and created.json()["incomplete_sections"] == [], created.text
                drafts.append(created.json())
            for draft in drafts:
                answers = await asyncio.gather(*(doctor.post(f"/orders/{draft['id']}/submit") for _ in range(2)))
                assert sorted(answer.status_code for answer in answers) == [202, 409], [a.text for a in answers]
                assert all(is_problem(answer, 409) for answer in answers if answer.status_code != 202)
            assert (await doctor.get("/patients")).json()["total"] == len(drafts)  # one typed patient per order

            # The same Idempotency-Key twice, then at once: the first answer and one order.
            key = {"Idempotency-Key": f"journey-{uuid.uuid4()}"}
            body = {"kind": "retainer", "retainer": {"sets": 2}}
            first = await doctor.post("/orders", json=body, headers=key)
            replayed = await doctor.post("/orders", json=body, headers=key)
            assert first.status_code == replayed.status_code == 201, replayed.text
            assert replayed.json() == first.json()
            changed = await doctor.post("/orders", json={**body, "retainer": {"sets": 3}}, headers=key)
            assert problem_fields(changed) == ["Idempotency-Key"]
            racing_key = {"Idempotency-Key": f"journey-{uuid.uuid4()}"}
            racing = await asyncio.gather(*(doctor.post("/orders", json=body, headers=racing_key) for _ in range(3)))
            assert [answer.status_code for answer in racing] == [201] * 3, [answer.text for answer in racing]
            assert len({answer.json()["id"] for answer in racing}) == 1
            retainers = (await doctor.get("/orders", params={"kind": "retainer"})).json()
            assert sorted(item["id"] for item in retainers["items"]) == sorted(
                [first.json()["id"], racing[0].json()["id"]]
            )

        await tap.wait("order.submitted", len(drafts))
        await tap.wait("order.draft_created", len(drafts) + 2)
        await asyncio.sleep(1.0)  # the outbox relay polls every 0.1 s: a duplicate event would be out by now
    submitted = Counter(envelope.payload["order_id"] for envelope in tap.of("order.submitted"))
    assert submitted == Counter({draft["id"]: 1 for draft in drafts})
    opened = Counter(envelope.payload["order_id"] for envelope in tap.of("order.draft_created"))
    assert opened == Counter([draft["id"] for draft in drafts] + [first.json()["id"], racing[0].json()["id"]])
    event = only(tap.of("order.submitted"), drafts[0]["id"])
    assert event.payload["scans"] == "pvs_impressions" and event.payload["required_slots"] == PHOTOS
    assert event.payload["patient"]["first_name"] == "Noé" and event.payload["arches"] == "both"


async def test_another_doctor_gets_404_with_every_id_of_mine(portal: Portal) -> None:
    _, owner_token = await sign_up(portal.gateway)
    _, intruder_token = await sign_up(portal.gateway)
    async with portal.gateway.client(owner_token) as owner, portal.gateway.client(intruder_token) as intruder:
        practice_id = await first_practice_id(owner)
        patient = (await owner.post("/patients", json=PATIENT)).json()
        draft = (await owner.post("/orders", json={"kind": "aligner", "patient_id": patient["id"]})).json()
        ready = (await owner.post("/orders", json=complete_aligner())).json()
        submitted = await owner.post(f"/orders/{ready['id']}/submit")
        assert submitted.status_code == 202, submitted.text
        case_id = ready["case_id"]
        views = ("/patients", "/orders", f"/patients/{patient['id']}", f"/orders/{draft['id']}")
        before = {view: (await owner.get(view)).json() for view in views}

        for method, path, body in (
            ("GET", f"/patients/{patient['id']}", None),
            ("PATCH", f"/patients/{patient['id']}", {"last_name": "Taken"}),
            ("GET", f"/orders/{draft['id']}", None),
            ("GET", f"/orders/{ready['id']}", None),
            ("PATCH", f"/orders/{draft['id']}", {"general": {"chief_concern": "mine now"}}),
            ("DELETE", f"/orders/{draft['id']}", None),
            ("POST", f"/orders/{draft['id']}/submit", None),
            ("POST", f"/orders/{ready['id']}/submit", None),
            ("POST", "/orders", {"kind": "aligner", "patient_id": patient["id"]}),
            ("POST", f"/cases/{case_id}/modifications", {"reason": "relapse"}),
        ):
            answer = await intruder.request(method, path, json=body)
            assert is_problem(answer, 404), f"{method} {path}: {answer.status_code} {answer.text}"
        for path, params in (
            ("/patients", {}),
            ("/patients", {"q": "zoe"}),
            ("/orders", {}),
            ("/orders", {"case_id": case_id}),
        ):
            listed = await intruder.get(path, params=params)
            assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
        mine = (await intruder.post("/orders", json={"kind": "aligner"})).json()
        theirs = {"general": {"practice_id": practice_id}}
        assert problem_fields(await intruder.post("/orders", json={"kind": "aligner", **theirs})) == [
            "general.practice_id"
        ]
        assert problem_fields(await intruder.patch(f"/orders/{mine['id']}", json=theirs)) == ["general.practice_id"]

        assert {view: (await owner.get(view)).json() for view in views} == before
        modification = await owner.post(f"/cases/{case_id}/modifications", json={"reason": "relapse"})
        assert modification.status_code == 201, modification.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_retried_create_is_replayed_after_the_doctor_changed_preferences(portal: Portal) -> None:
    _, token = await sign_up(portal.gateway)
    async with portal.gateway.client(token) as doctor:
        key = {"Idempotency-Key": f"journey-{uuid.uuid4()}"}
        first = await doctor.post("/orders", json={"kind": "aligner"}, headers=key)
        assert first.status_code == 201, first.text
        preferences = (await doctor.get("/account/preferences")).json()
        changed = await doctor.put("/account/preferences", json={**preferences, "wear_schedule_days": 10})
        assert changed.status_code == 200, changed.text
        retried = await doctor.post("/orders", json={"kind": "aligner"}, headers=key)
        assert retried.status_code == 201, retried.text
        assert retried.json() == first.json()
        assert (await doctor.get("/orders")).json()["total"] == 1
