"""API keys: a person signed in creates them, sees the secret once, uses it as a bearer token within its scopes,
and revokes it; keys never manage keys nor change the account."""

from __future__ import annotations

from sqlalchemy import select

from services.gateway.models import ApiKey, AuditEntry
from services.gateway.tests.conftest import Gateway, database_rows, sign_up
from shared.credentials import digest


async def create_key(gateway: Gateway, token: str, scopes: list[str], name: str = "practice software") -> dict:
    """Create a key as the person signed in with ``token``; returns the creation answer."""
    async with gateway.client(token) as client:
        created = await client.post("/account/api-keys", json={"name": name, "scopes": scopes})
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_key_reads_until_revoked_then_gets_401(gateway: Gateway) -> None:
    account, token = await sign_up(gateway)
    key = await create_key(gateway, token, ["read"])
    assert key["secret"].startswith("dpk_") and key["scopes"] == ["read"] and key["name"] == "practice software"
    async with gateway.client(key["secret"]) as integration, gateway.client(token) as person:
        read = await integration.get("/account")
        assert read.status_code == 200, read.text
        assert read.json()["id"] == account["id"]
        assert (await person.delete(f"/account/api-keys/{key['id']}")).status_code == 204
        refused = await integration.get("/account")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert (await person.get("/account/api-keys")).json()["items"] == []  # revoked keys are not listed
        assert (await person.delete(f"/account/api-keys/{key['id']}")).status_code == 404


async def test_the_secret_appears_only_in_the_creation_answer_and_last_use_is_recorded(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    key = await create_key(gateway, token, ["read", "write", "read"])
    assert key["scopes"] == ["read", "write"]
    async with gateway.client(token) as person:
        listed = await person.get("/account/api-keys")
        assert listed.status_code == 200, listed.text
        assert key["secret"] not in listed.text
        (item,) = listed.json()["items"]
        assert item == {**{k: key[k] for k in ("id", "name", "scopes", "created_at")}, "last_used_at": None}
        assert listed.json()["total"] == 1
        async with gateway.client(key["secret"]) as integration:
            assert (await integration.get("/account")).status_code == 200
        (used,) = (await person.get("/account/api-keys")).json()["items"]
        assert used["last_used_at"] is not None and used["last_used_at"] >= used["created_at"]
    stored = await database_rows(gateway.settings, select(ApiKey.secret_digest).where(ApiKey.id == key["id"]))
    assert stored == [(digest(key["secret"]),)]


async def test_scopes_decide_which_methods_a_key_may_use(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    reader = await create_key(gateway, token, ["read"])
    writer = await create_key(gateway, token, ["write"])
    async with gateway.client(reader["secret"]) as read_only, gateway.client(writer["secret"]) as write_only:
        refused = await read_only.post("/auth/logout")
        assert refused.status_code == 403 and "'write' scope" in refused.json()["detail"]
        passed = await write_only.post("/auth/logout")
        assert passed.status_code == 400, passed.text  # past the scope check: a key has no session to end
        refused_read = await write_only.get("/account")
        assert refused_read.status_code == 403 and "'read' scope" in refused_read.json()["detail"]


async def test_an_api_key_cannot_manage_api_keys(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    key = await create_key(gateway, token, ["read", "write"])
    async with gateway.client(key["secret"]) as integration:
        for answer in (
            await integration.post("/account/api-keys", json={"name": "another", "scopes": ["write"]}),
            await integration.get("/account/api-keys"),
            await integration.delete(f"/account/api-keys/{key['id']}"),
        ):
            assert answer.status_code == 403, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
    async with gateway.client(token) as person:
        assert [k["id"] for k in (await person.get("/account/api-keys")).json()["items"]] == [key["id"]]


async def test_an_api_key_cannot_change_the_account(gateway: Gateway) -> None:
    account, token = await sign_up(gateway)
    key = await create_key(gateway, token, ["read", "write"])
    async with gateway.client(key["secret"]) as integration:
        for body in ({"email": "taken-over@example.org"}, {"first_name": "Mallory"}):
            refused = await integration.patch("/account", json=body)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
        unchanged = (await integration.get("/account")).json()
        assert (unchanged["email"], unchanged["first_name"]) == (account["email"], account["first_name"])
    async with gateway.client(token) as person:
        changed = await person.patch("/account", json={"first_name": "Zoé"})
        assert changed.status_code == 200, changed.text  # the same change, by the person signed in
        assert changed.json()["first_name"] == "Zoé"


async def test_another_doctor_cannot_see_or_revoke_my_key(gateway: Gateway) -> None:
    _, mine = await sign_up(gateway)
    intruder, theirs = await sign_up(gateway)
    key = await create_key(gateway, mine, ["read"])
    async with gateway.client(theirs) as other:
        refused = await other.delete(f"/account/api-keys/{key['id']}")
        assert refused.status_code == 404, refused.text
        assert (await other.get("/account/api-keys")).json()["items"] == []
    async with gateway.client(key["secret"]) as integration:
        assert (await integration.get("/account")).status_code == 200
    audited = await database_rows(
        gateway.settings, select(AuditEntry.actor_id, AuditEntry.outcome).where(AuditEntry.object_id == key["id"])
    )
    assert audited == [(intruder["id"], "denied")]


async def test_at_most_twenty_active_keys(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    keys = [await create_key(gateway, token, ["read"], name=f"key {n}") for n in range(20)]
    async with gateway.client(token) as person:
        refused = await person.post("/account/api-keys", json={"name": "one too many", "scopes": ["read"]})
        assert refused.status_code == 409, refused.text
        page = (await person.get("/account/api-keys", params={"page": 2, "page_size": 15})).json()
        assert (len(page["items"]), page["total"], page["page"], page["page_size"]) == (5, 20, 2, 15)
        assert (await person.delete(f"/account/api-keys/{keys[0]['id']}")).status_code == 204
        again = await person.post("/account/api-keys", json={"name": "replacement", "scopes": ["read"]})
        assert again.status_code == 201, again.text


async def test_invalid_key_requests_get_422(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as person:
        for body in (
            {"name": "ok", "scopes": []},
            {"name": "ok", "scopes": ["admin"]},
            {"name": "", "scopes": ["read"]},
            {"name": "x" * 101, "scopes": ["read"]},
            {"name": "ok", "scopes": ["read"], "secret": "dpk_chosen-by-me"},
        ):
            refused = await person.post("/account/api-keys", json=body)
            assert refused.status_code == 422, (body, refused.text)
        assert (await person.get("/account/api-keys")).json()["total"] == 0
