"""A doctor's labels and comment on a case, and the patient link (password, expiry, throttling, revocation), over
HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from services.cases.models import PatientLink
from services.cases.tests.conftest import Cases, cases_settings, new_order, ok, running_cases, submitted_case
from shared.db import utcnow
from shared.internal_token import Principal

SETUP = {"technician_comment": "c", "steps_upper": 12, "steps_lower": 12}


async def test_the_palette_is_the_doctors_and_a_case_has_one_label_and_one_comment(cases: Cases) -> None:
    order = new_order()
    async with cases.doctor(order.doctor_id) as doctor, cases.doctor() as other, cases.staff() as lab:
        await submitted_case(cases, order)
        first, again = await asyncio.gather(doctor.get("/labels"), doctor.get("/labels"))
        palette = await ok(first)
        assert palette == await ok(again) and len(palette) == 8  # two first requests make one palette
        assert [label["name"] for label in palette][:3] == ["Red", "Orange", "Yellow"]
        renamed = await ok(await doctor.put("/labels", json=[{"id": palette[0]["id"], "name": " Urgent "}]))
        assert (
            renamed[0] == {"id": palette[0]["id"], "color": "#E53935", "name": "Urgent"} and renamed[1:] == palette[1:]
        )
        bad = await doctor.put(
            "/labels", json=[{"id": "nope", "name": "x"}, {"id": palette[1]["id"], "name": "y", "color": "#000000"}]
        )
        assert [e["field"] for e in bad.json()["errors"]] == ["[0].id", "[1].color"]
        assert (await ok(await doctor.get("/labels")))[1]["name"] == "Orange"  # nothing of a refused edit is kept
        theirs = await ok(await other.get("/labels"))
        assert {label["id"] for label in theirs}.isdisjoint(label["id"] for label in palette)

        path = f"/cases/{order.case_id}"
        refused = await doctor.put(f"{path}/label", json={"label_id": theirs[0]["id"]})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "label_id"
        labelled = await ok(await doctor.put(f"{path}/label", json={"label_id": palette[0]["id"]}))
        assert labelled["label"]["name"] == "Urgent"
        relabelled = await ok(await doctor.put(f"{path}/label", json={"label_id": palette[3]["id"]}))
        assert relabelled["label"]["color"] == "#43A047"
        assert (await doctor.delete(f"{path}/label")).status_code == 204
        assert (await ok(await doctor.get(path)))["case"]["label"] is None
        assert (await lab.put(f"{path}/label", json={"label_id": palette[0]["id"]})).status_code == 403
        assert (await other.put(f"{path}/label", json={"label_id": theirs[0]["id"]})).status_code == 404

        note = "Patient prefers appointments after 5 pm. Élastiques classe II."
        assert (await ok(await doctor.put(f"{path}/comment", json={"text": note})))["comment"] == note
        too_long = await doctor.put(f"{path}/comment", json={"text": "x" * 2001})
        assert too_long.status_code == 422
        assert (await ok(await doctor.put(f"{path}/comment", json={"text": "x" * 2000})))["comment"] == "x" * 2000
        assert (await ok(await doctor.put(f"{path}/comment", json={"text": "  "})))["comment"] is None


async def view(cases: Cases, token: str, password: str | None = None, address: str = "198.51.100.7") -> httpx.Response:
    headers = {"X-Client-Address": address} | ({"X-Link-Password": password} if password is not None else {})
    async with cases.client(Principal(uuid.UUID(int=0), "patient", None)) as visitor:
        return await visitor.get(f"/patient-links/{token}", headers=headers)


async def test_a_patient_link_shows_the_setup_with_initials_behind_its_password(cases: Cases) -> None:
    order = new_order(first_name="zoë", last_name="Lefèvre")
    path = f"/cases/{order.case_id}/patient-link"
    async with cases.doctor(order.doctor_id) as doctor, cases.staff() as lab:
        await submitted_case(cases, order)
        early = await doctor.post(path, json={})
        assert early.status_code == 409 and "nothing to show" in early.json()["detail"]
        await ok(await lab.post(f"/staff/cases/{order.case_id}/setups", json=SETUP), 201)
        assert (await doctor.post(path, json={"expires_in_days": 366})).status_code == 422
        assert (await doctor.post(path, json={"password": "12345"})).status_code == 422  # too short
        link = await ok(await doctor.post(path, json={"password": "smile-2026", "expires_in_days": 10}), 201)
        assert link["password_protected"] is True and len(link["token"]) >= 40
        state = await ok(await doctor.get(path))
        assert "token" not in state and state["views"] == 0 and state["password_protected"] is True

        assert (await view(cases, link["token"])).status_code == 401
        wrong = await view(cases, link["token"], "guess")
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Link-Password")
        shown = await ok(await view(cases, link["token"], "smile-2026"))
        assert shown["patient"] == {"initials": "Z. L."}
        assert shown["setup"] == {
            "version": 1,
            "published_at": shown["setup"]["published_at"],
            "state": "pending",
            "steps_upper": 12,
            "steps_lower": 12,
        }
        assert "Lefèvre" not in str(shown) and "zoë" not in str(shown).lower()
        assert (await ok(await doctor.get(path)))["views"] == 1

        for _ in range(4):
            assert (await view(cases, link["token"], "nope")).status_code == 401
        throttled = await view(cases, link["token"], "smile-2026")  # five wrong ones: even the right one waits
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0

        fresh = await ok(await doctor.post(path, json={}), 201)
        assert fresh["password_protected"] is False
        assert (await view(cases, link["token"], "smile-2026")).status_code == 404  # the new link replaced it
        assert (await ok(await view(cases, fresh["token"])))["patient"]["initials"] == "Z. L."
        assert (await doctor.delete(path)).status_code == 204
        assert (await view(cases, fresh["token"])).status_code == 404
        assert (await doctor.get(path)).status_code == 404 and (await doctor.delete(path)).status_code == 404

        last = await ok(await doctor.post(path, json={}), 201)
        async with cases.sessions() as session, session.begin():
            await session.execute(sa.update(PatientLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert (await view(cases, last["token"])).status_code == 404  # expired
        assert (await view(cases, "not-a-token")).status_code == 404
        async with cases.doctor(order.doctor_id) as owner:
            assert (await owner.get(f"/patient-links/{last['token']}")).status_code == 403  # the public page's route


async def test_wrong_passwords_from_one_address_are_throttled_across_links(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = cases_settings(tmp_path, vhost_url, database_url, patient_link_max_failures_per_address=3)
    async with running_cases(settings) as strict:
        tokens = []
        async with strict.staff() as lab:
            for _ in range(2):
                order = new_order()
                await submitted_case(strict, order)
                await ok(await lab.post(f"/staff/cases/{order.case_id}/setups", json=SETUP), 201)
                async with strict.doctor(order.doctor_id) as doctor:
                    tokens.append(
                        (
                            await ok(
                                await doctor.post(
                                    f"/cases/{order.case_id}/patient-link", json={"password": "secret-1"}
                                ),
                                201,
                            )
                        )["token"]
                    )
        for token in (tokens[0], tokens[0], tokens[1]):
            assert (await view(strict, token, "bad", address="203.0.113.9")).status_code == 401
        assert (await view(strict, tokens[1], "secret-1", address="203.0.113.9")).status_code == 429
        assert (await view(strict, tokens[1], "secret-1", address="203.0.113.10")).status_code == 200
