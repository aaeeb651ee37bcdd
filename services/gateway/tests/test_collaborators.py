"""A doctor invites, lists and removes collaborators; the invitation is published; nobody else can touch them."""

from __future__ import annotations

from services.gateway.tests.conftest import Gateway, add_account, listening, next_envelope, sign_in, sign_up

COLLABORATORS = "/account/collaborators"


async def test_invite_list_and_remove(gateway: Gateway) -> None:
    me, token = await sign_up(gateway)
    colleague, _ = await sign_up(gateway)
    async with gateway.client(token) as client:
        empty = await client.get(COLLABORATORS)
        assert empty.status_code == 200, empty.text
        assert empty.json() == {"items": [], "page": 1, "page_size": 50, "total": 0}

        async with listening(gateway, "collaborator.invited.v1") as queue:
            invited = await client.post(
                COLLABORATORS, json={"email": str(colleague["email"]).upper(), "permissions": ["view", "comment"]}
            )
            assert invited.status_code == 201, invited.text
            first = invited.json()
            assert first["email"] == colleague["email"]
            assert first["permissions"] == ["view", "comment"]
            assert first["registered"] is True
            assert first["id"] and first["created_at"]
            envelope = await next_envelope(queue)
        assert envelope["type"] == "collaborator.invited" and envelope["subject"] == first["id"]
        assert envelope["source"] == "gateway" and envelope["aggregate_version"] == 1
        assert envelope["payload"] == {
            "doctor_id": me["id"],
            "collaborator_id": first["id"],
            "email": colleague["email"],
            "permissions": ["view", "comment"],
        }

        stranger = await client.post(
            COLLABORATORS, json={"email": "tpo.expert@example.org", "permissions": ["evaluate_setups", "view", "view"]}
        )
        assert stranger.status_code == 201, stranger.text
        second = stranger.json()
        assert second["registered"] is False
        assert second["permissions"] == ["view", "evaluate_setups"]

        listed = (await client.get(COLLABORATORS)).json()
        assert listed["total"] == 2
        assert [item["id"] for item in listed["items"]] == [first["id"], second["id"]]
        assert listed["items"][0] == first
        paged = (await client.get(COLLABORATORS, params={"page": 2, "page_size": 1})).json()
        assert (paged["total"], paged["page"], paged["page_size"]) == (2, 2, 1)
        assert [item["id"] for item in paged["items"]] == [second["id"]]

        removed = await client.delete(f"{COLLABORATORS}/{first['id']}")
        assert removed.status_code == 204, removed.text
        assert (await client.delete(f"{COLLABORATORS}/{first['id']}")).status_code == 404
        remaining = (await client.get(COLLABORATORS)).json()
        assert [item["id"] for item in remaining["items"]] == [second["id"]]
        again = await client.post(COLLABORATORS, json={"email": colleague["email"], "permissions": ["view"]})
        assert again.status_code == 201, again.text


async def test_invalid_invitations(gateway: Gateway) -> None:
    me, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        myself = await client.post(COLLABORATORS, json={"email": str(me["email"]).upper(), "permissions": ["view"]})
        assert myself.status_code == 422, myself.text

        body = {"email": "colleague@example.org", "permissions": ["view"]}
        assert (await client.post(COLLABORATORS, json=body)).status_code == 201
        twice = await client.post(COLLABORATORS, json={**body, "email": "Colleague@Example.org"})
        assert twice.status_code == 409, twice.text

        for bad, field in (
            ({"email": "x@example.org", "permissions": []}, "permissions"),
            ({"email": "x@example.org", "permissions": ["approve"]}, "permissions[0]"),
            ({"email": "x@example.org"}, "permissions"),
            ({"email": "not an e-mail", "permissions": ["view"]}, "email"),
            ({"email": "x@example.org", "permissions": ["view"], "doctor_id": me["id"]}, "doctor_id"),
        ):
            refused = await client.post(COLLABORATORS, json=bad)
            assert refused.status_code == 422, (bad, refused.text)
            assert field in [error["field"] for error in refused.json()["errors"]], (bad, refused.text)
        assert (await client.get(COLLABORATORS)).json()["total"] == 1


async def test_another_doctor_cannot_remove_my_collaborator_and_i_see_the_attempt(gateway: Gateway) -> None:
    me, mine = await sign_up(gateway)
    other, theirs = await sign_up(gateway)
    async with gateway.client(mine) as client:
        created = await client.post(COLLABORATORS, json={"email": "colleague@example.org", "permissions": ["view"]})
        assert created.status_code == 201, created.text
    collaborator_id = created.json()["id"]

    async with gateway.client(theirs) as client:
        refused = await client.delete(f"{COLLABORATORS}/{collaborator_id}")
        assert refused.status_code == 404, refused.text
        unknown = await client.delete(f"{COLLABORATORS}/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404
        assert refused.json()["detail"] == unknown.json()["detail"]
        assert (await client.get(COLLABORATORS)).json()["total"] == 0
        assert (await client.get("/account/audit-log")).json()["total"] == 0

    async with gateway.client(mine) as client:
        assert [item["id"] for item in (await client.get(COLLABORATORS)).json()["items"]] == [collaborator_id]
        log = (await client.get("/account/audit-log")).json()
    denied = [entry for entry in log["items"] if entry["outcome"] == "denied"]
    assert len(denied) == 1, log
    assert denied[0]["actor_id"] == other["id"] and denied[0]["actor_role"] == "doctor"
    assert denied[0]["object_id"] == collaborator_id and denied[0]["object_type"] == "collaborators"
    assert denied[0]["client_address"] == "127.0.0.1"
    assert me["id"] != other["id"]


async def test_only_doctors_have_collaborators(gateway: Gateway) -> None:
    await add_account(gateway, "technician@lab.example.org", "staff")
    token = await sign_in(gateway, "technician@lab.example.org")
    async with gateway.client() as anonymous:
        assert (await anonymous.get(COLLABORATORS)).status_code == 401
        body = {"email": "a@example.org", "permissions": ["view"]}
        assert (await anonymous.post(COLLABORATORS, json=body)).status_code == 401
    async with gateway.client(token) as staff:
        assert (await staff.get(COLLABORATORS)).status_code == 403
        assert (await staff.post(COLLABORATORS, json=body)).status_code == 403
        assert (await staff.delete(f"{COLLABORATORS}/00000000-0000-4000-8000-000000000000")).status_code == 403


async def test_a_staff_account_is_not_a_registered_collaborator(gateway: Gateway) -> None:
    await add_account(gateway, "qc@lab.example.org", "staff")
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        invited = await client.post(COLLABORATORS, json={"email": "qc@lab.example.org", "permissions": ["view"]})
        assert invited.status_code == 201, invited.text
        assert invited.json()["registered"] is False
