"""Cases through the gateway's public API only, with the orders and cases services behind it, on SQLite and
PostgreSQL (each service on a database of its own) and the real broker between them.

Proven here: a doctor's submitted order becomes a case the lab drives from ``setup_in_progress`` to
``last_phase_delivered`` with the staff API, the doctor rejecting one setup and approving the next in between; the
orders list, the case page and the dashboard say so at each step; a modification after the last phase reopens the
setup; a collaborator evaluates a shared case but cannot approve it; a doctor gets 403 from the staff API; the
patient link shows initials only; and the doctor's audit log lists the reads, the approval and the link's views.
The documents service is not running here (``tests/test_documents_journey.py`` runs it): its ``records.checked`` is
published here as it publishes it, and the case page's documents are null, the page saying it is degraded."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.tests.conftest import PASSWORD, registration, sign_in, sign_up, staff_token
from shared.events.documents import RecordsChecked
from shared.events.orders import PHOTO_SLOTS
from tests.harness.api import case_reaches, ok
from tests.harness.bodies import aligner
from tests.harness.events import envelope_of, publish
from tests.harness.system import Portal, running_portal


async def submit(doctor: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Create and submit an order; returns the submission's answer."""
    draft = await ok(await doctor.post("/orders", json=body), 201)
    return await ok(await doctor.post(f"/orders/{draft['id']}/submit"), 202)


async def records_complete(portal: Portal, order: dict[str, Any], doctor_id: str) -> None:
    """What the documents service will publish for an order whose records are all there."""
    slots = [*PHOTO_SLOTS, "scan.upper", "scan.lower"]
    payload = RecordsChecked(
        case_id=order["case_id"], order_id=order["id"], doctor_id=doctor_id, required=slots, missing=[], complete=True
    )
    await publish(portal.vhost_url, envelope_of(payload, source="documents", subject=order["case_id"], version=1))


@pytest.fixture
async def portal(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Portal]:
    """The gateway with the orders and cases services behind it, on each kind of database in turn."""
    async with running_portal(tmp_path, vhost_url, database_url) as running:
        yield running


