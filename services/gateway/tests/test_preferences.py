"""A doctor reads and replaces their e-mail notification switches (which other services hear of through
``doctor.updated``) and their clinical defaults for new orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_pika.abc import AbstractQueue

from services.gateway.tests.conftest import (
    Gateway,
    fields,
    listening,
    next_envelope,
    sign_in,
    sign_up,
    staff_token,
)
from shared.events.notifications import NOTIFICATION_KINDS

SOME_OFF = {kind: kind not in ("phase_shipped", "case_expired") for kind in NOTIFICATION_KINDS}
PREFERENCES: dict[str, Any] = {
    "wear_schedule_days": 10,
    "ipr_allowed": False,
    "attachments_allowed": True,
    "arches": "upper",
    "dentition": "mixed",
    "duration_mode": "limit",
    "max_steps": 20,
    "instructions": "No attachments on 11 and 21.",
}


@pytest.fixture
async def doctor_updated(gateway: Gateway) -> AsyncIterator[AbstractQueue]:
    """An exclusive queue bound to ``doctor.updated.v1`` on the gateway's broker, declared before the test acts."""
    async with listening(gateway, "doctor.updated.v1") as queue:
        yield queue


async def test_switches_default_on_and_persist_across_sign_ins(gateway: Gateway) -> None:
    account, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        assert (await client.get("/account/email-notifications")).json() == {
            "kinds": dict.fromkeys(NOTIFICATION_KINDS, True),
            "daily_digest": False,
        }
        replaced = await client.put("/account/email-notifications", json={"kinds": SOME_OFF, "daily_digest": True})
        assert replaced.status_code == 200, replaced.text
        assert replaced.json() == {"kinds": SOME_OFF, "daily_digest": True}
    async with gateway.client(await sign_in(gateway, str(account["email"]))) as client:
        assert (await client.get("/account/email-notifications")).json() == {"kinds": SOME_OFF, "daily_digest": True}


async def test_switches_must_name_every_kind_and_no_other(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        before = (await client.get("/account/email-notifications")).json()
        unknown = {"kinds": {**SOME_OFF, "weekly_poem": True}, "daily_digest": False}
        assert fields(await client.put("/account/email-notifications", json=unknown)) == ["kinds.weekly_poem"]
        partial = {kind: False for kind in NOTIFICATION_KINDS[:3]}
        missing = await client.put("/account/email-notifications", json={"kinds": partial, "daily_digest": False})
        assert sorted(fields(missing)) == sorted(f"kinds.{kind}" for kind in NOTIFICATION_KINDS[3:])
        smuggled = {"kinds": SOME_OFF, "daily_digest": False, "doctor_id": "someone-else"}
        assert fields(await client.put("/account/email-notifications", json=smuggled)) == ["doctor_id"]
        not_bool = {"kinds": {**SOME_OFF, "case_on_hold": "sometimes"}, "daily_digest": "yes"}
        assert fields(await client.put("/account/email-notifications", json=not_bool)) == [
            "kinds.case_on_hold",
            "daily_digest",
        ]
        assert (await client.get("/account/email-notifications")).json() == before


async def test_a_change_of_switches_publishes_doctor_updated(gateway: Gateway, doctor_updated: AbstractQueue) -> None:
    account, token = await sign_up(gateway)
    unchanged = {"kinds": dict.fromkeys(NOTIFICATION_KINDS, True), "daily_digest": False}
    async with gateway.client(token) as client:
        assert (await client.put("/account/email-notifications", json=unchanged)).status_code == 200
        changed = await client.put("/account/email-notifications", json={"kinds": SOME_OFF, "daily_digest": True})
        assert changed.status_code == 200, changed.text
    envelope = await next_envelope(doctor_updated)
    assert (envelope["type"], envelope["subject"]) == ("doctor.updated", account["id"])
    assert envelope["aggregate_version"] == 2, "the same switches again publish nothing and bump no version"
    payload = envelope["payload"]
    assert (payload["doctor_id"], payload["email"]) == (account["id"], account["email"])
    assert (payload["email_notifications"], payload["daily_digest"]) == (SOME_OFF, True)


async def test_preferences_default_then_replaced_whole(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        assert (await client.get("/account/preferences")).json() == {
            "wear_schedule_days": 14,
            "ipr_allowed": True,
            "attachments_allowed": True,
            "arches": "both",
            "dentition": "permanent",
            "duration_mode": "recommend",
            "max_steps": None,
            "instructions": None,
        }
        replaced = await client.put("/account/preferences", json=PREFERENCES)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json() == PREFERENCES
        assert (await client.get("/account/preferences")).json() == PREFERENCES
        assert (await client.get("/account")).json()["wear_schedule_days"] == 10

        recommend = {**PREFERENCES, "duration_mode": "recommend"}
        del recommend["max_steps"], recommend["instructions"]
        assert (await client.put("/account/preferences", json=recommend)).status_code == 200
        expected = {**recommend, "max_steps": None, "instructions": None}
        assert (await client.get("/account/preferences")).json() == expected, "a PUT replaces, never merges"


async def test_invalid_preferences_are_refused_listing_every_problem(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        before = (await client.get("/account/preferences")).json()
        wrong = {
            **PREFERENCES,
            "wear_schedule_days": 9,
            "arches": "all",
            "duration_mode": "recommend",
            "instructions": "x" * 2001,
            "doctor_id": "someone-else",
        }
        listed = fields(await client.put("/account/preferences", json=wrong))
        assert sorted(listed) == ["arches", "doctor_id", "instructions", "max_steps", "wear_schedule_days"]
        no_steps = {key: value for key, value in PREFERENCES.items() if key != "max_steps"}
        assert fields(await client.put("/account/preferences", json=no_steps)) == ["max_steps"]
        too_many = await client.put("/account/preferences", json={**PREFERENCES, "max_steps": 101})
        assert fields(too_many) == ["max_steps"]
        assert sorted(fields(await client.put("/account/preferences", json={"ipr_allowed": "yes"}))) == [
            "arches",
            "attachments_allowed",
            "dentition",
            "duration_mode",
            "ipr_allowed",
            "wear_schedule_days",
        ]
        assert (await client.get("/account/preferences")).json() == before


async def test_preferences_and_switches_are_for_doctors_only(gateway: Gateway) -> None:
    async with gateway.client(await staff_token(gateway)) as staff:
        answers = [
            await staff.get("/account/email-notifications"),
            await staff.put("/account/email-notifications", json={"kinds": SOME_OFF, "daily_digest": True}),
            await staff.get("/account/preferences"),
            await staff.put("/account/preferences", json=PREFERENCES),
        ]
    assert [answer.status_code for answer in answers] == [403] * 4


async def test_the_time_zone_is_checked_kept_and_published(gateway: Gateway, doctor_updated: AbstractQueue) -> None:
    account, token = await sign_up(gateway)
    assert account["time_zone"] == "UTC"
    async with gateway.client(token) as client:
        for wrong in ("Mars/Olympus_Mons", "../../etc/passwd", "", 2):
            assert fields(await client.patch("/account", json={"time_zone": wrong})) == ["time_zone"], wrong
        changed = await client.patch("/account", json={"time_zone": "Europe/Paris"})
        assert changed.status_code == 200 and changed.json()["time_zone"] == "Europe/Paris", changed.text
        assert (await client.get("/account")).json()["time_zone"] == "Europe/Paris"
    envelope = await next_envelope(doctor_updated)
    assert (envelope["subject"], envelope["payload"]["time_zone"]) == (account["id"], "Europe/Paris")
