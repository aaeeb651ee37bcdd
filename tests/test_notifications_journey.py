"""Notifications through the gateway's public API only, with the orders, cases and notifications services behind it
on SQLite and PostgreSQL and the real broker between them.

Proven here: a registered doctor hears of the setup the lab publishes in their dashboard's carousel, in
``GET /notifications`` and by e-mail (written as an ``.eml`` file, in the doctor's language); the notice goes once the
setup is approved; a switched-off kind reaches the carousel but not the inbox; a broadcast reaches its audience only;
read and dismiss; a second doctor sees none of the first's; roles are kept apart; and with the notifications service
down the dashboard still answers, saying what it lacks."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

from services.gateway.tests.conftest import sign_up, staff_token
from shared.db import utcnow
from shared.events.notifications import NOTIFICATION_KINDS
from tests.harness.api import carousel_until, case_reaches, mails, ok
from tests.harness.bodies import aligner
from tests.harness.system import running_portal
from tests.test_cases_journey import records_complete, submit


async def test_a_doctor_hears_of_the_lab_in_the_carousel_and_by_email(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    services = ("orders", "cases", "notifications")
    async with running_portal(
        tmp_path, vhost_url, database_url, services, notifications={"email_poll_seconds": 0.1}
    ) as portal:
        account, token = await sign_up(portal.gateway)
        _, other_token = await sign_up(portal.gateway)
        lab_token = await staff_token(portal.gateway)
        mailbox = portal.gateway.settings.data_dir / "mail"
        async with (
            portal.gateway.client(token) as doctor,
            portal.gateway.client(other_token) as other,
            portal.gateway.client(lab_token) as lab,
        ):
            submitted = await submit(doctor, aligner())
            case_id = submitted["case_id"]
            await case_reaches(doctor, case_id, "incomplete_submission", until=lambda page: page["history"])
            await records_complete(portal, submitted["order"], str(account["id"]))
            await case_reaches(doctor, case_id, "setup_in_progress")
            form = {"technician_comment": "IPR 0.2 mm 31/41", "steps_upper": "18", "steps_lower": "14"}
            await ok(await lab.post(f"/staff/cases/{case_id}/setups", data=form), 201)

            [notice] = await carousel_until(doctor, lambda items: len(items) == 1)
            assert (notice["kind"], notice["case_id"], notice["severity"], notice["read"]) == (
                "setup_published",
                case_id,
                "warning",
                False,
            )
            assert (
                notice["title"] == "Le setup de traitement v1 attend votre approbation"
            )  # the doctor registered in French
            listed = await ok(await doctor.get("/notifications"))
            assert [i["id"] for i in listed["items"]] == [notice["id"]] and listed["total"] == 1
            deadline = time.monotonic() + 10
            while not mailbox.is_dir() or not list(mailbox.glob("*.eml")):
                assert time.monotonic() < deadline, "no e-mail was written"
                await asyncio.sleep(0.1)
            [mail] = mails(mailbox)
            assert mail["To"] == account["email"] and mail["Subject"] == notice["title"]
            assert f"/cases/{case_id}" in mail.get_content()

            assert (await ok(await doctor.post(f"/notifications/{notice['id']}/read")))["read"] is True
            assert (await other.post(f"/notifications/{notice['id']}/read")).status_code == 404
            assert (await ok(await other.get("/notifications")))["items"] == []
            assert (await lab.get("/notifications")).status_code == 403

            # approving the setup ends the request for approval
            await ok(await doctor.post(f"/cases/{case_id}/setups/1/approve", json={"package": "ONE"}))
            await carousel_until(doctor, lambda items: items == [])

            # a switched-off kind reaches the carousel, not the inbox
            switches = {"kinds": {kind: kind != "phase_shipped" for kind in NOTIFICATION_KINDS}, "daily_digest": False}
            await ok(await doctor.put("/account/email-notifications", json=switches))
            await asyncio.sleep(0.5)  # doctor.updated travels to the notifications service
            await ok(
                await lab.post(f"/staff/cases/{case_id}/phases", json={"number": 1, "steps_from": 1, "steps_to": 9}),
                201,
            )
            ship = {"carrier": "DHL", "tracking_number": "JD0146"}
            await ok(await lab.post(f"/staff/cases/{case_id}/phases/1/ship", json=ship))
            [shipped] = await carousel_until(doctor, lambda items: len(items) == 1)
            assert shipped["kind"] == "phase_shipped" and "JD0146" in shipped["body"]
            await asyncio.sleep(0.5)
            assert len(mails(mailbox)) == 1

            # a broadcast to this doctor only, then one to all
            until = (utcnow() + timedelta(days=3)).isoformat()
            refused = await doctor.post(
                "/staff/notifications", json={"title": "t", "body": "b", "audience": "all", "expires_at": until}
            )
            assert refused.status_code == 403
            invalid = await lab.post(
                "/staff/notifications", json={"title": "t", "audience": "all", "expires_at": until}
            )
            assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "body"
            lab_id = (await ok(await lab.get("/account")))["id"]
            named = [account["id"], lab_id, str(uuid.uuid4())]
            nobody = {"title": "t", "body": "b", "audience": named, "expires_at": until}
            unknown = await lab.post("/staff/notifications", json=nobody)
            assert unknown.status_code == 422
            assert [e["field"] for e in unknown.json()["errors"]] == ["audience.1", "audience.2"]
            personal = await ok(
                await lab.post(
                    "/staff/notifications",
                    json={
                        "title": "Your scans",
                        "body": "Thank you.",
                        "audience": [account["id"]],
                        "expires_at": until,
                    },
                ),
                201,
            )
            await ok(
                await lab.post(
                    "/staff/notifications",
                    json={"title": "Lab closed", "body": "On 24 December.", "audience": "all", "expires_at": until},
                ),
                201,
            )
            titles = [i["title"] for i in await carousel_until(doctor, lambda items: len(items) == 3)]
            assert titles == ["Lab closed", "Your scans", shipped["title"]]
            assert [i["title"] for i in (await ok(await other.get("/notifications")))["items"]] == ["Lab closed"]
            assert (await doctor.post(f"/notifications/{personal['id']}/dismiss")).status_code == 204
            assert (await ok(await lab.get("/staff/notifications")))["total"] == 2
            assert (await lab.delete(f"/staff/notifications/{personal['id']}")).status_code == 204
            assert [i["title"] for i in await carousel_until(doctor, lambda items: len(items) == 2)] == [
                "Lab closed",
                shipped["title"],
            ]


async def test_the_dashboard_answers_without_the_notifications_service(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    async with running_portal(tmp_path, vhost_url, database_url, ("orders", "cases")) as portal:
        _, token = await sign_up(portal.gateway)
        async with portal.gateway.client(token) as doctor:
            board = await ok(await doctor.get("/dashboard"))
            assert board["notifications"] is None
            assert board["meta"] == {"partial": True, "degraded": ["notifications"]}
            assert board["counts"]["buckets"] == {"action_required": 0, "in_progress": 0, "archive": 0}
            down = await doctor.get("/notifications")
            assert down.status_code == 503 and down.headers["retry-after"]
