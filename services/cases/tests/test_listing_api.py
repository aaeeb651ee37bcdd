"""The orders list over HTTP on SQLite and PostgreSQL: each sort key in both directions (empty values last, the id
breaking ties), each filter, accent- and case-insensitive search, paging totals, and who sees which cases. The rows
are written straight into the read model, as events and actions would have left them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.cases.lifecycle import refresh_search, set_patient, set_status
from services.cases.listing import SORT_COLUMNS
from services.cases.models import Case, CaseCollaborator
from services.cases.tests.conftest import Cases, ok
from shared.internal_token import Collaboration

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def seeded(doctor_id: str, number: str, first: str, last: str, status: str, **fields: Any) -> Case:
    """A case row as the service would hold it."""
    case = Case(
        id=str(uuid.uuid4()),
        doctor_id=doctor_id,
        order_number=number,
        status="",
        status_rank=0,
        bucket="",
        created_at=fields.pop("created_at"),
        version=1,
        **fields,
    )
    set_status(case, status)
    set_patient(case, str(uuid.uuid4()), first, last)
    refresh_search(case)
    return case


@pytest.fixture
async def listed(cases: Cases) -> dict[str, Any]:
    """Doctor A's seven cases (one of each kind of value, empty ones included), one of B's, and one of C's that C
    shares with A."""
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    async with cases.doctor(a) as doctor:
        labels = await ok(await doctor.get("/labels"))
    red, blue = labels[0]["id"], labels[5]["id"]
    rows = [
        seeded(
            a,
            "DP-2026-000105",
            "Zoë",
            "Lefèvre",
            "setup_approval_pending",
            created_at=T0,
            setup_version=1,
            setup_published_at=T0 + 3 * DAY,
            setup_state="pending",
            label_id=blue,
            collaborator_status="setup_pending",
        ),
        seeded(
            a,
            "DP-2026-000101",
            "Noé",
            "Martin",
            "in_production",
            created_at=T0 + DAY,
            setup_version=2,
            setup_published_at=T0 + 2 * DAY,
            setup_state="approved",
            package="ONE",
            label_id=red,
        ),
        seeded(
            a,
            "DP-2026-000103",
            "Émile",
            "Dubois",
            "shipped",
            created_at=T0 + 2 * DAY,
            package="TWO",
            expires_at=T0 + 400 * DAY,
            collaborator_status="approved",
        ),
        seeded(a, "DP-2026-000102", "Zoe", "Abel", "incomplete_submission", created_at=T0 + 3 * DAY),
        seeded(a, "DP-2026-000104", "Léa", "Straße", "cancelled", created_at=T0 + 4 * DAY),
        seeded(
            a,
            "DP-2026-000106",
            "Inès",
            "Núñez",
            "shipped",
            created_at=T0 + 5 * DAY,
            package="ONE",
            expires_at=T0 + 200 * DAY,
        ),
        seeded(
            a,
            "DP-2026-000107",
            "Zoë",
            "Lefèvre",
            "expired",
            created_at=T0 + 5 * DAY,
            package="MINI",
            expires_at=T0 + 100 * DAY,
        ),
    ]
    theirs = seeded(b, "DP-2026-000201", "Zoë", "Autre", "shipped", created_at=T0)
    shared = seeded(c, "DP-2026-000301", "Zoë", "Partagée", "setup_in_progress", created_at=T0 + 6 * DAY)
    async with cases.sessions() as session, session.begin():
        session.add_all([*rows, theirs, shared, CaseCollaborator(case_id=shared.id, collaborator_id="collab-of-c")])
    collaboration = Collaboration("collab-of-c", c, ("view",))
    return {
        "a": a,
        "b": b,
        "rows": rows,
        "theirs": theirs,
        "shared": shared,
        "collaboration": collaboration,
        "labels": labels,
    }


def expected_order(rows: list[Case], key: str, labels: dict[str, str]) -> list[str]:
    """The ids of ``rows`` in the order ``sort=key`` must give: by the column, empty values last, then by id."""
    name = key.removeprefix("-")
    descending = key.startswith("-")
    value = {
        "order_number": lambda c: c.order_number,
        "patient_name": lambda c: c.patient_sort_key,
        "created_at": lambda c: c.created_at,
        "status": lambda c: c.status_rank,
        "setup_published_at": lambda c: c.setup_published_at,
        "collaborator_status": lambda c: c.collaborator_status,
        "expires_at": lambda c: c.expires_at,
        "label": lambda c: labels[c.label_id].lower() if c.label_id else None,
    }[name]
    present = sorted((c for c in rows if value(c) is not None), key=lambda c: (value(c), c.id), reverse=descending)
    empty = sorted((c for c in rows if value(c) is None), key=lambda c: c.id, reverse=descending)
    return [c.id for c in present + empty]


async def ids(client: Any, **params: Any) -> list[str]:
    body = await ok(await client.get("/cases", params={"page_size": 200, **params}))
    assert body["total"] == len(body["items"]), body
    return [item["id"] for item in body["items"]]


async def test_every_sort_key_in_both_directions(cases: Cases, listed: dict[str, Any]) -> None:
    rows = listed["rows"]
    names = {label["id"]: label["name"] for label in listed["labels"]}
    async with cases.doctor(listed["a"]) as doctor:
        for name in SORT_COLUMNS:
            for key in (name, f"-{name}"):
                assert await ids(doctor, sort=key) == expected_order(rows, key, names), key
        assert await ids(doctor) == expected_order(rows, "-created_at", names)  # the default: newest first
        assert (await doctor.get("/cases", params={"sort": "doctor_id"})).status_code == 422


async def test_each_filter_search_and_paging(cases: Cases, listed: dict[str, Any]) -> None:
    rows: list[Case] = listed["rows"]
    by_number = {case.order_number: case.id for case in rows}
    async with cases.doctor(listed["a"]) as doctor:
        assert set(await ids(doctor, status=["shipped", "expired"])) == {
            by_number["DP-2026-000103"],
            by_number["DP-2026-000106"],
            by_number["DP-2026-000107"],
        }
        assert set(await ids(doctor, bucket="archive")) == {by_number["DP-2026-000104"], by_number["DP-2026-000107"]}
        assert set(await ids(doctor, bucket="action_required")) == {
            by_number["DP-2026-000105"],
            by_number["DP-2026-000102"],
        }
        assert await ids(doctor, label_id=listed["labels"][0]["id"]) == [by_number["DP-2026-000101"]]
        assert set(await ids(doctor, package="ONE")) == {by_number["DP-2026-000101"], by_number["DP-2026-000106"]}
        assert await ids(doctor, collaborator_status="approved") == [by_number["DP-2026-000103"]]
        assert set(await ids(doctor, q="zoe")) == {
            by_number["DP-2026-000105"],
            by_number["DP-2026-000102"],
            by_number["DP-2026-000107"],
        }
        assert set(await ids(doctor, q="ZOË lefevre")) == {by_number["DP-2026-000105"], by_number["DP-2026-000107"]}
        assert await ids(doctor, q="strasse") == [by_number["DP-2026-000104"]]
        assert await ids(doctor, q="nunez ines") == [by_number["DP-2026-000106"]]
        assert await ids(doctor, q="dp-2026-000103") == [by_number["DP-2026-000103"]]
        assert await ids(doctor, q="0001%") == []  # wildcards are taken literally
        assert set(await ids(doctor, status="shipped", q="dubois")) == {by_number["DP-2026-000103"]}
        for bad in ({"status": "archived"}, {"bucket": "later"}, {"package": "THREE"}, {"page": 0}, {"page_size": 201}):
            assert (await doctor.get("/cases", params=bad)).status_code == 422, bad

        everything = expected_order(rows, "-created_at", {})
        seen = []
        for number in (1, 2, 3, 4, 5):
            page = await ok(await doctor.get("/cases", params={"page": number, "page_size": 2}))
            assert (page["page"], page["page_size"], page["total"]) == (number, 2, 7)
            seen += [item["id"] for item in page["items"]]
        assert seen == everything

        item = (await ok(await doctor.get("/cases", params={"q": "000105"})))["items"][0]
        assert item["label"] == {"id": listed["labels"][5]["id"], "color": "#1E88E5", "name": "Blue"}
        assert item["setup"] == {"version": 1, "published_at": "2026-03-04T09:00:00Z", "state": "pending"}
        assert (item["status_label"], item["bucket"]) == ("Treatment setup approval pending", "action_required")


async def test_a_doctor_sees_own_and_shared_cases_and_staff_see_all(cases: Cases, listed: dict[str, Any]) -> None:
    mine = {case.id for case in listed["rows"]}
    async with cases.doctor(listed["a"]) as alone, cases.doctor(listed["a"], listed["collaboration"]) as colleague:
        assert set(await ids(alone)) == mine
        assert set(await ids(colleague)) == mine | {listed["shared"].id}
        assert (await alone.get(f"/cases/{listed['theirs'].id}")).status_code == 404
        assert (await alone.get(f"/cases/{listed['shared'].id}")).status_code == 404
        refused = await colleague.get(f"/cases/{listed['theirs'].id}")
        assert refused.status_code == 404 and refused.headers["x-case-owner"] == listed["b"]
        assert (await ok(await colleague.get(f"/cases/{listed['shared'].id}")))["case"]["id"] == listed["shared"].id
    viewer_only = Collaboration("collab-of-c", listed["shared"].doctor_id, ("comment",))
    async with cases.doctor(listed["a"], viewer_only) as without_view:
        assert (await without_view.get(f"/cases/{listed['shared'].id}")).status_code == 404
    async with cases.staff() as lab:
        every = set(await ids_staff(lab))
        assert mine | {listed["theirs"].id, listed["shared"].id} <= every
        assert await ids_staff(lab, doctor_id=listed["b"]) == [listed["theirs"].id]
        assert (await lab.get("/cases")).status_code == 200
    async with cases.doctor(listed["a"]) as doctor:
        assert (await doctor.get("/staff/cases")).status_code == 403


async def ids_staff(client: Any, **params: Any) -> list[str]:
    body = await ok(await client.get("/staff/cases", params={"page_size": 200, **params}))
    return [item["id"] for item in body["items"]]
