"""Events for tests: a tap on ``portal.events`` that keeps what really reached the broker, and publishing an event
as another service would (a valid envelope, persistent, ``mandatory``, confirmed)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.envelope import Envelope
from shared.messaging.consumer import Consumer
from shared.messaging.topology import EVENTS_EXCHANGE, declare_exchanges


class Tap:
    """An exclusive queue of the test's own on ``portal.events``, bound to ``routing_keys`` (every event by default)
    before the test acts: the messages that really reached the broker, and their envelopes."""

    def __init__(self, url: str, *routing_keys: str) -> None:
        self.url = url
        self.routing_keys = routing_keys or ("#",)
        self.messages: list[AbstractIncomingMessage] = []

    async def __aenter__(self) -> Tap:
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel()
        await declare_exchanges(channel)
        queue = await channel.declare_queue(exclusive=True)
        for key in self.routing_keys:
            await queue.bind(EVENTS_EXCHANGE, routing_key=key)
        await queue.consume(self._take, no_ack=True)
        return self

    async def _take(self, message: AbstractIncomingMessage) -> None:
        self.messages.append(message)

    async def __aexit__(self, *_: object) -> None:
        await self.connection.close()

    @property
    def message_ids(self) -> list[str | None]:
        """The ``message_id`` of every message seen, in arrival order."""
        return [message.message_id for message in self.messages]

    @property
    def envelopes(self) -> list[Envelope]:
        """Every message seen that is an event envelope, parsed, in arrival order."""
        parsed = []
        for message in self.messages:
            try:
                parsed.append(Envelope.model_validate(json.loads(message.body)))
            except (ValueError, ValidationError):
                continue
        return parsed

    def of(self, event_type: str) -> list[Envelope]:
        """The envelopes of ``event_type`` seen so far, in arrival order."""
        return [envelope for envelope in self.envelopes if envelope.type == event_type]

    async def wait(self, event_type: str, count: int = 1, timeout: float = 20.0) -> list[Envelope]:
        """Wait until ``count`` events of ``event_type`` arrived; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.of(event_type)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        found = self.of(event_type)
        assert len(found) >= count, f"{len(found)} {event_type} event(s) within {timeout} s, expected {count}"
        return found


def envelope_of(
    payload: BaseModel, *, source: str, subject: str, version: int, occurred_at: datetime | None = None
) -> Envelope:
    """The envelope another service would write for ``payload`` (a model of the catalogue)."""
    return Envelope(
        id=uuid.uuid4(),
        type=type(payload).event_type,  # type: ignore[attr-defined]
        version=type(payload).event_version,  # type: ignore[attr-defined]
        source=source,
        occurred_at=occurred_at or datetime.now(UTC),
        subject=subject,
        aggregate_version=version,
        payload=payload.model_dump(mode="json"),
    )


async def publish(url: str, *envelopes: Envelope) -> None:
    """Publish ``envelopes`` onto ``portal.events`` in order, each confirmed by the broker and routed to a queue."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        events, _ = await declare_exchanges(channel)
        for envelope in envelopes:
            message = aio_pika.Message(
                body=envelope.model_dump_json().encode(),
                message_id=str(envelope.id),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=envelope.type,
            )
            await events.publish(message, routing_key=envelope.routing_key, mandatory=True)
    finally:
        await connection.close()


async def apply_through(
    consumers: list[Consumer], sessions: async_sessionmaker[AsyncSession], *envelopes: Envelope
) -> list[str]:
    """Apply ``envelopes`` in order through a service's own ``consumers`` (inbox, handler and outbox in one
    transaction each, as a delivery would); returns each outcome (``applied``, ``duplicate``, ``stale``)."""
    outcomes = []
    for envelope in envelopes:
        [consumer] = [c for c in consumers if f"{envelope.type}.v{envelope.version}" in c.routing_keys]
        subscription, payload = consumer.subscription_for(envelope)
        outcomes.append(await consumer.apply(sessions, envelope, subscription, payload))
    return outcomes
