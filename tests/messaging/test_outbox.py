"""The transactional outbox against the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aio_pika
import httpx

from shared.db import create_engine, session_factory, transaction
from shared.messaging.outbox import OutboxMessage, outbox_status, redrive_parked
from shared.service import create_service_app
from tests.harness.events import Tap
from tests.harness.fixtures import doctor_headers, make_settings, migrate
from tests.harness.servers import serve
from tests.messaging.helpers import applied_rows, eventually, post_events, probe_settings
from tests.probe import create_app, router


async def test_committed_change_publishes_and_rolled_back_one_publishes_nothing(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    headers = doctor_headers(settings)
    async with Tap(vhost_url) as tap, serve(create_app(settings)) as base:
        assert await post_events(base, headers, "s-rollback", [1], rollback=True) == []
        [committed] = await post_events(base, headers, "s-commit", [1])

        async def applied() -> bool:
            return len(await applied_rows(database_url)) == 1

        await eventually(applied)
        await asyncio.sleep(0.5)  # the relay has polled several times since: a rolled-back event would be out
        assert tap.message_ids == [committed]
        message = tap.messages[0]
        assert message.routing_key == "probe.recorded.v1"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert [row["message_id"] for row in await applied_rows(database_url)] == [committed]
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{base}/metrics")).text
        assert 'portal_events_published_total{service="orders",type="probe.recorded"}' in metrics
        assert (
            'portal_events_consumed_total{outcome="applied",queue="orders.probe",service="orders",type="probe.recorded"}'
            in metrics
        )
        assert 'portal_consumers_attached{queue="orders.probe",service="orders"} 1.0' in metrics
        assert 'portal_outbox_backlog{service="orders"}' in metrics


async def test_unroutable_event_is_not_sent_and_is_parked_then_redriven(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = make_settings(tmp_path, vhost_url, database_url, outbox_max_attempts=2)
    await migrate("orders", settings)
    # no consumer declares a queue for probe.recorded in this virtual host: the broker returns the event
    app = create_service_app("orders", routers=[router], consumers=[], settings=settings)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with serve(app) as base:
            [event_id] = await post_events(base, doctor_headers(settings), "s-1", [1])

            async def parked() -> bool:
                async with sessions() as session:
                    return (await outbox_status(session)).parked == 1

            await eventually(parked, timeout=15)
            async with sessions() as session:
                row = await session.get(OutboxMessage, event_id)
            assert row is not None and row.sent_at is None and row.attempts == 2
            assert "PublishError" in (row.last_error or "")

            async with Tap(vhost_url) as tap:  # now a queue is bound: a re-drive publishes it
                async with transaction(sessions) as session:
                    assert await redrive_parked(session) == 1

                async def sent() -> bool:
                    return tap.message_ids == [event_id]

                await eventually(sent, timeout=15)
            async with sessions() as session:
                status = await outbox_status(session)
            assert (status.pending, status.parked, status.sent) == (0, 0, 1)
    finally:
        await engine.dispose()


async def test_many_events_each_published_once_and_marked_sent(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    async with Tap(vhost_url) as tap, serve(create_app(settings)) as base:
        ids = await post_events(base, doctor_headers(settings), "s-batch", list(range(1, 251)))

        async def all_seen() -> bool:
            return len(tap.messages) >= 250

        await eventually(all_seen)
        engine = create_engine(database_url)
        try:

            async def all_marked_sent() -> bool:
                async with session_factory(engine)() as session:
                    status = await outbox_status(session)
                return (status.pending, status.sent) == (0, 250)

            await eventually(all_marked_sent)
        finally:
            await engine.dispose()
        assert Counter(tap.message_ids) == Counter(ids)
