"""A doctor lists (paged), adds, changes and deletes their practices; nobody else can, and the last one stays."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from services.gateway.models import AuditEntry
from services.gateway.tests.conftest import (
    Gateway,
    assert_paged,
    database_rows,
    fields,
    list_items,
    sign_up,
    staff_token,
)

SECOND = {
    "name": "Clinique du Parc",
    "address": {
        "line1": "3 place Bellecour",
        "line2": "2e étage",
        "city": "Lyon",
        "postal_code": "69002",
        "region": "Auvergne-Rhône-Alpes",
        "country": "FR",
    },
    "phone": "+33 4 78 00 00 01",
}


async def test_list_add_change_and_delete_practices(gateway: Gateway) -> None:
    account, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        (first,) = await list_items(client, "/account/practices")
        assert first["name"] == "Cabinet Lefèvre" and first["address"]["country"] == "FR"

        created = await client.post("/account/practices", json=SECOND)
        assert created.status_code == 201, created.text
        second = created.json()
        assert {key: second[key] for key in SECOND} == SECOND
        assert [p["id"] for p in await list_items(client, "/account/practices")] == [first["id"], second["id"]]

        renamed = await client.patch(f"/account/practices/{second['id']}", json={"name": "Clinique Bellecour"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Clinique Bellecour" and renamed.json()["address"] == SECOND["address"]

        moved = {"line1": "1 quai Perrache", "city": "Lyon", "postal_code": "69002", "country": "FR"}
        changed = await client.patch(f"/account/practices/{second['id']}", json={"address": moved, "phone": None})
        assert changed.status_code == 200, changed.text
        assert changed.json()["address"] == {**moved, "line2": None, "region": None}, "the address is replaced whole"
        assert changed.json()["phone"] is None
        listed = await list_items(client, "/account/practices")
        assert listed[1] == changed.json() and listed[0] == first

        deleted = await client.delete(f"/account/practices/{second['id']}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert await list_items(client, "/account/practices") == [first]


async def test_invalid_bodies_are_refused_naming_the_field(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    other, _ = await sign_up(gateway)
    async with gateway.client(token) as client:
        (first,) = await list_items(client, "/account/practices")
        france = {**SECOND, "address": {**SECOND["address"], "country": "France"}}
        assert fields(await client.post("/account/practices", json=france)) == ["address.country"]
        for smuggled in ({"doctor_id": other["id"]}, {"id": str(uuid.uuid4())}):
            assert fields(await client.post("/account/practices", json={**SECOND, **smuggled})) == list(smuggled)
            patch = await client.patch(f"/account/practices/{first['id']}", json=smuggled)
            assert fields(patch) == list(smuggled)
        missing_city: dict[str, Any] = {
            "address": {"line1": "1 quai Perrache", "postal_code": "69002", "country": "FR"}
        }
        assert fields(await client.patch(f"/account/practices/{first['id']}", json=missing_city)) == ["address.city"]
        cleared = await client.patch(f"/account/practices/{first['id']}", json={"name": None, "address": None})
        assert sorted(fields(cleared)) == ["address", "name"]
        assert fields(await client.patch(f"/account/practices/{first['id']}", json={"phone": "call me"})) == ["phone"]
        assert await list_items(client, "/account/practices") == [first], "nothing was created or changed"


async def test_another_doctors_practice_is_not_found_and_the_attempt_audited(gateway: Gateway) -> None:
    owner, owner_token = await sign_up(gateway)
    intruder, intruder_token = await sign_up(gateway)
    async with gateway.client(owner_token) as client:
        created = await client.post("/account/practices", json=SECOND)
        assert created.status_code == 201, created.text
        practice = created.json()
    async with gateway.client(intruder_token) as client:
        patched = await client.patch(f"/account/practices/{practice['id']}", json={"name": "Mine now"})
        deleted = await client.delete(f"/account/practices/{practice['id']}")
        unknown = await client.delete(f"/account/practices/{uuid.uuid4()}")
        assert [r.status_code for r in (patched, deleted, unknown)] == [404, 404, 404]
        assert patched.json()["detail"] == unknown.json()["detail"], "a 404 never tells whether the practice exists"
        assert practice["id"] not in {p["id"] for p in await list_items(client, "/account/practices")}
    async with gateway.client(owner_token) as client:
        assert (await list_items(client, "/account/practices"))[1] == practice
    audited = select(AuditEntry.actor_id, AuditEntry.outcome, AuditEntry.owner_doctor_id)
    entries = await database_rows(gateway.settings, audited.where(AuditEntry.object_id == practice["id"]))
    assert entries == [(intruder["id"], "denied", owner["id"])] * 2


async def test_the_last_practice_cannot_be_deleted(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        (only,) = await list_items(client, "/account/practices")
        refused = await client.delete(f"/account/practices/{only['id']}")
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        second = (await client.post("/account/practices", json=SECOND)).json()
        assert (await client.delete(f"/account/practices/{only['id']}")).status_code == 204
        assert (await client.delete(f"/account/practices/{second['id']}")).status_code == 409
        assert await list_items(client, "/account/practices") == [second]


async def test_practices_are_for_doctors_only(gateway: Gateway) -> None:
    _, doctor_token = await sign_up(gateway)
    async with gateway.client(doctor_token) as client:
        (practice,) = await list_items(client, "/account/practices")
    async with gateway.client(await staff_token(gateway)) as staff:
        answers = [
            await staff.get("/account/practices"),
            await staff.post("/account/practices", json=SECOND),
            await staff.patch(f"/account/practices/{practice['id']}", json={"name": "Lab"}),
            await staff.delete(f"/account/practices/{practice['id']}"),
        ]
    assert [answer.status_code for answer in answers] == [403] * 4
    async with gateway.client(doctor_token) as client:
        assert await list_items(client, "/account/practices") == [practice]


async def test_practices_are_listed_page_by_page(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        (first,) = await list_items(client, "/account/practices")
        added = [await client.post("/account/practices", json={**SECOND, "name": f"Practice {n}"}) for n in range(4)]
        assert [answer.status_code for answer in added] == [201] * 4
        await assert_paged(client, "/account/practices", [first["id"], *(answer.json()["id"] for answer in added)])
