"""Races: concurrent submissions of one draft, concurrent creations and their order numbers, idempotency keys."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from services.orders.tests.conftest import Orders, complete_aligner, new_patient, problem_fields
from shared.db import create_engine, utcnow
from shared.idempotency import IdempotencyKey
from tests.harness.events import Tap


async def test_concurrent_submissions_publish_one_order_submitted(orders: Orders) -> None:
    async with Tap(orders.vhost_url, "order.#") as tap, orders.doctor() as doctor:
        drafts = [(await doctor.post("/orders", json=complete_aligner())).json() for _ in range(4)]
        for draft in drafts:
            answers = await asyncio.gather(*(doctor.post(f"/orders/{draft['id']}/submit") for _ in range(2)))
            assert sorted(answer.status_code for answer in answers) == [202, 409], [a.text for a in answers]
        await tap.wait("order.submitted", len(drafts))
        await asyncio.sleep(1.5)  # the relay polls every 0.1 s: a second event per order would be out by now
        submitted = Counter(envelope.payload["order_id"] for envelope in tap.of("order.submitted"))
        assert submitted == Counter({draft["id"]: 1 for draft in drafts})
        patients = (await doctor.get("/patients")).json()
        assert patients["total"] == len(drafts)  # one typed patient created per order, none by the loser


async def test_order_numbers_are_unique_and_increasing_under_concurrent_creates(orders: Orders) -> None:
    async with orders.doctor() as first, orders.doctor() as second:
        answers = await asyncio.gather(
            *(client.post("/orders", json={"kind": "aligner"}) for client in [first, second] * 10)
        )
    assert [answer.status_code for answer in answers] == [201] * 20, [answer.text for answer in answers]
    created = [answer.json() for answer in answers]
    numbers = [order["order_number"] for order in created]
    year = numbers[0].split("-")[1]
    assert sorted(numbers) == [f"DP-{year}-{n:06d}" for n in range(1, 21)]
    by_time = sorted(created, key=lambda order: order["created_at"])
    assert [order["order_number"] for order in by_time] == sorted(numbers)
    assert len({order["case_id"] for order in created}) == 20


async def test_idempotency_key_replays_the_first_response(orders: Orders) -> None:
    async with orders.doctor() as doctor, orders.doctor() as other:
        body = {"kind": "aligner", "general": {"arches": "both"}}
        key = {"Idempotency-Key": "create-order-1"}
        first = await doctor.post("/orders", json=body, headers=key)
        again = await doctor.post("/orders", json={"general": {"arches": "both"}, "kind": "aligner"}, headers=key)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
        assert (await doctor.get("/orders")).json()["total"] == 1

        changed = await doctor.post("/orders", json={"kind": "retainer"}, headers=key)
        assert problem_fields(changed) == ["Idempotency-Key"]
        elsewhere = await doctor.post("/patients", json=new_patient(), headers=key)
        assert problem_fields(elsewhere) == ["Idempotency-Key"]
        theirs = await other.post("/orders", json=body, headers=key)
        assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
        assert problem_fields(await doctor.post("/orders", json=body, headers={"Idempotency-Key": "k" * 256})) == [
            "Idempotency-Key"
        ]

        patient_key = {"Idempotency-Key": "create-patient-1"}
        racing = await asyncio.gather(
            *(doctor.post("/patients", json=new_patient(), headers=patient_key) for _ in range(5))
        )
        assert [answer.status_code for answer in racing] == [201] * 5, [answer.text for answer in racing]
        assert len({answer.json()["id"] for answer in racing}) == 1
        assert (await doctor.get("/patients")).json()["total"] == 1

        without = [await doctor.post("/orders", json=body) for _ in range(2)]
        assert without[0].json()["id"] != without[1].json()["id"]


async def test_an_idempotency_key_lasts_24_hours(orders: Orders) -> None:
    async with orders.doctor() as doctor:
        key = {"Idempotency-Key": "old-key"}
        first = await doctor.post("/patients", json=new_patient(), headers=key)
        engine = create_engine(orders.settings.database_url_of("orders"))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, seconds=1))
                )
        finally:
            await engine.dispose()
        later = await doctor.post("/patients", json=new_patient(), headers=key)
        assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
        replay = await doctor.post("/patients", json=new_patient(), headers=key)
        assert replay.json()["id"] == later.json()["id"]
