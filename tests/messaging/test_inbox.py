"""The idempotent inbox and the dead-letter path against the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aio_pika
import pytest

from shared.db import utcnow
from shared.events.envelope import Envelope
from shared.settings import PortalSettings
from tests.harness.fixtures import doctor_headers, settings_env
from tests.harness.rabbit import queue_stat
from tests.harness.servers import serve
from tests.messaging.helpers import applied_rows, eventually, post_events, probe_settings, subject_versions
from tests.probe import create_app

QUEUE = "orders.probe"


def probe_envelope(subject: str, version: int, **payload: object) -> Envelope:
    """A valid ``probe.recorded`` envelope, as another service's relay would publish it."""
    return Envelope(
        type="probe.recorded",
        version=1,
        source="orders",
        occurred_at=utcnow(),
        subject=subject,
        aggregate_version=version,
        payload={"n": version, **payload},
    )


async def publish_raw(url: str, body: bytes, routing_key: str, message_id: str | None = None) -> None:
    """Publish bytes to ``portal.events`` as any client could."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("portal.events")
        await exchange.publish(
            aio_pika.Message(body, message_id=message_id or str(uuid.uuid4()), delivery_mode=2), routing_key=routing_key
        )


async def publish_envelope(url: str, envelope: Envelope) -> None:
    """Publish an envelope under its own routing key and id."""
    await publish_raw(url, envelope.model_dump_json().encode(), envelope.routing_key, str(envelope.id))


async def test_duplicate_delivery_is_applied_once(tmp_path: Path, vhost_url: str, database_url: str) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    envelope = probe_envelope("s-dup", 1)
    async with serve(create_app(settings)):
        for _ in range(3):
            await publish_envelope(vhost_url, envelope)
        later = probe_envelope("s-dup", 2)
        await publish_envelope(vhost_url, later)

        async def both_applied() -> bool:
            return len(await applied_rows(database_url)) >= 2

        await eventually(both_applied)
        await asyncio.sleep(0.5)
    rows = await applied_rows(database_url)
    assert sorted(str(row["message_id"]) for row in rows) == sorted([str(envelope.id), str(later.id)])


async def test_stale_event_is_ignored(tmp_path: Path, vhost_url: str, database_url: str) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    async with serve(create_app(settings)):
        newer, older = probe_envelope("s-order", 5), probe_envelope("s-order", 3)
        await publish_envelope(vhost_url, newer)

        async def newer_applied() -> bool:
            return await subject_versions(database_url) == {"s-order": 5}

        await eventually(newer_applied)
        await publish_envelope(vhost_url, older)
        marker = probe_envelope("s-marker", 1)
        await publish_envelope(vhost_url, marker)

        async def marker_applied() -> bool:
            return "s-marker" in await subject_versions(database_url)

        await eventually(marker_applied)
    assert (await subject_versions(database_url))["s-order"] == 5
    assert str(older.id) not in {str(row["message_id"]) for row in await applied_rows(database_url)}


async def test_poison_messages_are_dead_lettered_at_once_and_the_consumer_goes_on(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    async with serve(create_app(settings)):
        await publish_raw(vhost_url, b"{not json", "probe.recorded.v1")
        await publish_raw(vhost_url, json.dumps({"type": "probe.recorded"}).encode(), "probe.recorded.v1")
        bad_payload = probe_envelope("s-bad", 1)
        await publish_raw(
            vhost_url,
            bad_payload.model_copy(update={"payload": {"n": "not a number"}}).model_dump_json().encode(),
            "probe.recorded.v1",
        )
        good = probe_envelope("s-good", 1)
        await publish_envelope(vhost_url, good)

        async def dead_lettered() -> bool:
            return queue_stat(vhost_url, f"{QUEUE}.dlq", "messages") == 3

        await eventually(dead_lettered)

        async def good_applied() -> bool:
            return [str(r["message_id"]) for r in await applied_rows(database_url)] == [str(good.id)]

        await eventually(good_applied)

        async def queue_drained() -> bool:  # the broker's counts lag by a few seconds
            return queue_stat(vhost_url, QUEUE, "messages") == 0

        await eventually(queue_drained, timeout=15)


async def test_unknown_type_reaching_the_queue_is_dead_lettered(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    unknown = probe_envelope("s-x", 1).model_copy(update={"type": "mystery.happened"})
    async with serve(create_app(settings)):
        connection = await aio_pika.connect(vhost_url)
        async with connection:  # straight into the queue: the bindings would not route this type
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(unknown.model_dump_json().encode(), message_id=str(unknown.id)), routing_key=QUEUE
            )

        async def dead_lettered() -> bool:
            return queue_stat(vhost_url, f"{QUEUE}.dlq", "messages") == 1

        await eventually(dead_lettered)


def portal(settings: PortalSettings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``portal`` command with the test's settings."""
    env = {**os.environ, **settings_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_failing_handler_is_retried_then_dead_lettered_and_replayed_once_repaired(
    tmp_path: Path, vhost_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    fixed = tmp_path / "fixed"
    monkeypatch.setenv("PROBE_FIXED_FILE", str(fixed))
    async with serve(create_app(settings)) as base:
        [failing] = await post_events(base, doctor_headers(settings), "s-fail", [1], fail=True)
        [fine] = await post_events(base, doctor_headers(settings), "s-fine", [1])

        async def dead_lettered() -> bool:
            return queue_stat(vhost_url, f"{QUEUE}.dlq", "messages") == 1

        await eventually(dead_lettered, timeout=20)
        assert [str(r["message_id"]) for r in await applied_rows(database_url)] == [fine]

        listed = await asyncio.to_thread(portal, settings, "dlq", "list", QUEUE, "--json")
        assert listed.returncode == 0, listed.stderr
        [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (letter["message_id"], letter["kind"]) == (failing, "retries_exhausted")
        assert "asked to fail" in letter["reason"]
        assert queue_stat(vhost_url, f"{QUEUE}.dlq", "messages") == 1  # listing leaves messages where they are

        fixed.touch()  # the handler's fault is repaired
        replayed = await asyncio.to_thread(portal, settings, "dlq", "replay", QUEUE, "--id", failing)
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed: 1" in replayed.stdout

        async def applied() -> bool:
            return sorted(str(r["message_id"]) for r in await applied_rows(database_url)) == sorted([failing, fine])

        await eventually(applied)

        async def dead_letter_queue_empty() -> bool:  # the broker's counts lag by a few seconds
            return queue_stat(vhost_url, f"{QUEUE}.dlq", "messages") == 0

        await eventually(dead_letter_queue_empty, timeout=15)
