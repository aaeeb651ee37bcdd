"""Patients and orders through the gateway: relayed to the real orders service with an internal token, the
doctor's defaults filled in, and 503 when the orders service cannot be reached; with several replicas listed, each
takes requests in turn and one that refuses connections is skipped."""

from __future__ import annotations

from pathlib import Path

from services.gateway.tests.conftest import gateway_settings, list_items, running_gateway, sign_up
from tests.harness.databases import sqlite_url
from tests.harness.proxy import FaultProxy
from tests.harness.rabbit import free_port
from tests.harness.system import running_portal


async def test_orders_through_the_gateway_get_the_doctors_defaults(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    async with running_portal(tmp_path, vhost_url, database_url, ("orders",)) as portal:
        gateway = portal.gateway
        _, token = await sign_up(gateway)
        async with gateway.client(token) as client:
            practice = (await list_items(client, "/account/practices"))[0]
            preferences = (await client.get("/account/preferences")).json()
            await client.put("/account/preferences", json={**preferences, "wear_schedule_days": 10})
            patient = await client.post(
                "/patients",
                json={"first_name": "Zoë", "last_name": "Martin", "date_of_birth": "2010-04-02", "sex": "female"},
            )
            assert patient.status_code == 201, patient.text
            created = await client.post("/orders", json={"kind": "aligner", "patient_id": patient.json()["id"]})
            assert created.status_code == 201, created.text
            order = created.json()
            assert order["status"] == "draft" and order["order_number"].startswith("DP-")
            assert order["general"]["practice_id"] == practice["id"]
            assert order["general"]["wear_schedule_days"] == 10
            assert order["treatment_approach"]["ipr_allowed"] is True
            found = await client.get("/patients", params={"q": "zoe"})
            assert [p["id"] for p in found.json()["items"]] == [patient.json()["id"]]
            missing = await client.get("/orders/00000000-0000-0000-0000-000000000000")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
        _, other = await sign_up(gateway)
        async with gateway.client(other) as client:
            assert (await client.get(f"/orders/{order['id']}")).status_code == 404
            foreign = await client.post("/orders", json={"kind": "aligner", "general": {"practice_id": practice["id"]}})
            assert foreign.status_code == 422
            assert foreign.json()["errors"] == [
                {"field": "general.practice_id", "message": "not one of your practices"}
            ]


async def test_orders_service_down_gives_503_with_retry_after(tmp_path: Path, vhost_url: str) -> None:
    settings = gateway_settings(
        tmp_path, vhost_url, sqlite_url(tmp_path, "gateway"), orders_url=f"http://127.0.0.1:{free_port()}"
    )
    async with running_gateway(settings) as gateway:
        _, token = await sign_up(gateway)
        async with gateway.client(token) as client:
            answer = await client.get("/patients")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json()["detail"] == "the orders service is unavailable"


async def test_requests_take_the_replicas_in_turn_and_skip_one_that_is_down(tmp_path: Path, vhost_url: str) -> None:
    async with running_portal(tmp_path, vhost_url, sqlite_url(tmp_path, "gateway"), ("orders",)) as portal:
        orders_port = int(portal.bases["orders"].rsplit(":", 1)[1])
        first, second = [await FaultProxy("127.0.0.1", orders_port).start() for _ in range(2)]
        try:
            replicas = f"{first.url}, {second.url}/"
            settings = portal.gateway.settings.model_copy(update={"orders_url": replicas})
            async with running_gateway(settings) as gateway:
                _, token = await sign_up(gateway)
                async with gateway.client(token) as client:
                    assert [(await client.get("/patients")).status_code for _ in range(4)] == [200] * 4
                    assert first.connections >= 1 and second.connections >= 1
                    await first.stop()
                    assert [(await client.get("/patients")).status_code for _ in range(4)] == [200] * 4
                    await second.stop()
                    answer = await client.get("/patients")
                    assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
        finally:
            await first.close()
            await second.close()


async def test_relay_keeps_ids_in_their_path_segment_and_refuses_non_finite_numbers(
    tmp_path: Path, vhost_url: str
) -> None:
    async with running_portal(tmp_path, vhost_url, sqlite_url(tmp_path, "gateway"), ("orders",)) as portal:
        gateway = portal.gateway
        _, token = await sign_up(gateway)
        async with gateway.client(token) as client:
            draft = (await client.post("/orders", json={"kind": "aligner"})).json()
            smuggled = await client.delete(f"/orders/{draft['id']}%3Fx=1")
            assert smuggled.status_code == 404  # "<id>?x=1" is one (unknown) id, not the draft with a query
            assert (await client.get(f"/orders/{draft['id']}")).status_code == 200
            question = await client.get("/orders/%3F")
            assert question.status_code == 404 and "location" not in question.headers
            infinite = await client.post(
                "/orders",
                content=b'{"kind": "aligner", "terms_accepted": 1e400}',
                headers={"content-type": "application/json"},
            )
            assert infinite.status_code == 422, infinite.text
            assert infinite.json()["errors"][0]["message"] == "numbers must be finite (no NaN, no infinity)"


async def test_a_draft_whose_practice_was_deleted_is_not_submitted(tmp_path: Path, vhost_url: str) -> None:
    async with running_portal(tmp_path, vhost_url, sqlite_url(tmp_path, "gateway"), ("orders",)) as portal:
        gateway = portal.gateway
        _, token = await sign_up(gateway)
        async with gateway.client(token) as client:
            first = (await list_items(client, "/account/practices"))[0]
            annexe = await client.post(
                "/account/practices",
                json={"name": "Annexe", "address": first["address"], "phone": first["phone"]},
            )
            assert annexe.status_code == 201, annexe.text
            retainer = {
                "kind": "retainer",
                "patient": {
                    "first_name": "Léa",
                    "last_name": "Petit",
                    "date_of_birth": "2001-02-03",
                    "sex": "female",
                },
                "general": {"practice_id": annexe.json()["id"], "arches": "both"},
                "retainer": {"source": "new_scans", "sets": 2, "shipping_method": "standard"},
                "terms_accepted": True,
            }
            draft = (await client.post("/orders", json=retainer)).json()
            assert (await client.delete(f"/account/practices/{annexe.json()['id']}")).status_code == 204
            refused = await client.post(f"/orders/{draft['id']}/submit")
            assert refused.status_code == 422, refused.text
            assert [e["field"] for e in refused.json()["errors"]] == ["general.practice_id"]
            repointed = await client.patch(f"/orders/{draft['id']}", json={"general": {"practice_id": first["id"]}})
            assert repointed.status_code == 200, repointed.text
            submitted = await client.post(f"/orders/{draft['id']}/submit")
            assert submitted.status_code == 202, submitted.text
