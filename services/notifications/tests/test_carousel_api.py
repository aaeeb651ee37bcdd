"""The carousel over real HTTP with a controlled clock, on SQLite and PostgreSQL: a notification is shown until the
instant it expires and never after, with each kind's configured lifetime; newest first across notifications and
broadcasts, paged; read and dismiss; broadcasts reach only their audience, until they expire or are withdrawn."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.notifications.tests.conftest import (
    CaseOf,
    Notifications,
    doctor_profile,
    notifications_settings,
    running_notifications,
)
from shared.db import utcnow
from shared.events.cases import PhaseShipped
from shared.events.envelope import Envelope

T0 = datetime.fromisoformat("2026-03-02T09:00:00+00:00")


def shipped(case: CaseOf, at: datetime, number: int = 1) -> Envelope:
    return case.event(
        PhaseShipped,
        occurred_at=at,
        number=number,
        steps_from=1,
        steps_to=10,
        carrier="UPS",
        tracking_number=f"1Z{number:04d}",
        shipped_at=at,
    )


async def items(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get("/notifications", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_shown_until_the_instant_it_expires_with_each_kinds_configured_lifetime(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = notifications_settings(tmp_path, vhost_url, database_url, notification_expiry_days={"phase_shipped": 2})
    async with running_notifications(settings) as notifications:
        case = CaseOf()
        await notifications.apply(shipped(case, T0))
        async with notifications.doctor(case.doctor_id) as doctor:
            notifications.clock.set(T0 + timedelta(days=2) - timedelta(microseconds=1))
            [item] = await items(doctor)
            assert datetime.fromisoformat(item["expires_at"]) == T0 + timedelta(days=2)
            notifications.clock.set(T0 + timedelta(days=2))
            assert await items(doctor) == []
            assert (await doctor.get("/notifications")).json()["total"] == 0
            assert (await doctor.post(f"/notifications/{item['id']}/read")).status_code == 404
            notifications.clock.set(T0 + timedelta(days=1))  # the row is kept: earlier it was active
            assert [i["id"] for i in await items(doctor)] == [item["id"]]


async def test_newest_first_across_notifications_and_broadcasts_paged(notifications: Notifications) -> None:
    case = CaseOf()
    notifications.clock.set(T0 + timedelta(days=1))
    await notifications.apply(doctor_profile(case.doctor_id))
    await notifications.apply(*(shipped(case, T0 + timedelta(minutes=m), number=m) for m in (1, 3, 2)))
    async with notifications.staff() as staff:
        notifications.clock.set(T0 + timedelta(minutes=2, seconds=30))
        sent = await staff.post(
            "/staff/notifications",
            json={
                "title": "Holiday hours",
                "body": "The lab is closed on 6 April.",
                "audience": "all",
                "expires_at": (T0 + timedelta(days=30)).isoformat(),
            },
        )
        assert sent.status_code == 201, sent.text
    notifications.clock.set(T0 + timedelta(days=1))
    async with notifications.doctor(case.doctor_id) as doctor:
        everything = await items(doctor)
        assert [i["title"] for i in everything] == [
            "Phase 3 shipped",
            "Holiday hours",
            "Phase 2 shipped",
            "Phase 1 shipped",
        ]
        assert everything[1]["kind"] == "broadcast" and everything[1]["case_id"] is None
        first = (await doctor.get("/notifications", params={"page_size": 3})).json()
        second = (await doctor.get("/notifications", params={"page": 2, "page_size": 3})).json()
        assert (first["total"], second["total"]) == (4, 4)
        assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in everything]
        assert (await doctor.get("/notifications", params={"page_size": 201})).status_code == 422


async def test_read_then_dismiss_for_good_and_only_ones_own(notifications: Notifications) -> None:
    case, other = CaseOf(), CaseOf()
    await notifications.apply(shipped(case, utcnow()), shipped(case, utcnow(), 2), shipped(other, utcnow()))
    async with notifications.doctor(case.doctor_id) as doctor, notifications.doctor(other.doctor_id) as stranger:
        second, first = await items(doctor)
        read = await doctor.post(f"/notifications/{first['id']}/read")
        assert read.status_code == 200 and read.json()["read"] is True
        assert (await doctor.post(f"/notifications/{first['id']}/read")).json()["read"] is True
        assert [i["read"] for i in await items(doctor)] == [False, True]

        assert (await stranger.post(f"/notifications/{first['id']}/read")).status_code == 404
        assert (await stranger.post(f"/notifications/{second['id']}/dismiss")).status_code == 404
        assert (await doctor.post(f"/notifications/{uuid.uuid4()}/dismiss")).status_code == 404

        assert (await doctor.post(f"/notifications/{second['id']}/dismiss")).status_code == 204
        assert [i["id"] for i in await items(doctor)] == [first["id"]]
        assert (await doctor.post(f"/notifications/{second['id'].upper()}/dismiss")).status_code == 204  # again
        assert (await doctor.post(f"/notifications/{second['id']}/read")).status_code == 404
        assert (await doctor.post(f"/notifications/{first['id'].upper()}/read")).json()["id"] == first["id"]
        assert (await doctor.post("/notifications/not-an-id/read")).status_code == 404
    async with notifications.staff() as staff:
        refused = await staff.get("/notifications")
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


async def test_broadcasts_reach_only_their_audience_until_they_expire_or_are_withdrawn(
    notifications: Notifications,
) -> None:
    ada, ben, cleo = (str(uuid.uuid4()) for _ in range(3))
    await notifications.apply(*(doctor_profile(d) for d in (ada, ben)))
    until = (utcnow() + timedelta(days=7)).isoformat()
    async with notifications.staff() as staff:
        to_all = await staff.post(
            "/staff/notifications",
            json={
                "title": "New case packages",
                "body": "UNLIMITED5 is available.",
                "audience": "all",
                "expires_at": until,
            },
        )
        personal = {
            "title": "Your scanner export",
            "body": "Please re-export as STL.",
            "audience": [ada],
            "expires_at": until,
            "severity": "warning",
        }
        key = {"Idempotency-Key": "broadcast-ada-1"}
        to_ada = await staff.post("/staff/notifications", json=personal, headers=key)
        assert (to_all.status_code, to_ada.status_code) == (201, 201), to_ada.text
        assert to_ada.json()["audience"] == [ada] and to_all.json()["audience"] == "all"
        again = await staff.post("/staff/notifications", json=personal, headers=key)
        assert again.status_code == 201 and again.json()["id"] == to_ada.json()["id"]
        listed = (await staff.get("/staff/notifications")).json()
        assert listed["total"] == 2 and [b["title"] for b in listed["items"]] == [
            "Your scanner export",
            "New case packages",
        ]

    async with notifications.doctor(ada) as doc_ada, notifications.doctor(ben) as doc_ben:
        async with notifications.doctor(cleo) as doc_cleo:  # registers after the broadcast: "all" reaches her too
            assert [i["title"] for i in await items(doc_cleo)] == ["New case packages"]
        assert [i["title"] for i in await items(doc_ada)] == ["Your scanner export", "New case packages"]
        assert [i["title"] for i in await items(doc_ben)] == ["New case packages"]
        assert (await doc_ben.post(f"/notifications/{to_ada.json()['id']}/read")).status_code == 404

        assert (await doc_ada.post(f"/notifications/{to_all.json()['id']}/read")).json()["read"] is True
        assert [i["read"] for i in await items(doc_ben)] == [False]  # each doctor's marks are their own
        assert (await doc_ada.post(f"/notifications/{to_all.json()['id']}/dismiss")).status_code == 204
        assert [i["title"] for i in await items(doc_ada)] == ["Your scanner export"]
        assert [i["title"] for i in await items(doc_ben)] == ["New case packages"]

        async with notifications.staff() as staff:
            assert (await staff.delete(f"/staff/notifications/{to_ada.json()['id']}")).status_code == 204
            assert (await staff.delete(f"/staff/notifications/{uuid.uuid4()}")).status_code == 404
        assert await items(doc_ada) == []
        notifications.clock.offset = timedelta(days=8)
        assert await items(doc_ben) == []


async def test_a_broadcast_names_what_is_wrong_with_it(notifications: Notifications) -> None:
    known = str(uuid.uuid4())
    future = (utcnow() + timedelta(days=1)).isoformat()
    async with notifications.staff() as staff:
        past = await staff.post(
            "/staff/notifications",
            json={"title": "t", "body": "b", "audience": [known], "expires_at": utcnow().isoformat()},
        )
        assert past.status_code == 422 and [e["field"] for e in past.json()["errors"]] == ["expires_at"]
        for body in (
            {"title": " ", "body": "b", "audience": "all", "expires_at": future},
            {"title": "t", "body": "b", "audience": [], "expires_at": future},
            {"title": "t", "body": "b", "audience": [known, known], "expires_at": future},
            {"title": "t", "body": "b", "audience": [known.upper(), known], "expires_at": future},
            {"title": "t", "body": "b", "audience": "everyone", "expires_at": future},
            {"title": "t", "body": "b", "audience": "all", "expires_at": "2030-01-01T00:00:00"},
            {"title": "t", "body": "b", "audience": "all", "expires_at": future, "doctor_id": known},
            {"title": "\u202eevil", "body": "b", "audience": "all", "expires_at": future},
            {"title": "two\nlines", "body": "b", "audience": "all", "expires_at": future},
            {"title": "t", "body": "nul\u0000", "audience": "all", "expires_at": future},
        ):
            assert (await staff.post("/staff/notifications", json=body)).status_code == 422, body
        assert (await staff.get("/staff/notifications")).json()["total"] == 0
        kept = await staff.post(
            "/staff/notifications",
            json={
                "title": "t",
                "body": "Line one\n\tLine two",
                "audience": "all",
                "expires_at": "2099-01-01T10:00:00+14:00",
            },
        )
        assert kept.status_code == 201 and kept.json()["expires_at"] == "2098-12-31T20:00:00Z"
    async with notifications.doctor(known) as doctor:
        refused = await doctor.post(
            "/staff/notifications", json={"title": "t", "body": "b", "audience": "all", "expires_at": future}
        )
        assert refused.status_code == 403
        assert (await doctor.get("/notifications", params={"page": 51})).status_code == 422
