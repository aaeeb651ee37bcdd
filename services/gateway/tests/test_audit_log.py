"""A doctor reads the audit log of their own data: newest first, paged, filtered by case, and never changeable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.gateway.models import AuditEntry
from services.gateway.tests.conftest import Gateway, add_account, insert_rows, sign_in, sign_up

AUDIT_LOG = "/account/audit-log"
FIELDS = {
    "id",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "client_address",
    "outcome",
    "details",
}


def entry(owner: str, at: datetime, case_id: str | None, **fields: object) -> AuditEntry:
    """A case read by a collaborator, owned by ``owner``."""
    values: dict[str, object] = {
        "at": at,
        "actor_id": str(uuid.uuid4()),
        "actor_role": "collaborator",
        "action": "case.read",
        "object_type": "case",
        "object_id": case_id,
        "case_id": case_id,
        "owner_doctor_id": owner,
        "client_address": "203.0.113.7",
        "outcome": "allowed",
        "details": {"via": "web"},
        **fields,
    }
    return AuditEntry(**values)  # type: ignore[arg-type]


async def everything(client: httpx.AsyncClient, **params: object) -> list[dict[str, object]]:
    """Every item of the caller's audit log (with ``params``), page by page."""
    items: list[dict[str, object]] = []
    page = 1
    while True:
        answer = await client.get(AUDIT_LOG, params={**params, "page": page, "page_size": 2})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        if page * 2 >= body["total"]:
            return items
        page += 1


async def test_newest_first_paged_and_only_mine(gateway: Gateway) -> None:
    me, token = await sign_up(gateway)
    other, _ = await sign_up(gateway)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    case = str(uuid.uuid4())
    mine = [entry(str(me["id"]), start + timedelta(minutes=minute), case) for minute in (3, 0, 4, 1, 2)]
    theirs = [entry(str(other["id"]), start + timedelta(minutes=10), case), entry("", start, case)]
    await insert_rows(gateway.settings, [*mine, *theirs])

    async with gateway.client(token) as client:
        first = await client.get(AUDIT_LOG)
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["page"], body["page_size"], body["total"]) == (1, 50, 5)
        assert set(body["items"][0]) == FIELDS
        newest = body["items"][0]
        assert newest["at"].startswith("2026-03-01T09:04:00") and newest["case_id"] == case
        assert newest["actor_role"] == "collaborator" and newest["client_address"] == "203.0.113.7"
        assert newest["details"] == {"via": "web"} and newest["outcome"] == "allowed"
        times = [item["at"] for item in body["items"]]
        assert times == sorted(times, reverse=True) and len(set(times)) == 5

        second = (await client.get(AUDIT_LOG, params={"page": 2, "page_size": 2})).json()
        assert (second["page"], second["page_size"], second["total"]) == (2, 2, 5)
        assert [item["id"] for item in second["items"]] == [item["id"] for item in body["items"][2:4]]
        last = (await client.get(AUDIT_LOG, params={"page": 3, "page_size": 2})).json()
        assert [item["id"] for item in last["items"]] == [body["items"][4]["id"]]
        beyond = (await client.get(AUDIT_LOG, params={"page": 9})).json()
        assert beyond["items"] == [] and beyond["total"] == 5
        assert {item["id"] for item in await everything(client)} == {row.id for row in mine}

        big = await client.get(AUDIT_LOG, params={"page_size": 200})
        assert big.status_code == 200 and big.json()["page_size"] == 200
        for params in ({"page": 0}, {"page_size": 0}, {"page_size": 201}, {"page": "first"}):
            assert (await client.get(AUDIT_LOG, params=params)).status_code == 422, params


async def test_filter_by_case(gateway: Gateway) -> None:
    me, token = await sign_up(gateway)
    other, _ = await sign_up(gateway)
    start = datetime(2026, 4, 2, 15, 30, tzinfo=UTC)
    first_case, second_case = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        entry(str(me["id"]), start, first_case),
        entry(str(me["id"]), start + timedelta(seconds=1), second_case),
        entry(str(me["id"]), start + timedelta(seconds=2), first_case, action="document.download", outcome="denied"),
        entry(str(me["id"]), start + timedelta(seconds=3), None, action="collaborators.access"),
        entry(str(other["id"]), start + timedelta(seconds=4), first_case),
    ]
    await insert_rows(gateway.settings, rows)

    async with gateway.client(token) as client:
        first = (await client.get(AUDIT_LOG, params={"case_id": first_case})).json()
        assert first["total"] == 2
        assert [item["id"] for item in first["items"]] == [rows[2].id, rows[0].id]
        assert first["items"][0]["action"] == "document.download" and first["items"][0]["outcome"] == "denied"
        second = (await client.get(AUDIT_LOG, params={"case_id": second_case})).json()
        assert [item["id"] for item in second["items"]] == [rows[1].id]
        paged = (await client.get(AUDIT_LOG, params={"case_id": first_case, "page": 2, "page_size": 1})).json()
        assert paged["total"] == 2 and [item["id"] for item in paged["items"]] == [rows[0].id]
        none = (await client.get(AUDIT_LOG, params={"case_id": str(uuid.uuid4())})).json()
        assert none == {"items": [], "page": 1, "page_size": 50, "total": 0}
        assert (await client.get(AUDIT_LOG)).json()["total"] == 4


async def test_the_log_is_append_only(gateway: Gateway) -> None:
    me, token = await sign_up(gateway)
    row = entry(str(me["id"]), datetime(2026, 5, 1, tzinfo=UTC), str(uuid.uuid4()))
    await insert_rows(gateway.settings, [row])
    root = gateway.base.removesuffix("/api/v1")
    async with httpx.AsyncClient(timeout=30) as client:
        document = (await client.get(f"{root}/openapi.json")).json()
    for path, operations in document["paths"].items():
        if "audit" in path:
            assert set(operations) <= {"get", "parameters"}, (path, sorted(operations))
    async with gateway.client(token) as client:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for path in (AUDIT_LOG, f"{AUDIT_LOG}/{row.id}"):
                answer = await client.request(method, path, json={"outcome": "allowed"})
                assert answer.status_code in (404, 405), (method, path, answer.status_code)
        items = (await client.get(AUDIT_LOG)).json()["items"]
    assert [(item["id"], item["outcome"]) for item in items] == [(row.id, "allowed")]


async def test_only_doctors_read_an_audit_log(gateway: Gateway) -> None:
    async with gateway.client() as anonymous:
        assert (await anonymous.get(AUDIT_LOG)).status_code == 401
    async with gateway.client("dps_not-a-session") as stranger:
        assert (await stranger.get(AUDIT_LOG)).status_code == 401
    await add_account(gateway, "customer.care@lab.example.org", "staff")
    async with gateway.client(await sign_in(gateway, "customer.care@lab.example.org")) as staff:
        assert (await staff.get(AUDIT_LOG)).status_code == 403