async def test_the_lab_takes_a_doctors_case_to_its_last_phase_and_the_doctor_follows_it(portal: Portal) -> None:
    account, token = await sign_up(portal.gateway)
    lab_token = await staff_token(portal.gateway)
    async with portal.gateway.client(token) as doctor, portal.gateway.client(lab_token) as lab:
        submitted = await submit(doctor, aligner())
        case_id, order = submitted["case_id"], submitted["order"]
        # the draft opened the case before its submission arrived: once that has, the case waits for the records
        # check, which is nobody's action
        submitted_seen = lambda page: any(e["kind"] == "order_submitted" for e in page["history"])  # noqa: E731
        waiting = await case_reaches(
            doctor,
            case_id,
            "incomplete_submission",
            until=lambda page: submitted_seen(page) and not page["action_required"],
        )
        assert waiting["case"]["records"]["order_id"] == order["id"]
        await records_complete(portal, order, str(account["id"]))
        page = await case_reaches(doctor, case_id, "setup_in_progress")
        assert page["case"]["order_number"] == order["order_number"] and page["documents"] is None
        assert page["meta"] == {"partial": True, "degraded": ["documents", "records"]} and page["action_required"] == []
        assert (await doctor.get("/staff/cases")).status_code == 403
        for method in ("GET", "POST"):
            odd = await doctor.request(method, "/orders", json={}, headers={"Idempotency-Key": "café".encode()})
            assert odd.status_code == 422 and odd.json()["errors"][0]["field"] == "Idempotency-Key", odd.text
        bare = await doctor.post(f"/cases/{case_id}/hold")
        assert bare.status_code == 422 and bare.json()["errors"] == [{"field": "body", "message": "Field required"}]
        assert (
            await doctor.post(
                f"/staff/cases/{case_id}/setups",
                data={"technician_comment": "x", "steps_upper": "1", "steps_lower": "1"},
            )
        ).status_code == 403

        form = {"technician_comment": "IPR 0.2 mm 31/41; attachments 13, 23", "steps_upper": "18", "steps_lower": "14"}
        refused = await lab.post(
            f"/staff/cases/{case_id}/setups", data=form, files={"file": ("setup.html", b"<html/>", "text/html")}
        )
        assert refused.status_code == 503 and refused.headers["retry-after"]  # the documents service is not running
        first = await ok(await lab.post(f"/staff/cases/{case_id}/setups", data=form), 201)
        assert (first["version"], first["state"], first["steps_upper"]) == (1, "pending", 18)
        assert (await lab.post(f"/staff/cases/{case_id}/setups", data={**form, "steps_upper": "x"})).status_code == 422
        page = await ok(await doctor.get(f"/cases/{case_id}"))
        assert page["case"]["status"] == "setup_approval_pending"
        [review] = page["action_required"]
        assert (review["kind"], review["version"], review["technician_comment"]) == (
            "review_setup",
            1,
            form["technician_comment"],
        )
        [row] = (await ok(await doctor.get("/cases", params={"status": "setup_approval_pending"})))["items"]
        assert row["id"] == case_id and row["setup"]["state"] == "pending" and row["photo_thumbnail_url"] is None
        board = await ok(await doctor.get("/dashboard"))
        assert (
            board["counts"]["buckets"]["action_required"] == 1
            and board["counts"]["statuses"]["setup_approval_pending"] == 1
        )
        assert board["notifications"] is None and board["meta"]["degraded"] == ["notifications"]

        await ok(await doctor.post(f"/cases/{case_id}/setups/1/reject", json={"reason": "expand the upper arch more"}))
        await ok(await lab.post(f"/staff/cases/{case_id}/setups", data={**form, "steps_upper": "20"}), 201)
        assert (await lab.post(f"/cases/{case_id}/setups/2/approve", json={"package": "ONE"})).status_code == 403
        assert (await doctor.post(f"/cases/{case_id}/setups/2/approve", json={"package": "THREE"})).status_code == 422
        approved = await ok(await doctor.post(f"/cases/{case_id}/setups/2/approve", json={"package": "ONE"}))
        assert approved["status"] == "in_production" and approved["package"] == "ONE"

        await ok(
            await lab.post(f"/staff/cases/{case_id}/phases", json={"number": 1, "steps_from": 1, "steps_to": 10}), 201
        )
        shipped = await ok(
            await lab.post(
                f"/staff/cases/{case_id}/phases/1/ship", json={"carrier": "DHL", "tracking_number": "JD0146 7720"}
            )
        )
        assert (
            shipped["status"] == "shipped" and shipped["expiry_level"] == "normal" and shipped["expires_at"] is not None
        )
        await ok(await lab.post(f"/staff/cases/{case_id}/phases/1/deliver", json={"final": False}))
        await ok(
            await lab.post(f"/staff/cases/{case_id}/phases", json={"number": 2, "steps_from": 11, "steps_to": 20}), 201
        )
        await ok(
            await lab.post(
                f"/staff/cases/{case_id}/phases/2/ship", json={"carrier": "DHL", "tracking_number": "JD0146 7721"}
            )
        )
        done = await ok(await lab.post(f"/staff/cases/{case_id}/phases/2/deliver", json={"final": True}))
        assert done["status"] == "last_phase_delivered" and done["bucket"] == "in_progress"

        lab_view = await ok(await lab.get(f"/staff/cases/{case_id}"))
        assert lab_view["case"]["doctor_id"] == account["id"] and lab_view["action_required"] == []
        history = (await ok(await doctor.get(f"/cases/{case_id}")))["history"]
        assert [e["kind"] for e in history if e["status_to"]] == [
            "open", "submit", "publish_setup", "reject_setup", "publish_setup", "approve_setup",
            "ship_phase", "start_phase", "ship_phase", "deliver_phase",
        ]  # fmt: skip

        # A modification after the last phase: from an existing step nothing needs sending, the setup starts again.
        draft = await ok(
            await doctor.post(
                f"/cases/{case_id}/modifications",
                json={"reason": "relapse of 31", "source": "existing_step", "step": 20, "instructions": "retreat 31"},
            ),
            201,
        )
        deadline = time.monotonic() + 20
        while (answer := await doctor.post(f"/orders/{draft['id']}/submit")).status_code == 409:  # the status travels
            assert time.monotonic() < deadline, answer.text
            await asyncio.sleep(0.1)
        assert answer.status_code == 202, answer.text
        await case_reaches(doctor, case_id, "setup_in_progress")

        log = await ok(await doctor.get("/account/audit-log", params={"case_id": case_id, "page_size": 200}))
    actions = [(entry["action"], entry["actor_role"], entry["outcome"]) for entry in log["items"]]
    assert ("setup.approve", "doctor", "allowed") in actions and ("case.read", "staff", "allowed") in actions
    assert actions.count(("case.read", "doctor", "allowed")) >= 5
    assert ("setup.approve", "staff", "denied") not in actions  # refused by role before reaching the case


async def test_a_collaborator_evaluates_a_shared_case_but_only_the_doctor_approves(portal: Portal) -> None:
    account, token = await sign_up(portal.gateway)
    colleague_email = f"colleague-{uuid.uuid4().hex[:8]}@example.org"
    async with portal.gateway.client() as anonymous:
        await ok(await anonymous.post("/auth/register", json=registration(colleague_email)), 201)
    colleague_token = await sign_in(portal.gateway, colleague_email, PASSWORD)
    _, stranger_token = await sign_up(portal.gateway)
    lab_token = await staff_token(portal.gateway)
    async with (
        portal.gateway.client(token) as doctor,
        portal.gateway.client(colleague_token) as colleague,
        portal.gateway.client(stranger_token) as stranger,
        portal.gateway.client(lab_token) as lab,
    ):
        invited = await ok(
            await doctor.post(
                "/account/collaborators", json={"email": colleague_email, "permissions": ["view", "evaluate_setups"]}
            ),
            201,
        )
        theirs = await ok(
            await stranger.post("/account/collaborators", json={"email": colleague_email, "permissions": ["view"]}), 201
        )
        refused = await doctor.post("/orders", json=aligner(additional={"collaborator_ids": [theirs["id"]]}))
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "additional.collaborator_ids[0]"
        submitted = await submit(doctor, aligner(additional={"collaborator_ids": [invited["id"]]}))
        case_id = submitted["case_id"]
        await records_complete(portal, submitted["order"], str(account["id"]))
        await case_reaches(doctor, case_id, "setup_in_progress")
        await ok(
            await lab.post(
                f"/staff/cases/{case_id}/setups",
                data={"technician_comment": "c", "steps_upper": "12", "steps_lower": "12"},
            ),
            201,
        )

        listed = await ok(await colleague.get("/cases"))
        assert [item["id"] for item in listed["items"]] == [case_id]
        assert (await stranger.get(f"/cases/{case_id}")).status_code == 404
        page = await ok(await colleague.get(f"/cases/{case_id}"))
        assert (
            page["case"]["collaborator_status"] == "setup_pending"
            and page["action_required"][0]["kind"] == "evaluate_setup"
        )
        denied = await colleague.post(f"/cases/{case_id}/setups/1/approve", json={"package": "ONE"})
        assert denied.status_code == 403 and "treating doctor" in denied.json()["detail"]
        await ok(await colleague.post(f"/cases/{case_id}/setups/1/evaluate"))
        ready = await ok(await colleague.post(f"/cases/{case_id}/setups/1/ready"))
        assert ready["collaborator_status"] == "ready_for_approval"
        approved = await ok(await doctor.post(f"/cases/{case_id}/setups/1/approve", json={"package": "TWO"}))
        assert approved["collaborator_status"] == "approved"

        await ok(await doctor.delete(f"/account/collaborators/{invited['id']}"), 204)
        assert (await colleague.get(f"/cases/{case_id}")).status_code == 404  # the invitation is gone: so is access

        accented = await doctor.post(f"/cases/{case_id}/patient-link", json={"password": "sourire-été"})
        assert accented.status_code == 422 and accented.json()["errors"][0]["field"] == "password"
        link = await ok(await doctor.post(f"/cases/{case_id}/patient-link", json={"password": "smile-2026"}), 201)
        assert link["url"] == f"http://127.0.0.1:8000/api/v1/patient-links/{link['token']}"  # PORTAL_PUBLIC_URL unset
        async with portal.gateway.client() as patient:
            assert (await patient.get(f"/patient-links/{link['token']}")).status_code == 401
            raw = await patient.get(
                f"/patient-links/{link['token']}", headers={"X-Link-Password": "sourire-été".encode()}
            )
            assert raw.status_code == 401  # bytes outside ASCII: a wrong password, not a failure
            page = await patient.get(f"/patient-links/{link['token']}", headers={"X-Link-Password": "smile-2026"})
            shown = await ok(page)
        assert shown == {
            "patient": {"initials": "Z. L."},
            "doctor": {"name": "Dr Zoë Lefèvre"},
            "setup": shown["setup"],
            "expires_at": link["expires_at"],
        }
        assert shown["setup"]["version"] == 1 and "case_id" not in shown

        log = await ok(await doctor.get("/account/audit-log", params={"case_id": case_id, "page_size": 200}))
    entries = [(entry["action"], entry["actor_id"], entry["outcome"]) for entry in log["items"]]
    colleague_id = (await ok(await portal.gateway.client(colleague_token).get("/account")))["id"]
    assert ("case.read", colleague_id, "allowed") in entries and ("case.read", colleague_id, "denied") in entries
    assert ("setup.approve", colleague_id, "denied") in entries and (
        "setup.approve",
        account["id"],
        "allowed",
    ) in entries
    assert ("patient_link.view", None, "denied") in entries and ("patient_link.view", None, "allowed") in entries
