"""Consumers: one queue ``<service>.<purpose>``, the handlers it runs, and what happens to each delivery.

A delivery is parsed into an :class:`~shared.events.envelope.Envelope` and its payload model from the catalogue.
Not JSON, not an envelope, an unknown type/version or a payload that does not fit its model: dead-lettered at once
(poison). Otherwise the handler runs in one transaction with the inbox writes; the message is acked only after the
commit. A handler error is retried through the delay queues (growing delays), then dead-lettered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage
from opentelemetry import trace
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.catalogue import UnknownEventError, payload_model
from shared.events.envelope import Envelope, routing_key
from shared.messaging.inbox import advance_subject, record_message
from shared.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_RETRIED
from shared.telemetry import context_from, correlation_id, tracer

if TYPE_CHECKING:
    from shared.messaging.broker import Broker

log = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-portal-attempt"
"""How many times the handler already failed on this message (absent on the first delivery)."""

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]


class PoisonMessage(Exception):
    """A delivery that can never be handled: it goes to the dead-letter queue at once."""


@dataclass(frozen=True)
class Subscription:
    """A handler for one (type, version); ``skip_stale`` ignores events older than the subject's applied version."""

    handler: Handler
    skip_stale: bool


class Consumer:
    """The handlers of one queue ``<service>.<purpose>``; register them with :meth:`on`."""

    def __init__(self, service: str, purpose: str) -> None:
        self.service = service
        self.queue = f"{service}.{purpose}"
        self._subscriptions: dict[tuple[str, int], Subscription] = {}

    def on(self, model: type[M], *, skip_stale: bool = True) -> Callable[[Handler], Handler]:
        """Register the decorated ``async def handler(session, envelope, payload)`` for ``model``'s event.

        With ``skip_stale`` (the default) an event whose ``aggregate_version`` is not above the last one applied
        for its subject is acknowledged without running the handler; use ``skip_stale=False`` for events that each
        state a separate fact rather than the aggregate's latest state.
        """
        key = (model.event_type, model.event_version)  # type: ignore[attr-defined]

        def register(handler: Handler) -> Handler:
            self._subscriptions[key] = Subscription(handler, skip_stale)
            return handler

        return register

    @property
    def routing_keys(self) -> list[str]:
        """The routing keys the queue is bound to, one per subscribed (type, version)."""
        return sorted(routing_key(t, v) for t, v in self._subscriptions)

    def parse(self, message: AbstractIncomingMessage) -> tuple[Envelope, Subscription, BaseModel]:
        """The envelope, subscription and payload of a delivery; raises :class:`PoisonMessage` when there are none."""
        try:
            envelope = Envelope.model_validate(json.loads(message.body))
        except (ValueError, ValidationError) as exc:
            raise PoisonMessage(f"not an event envelope: {exc}") from exc
        return (envelope, *self.subscription_for(envelope))

    def subscription_for(self, envelope: Envelope) -> tuple[Subscription, BaseModel]:
        """The subscription and parsed payload of ``envelope``; raises :class:`PoisonMessage` when this queue has no
        handler for it or its payload does not fit the catalogue's model."""
        subscription = self._subscriptions.get((envelope.type, envelope.version))
        if subscription is None:
            raise PoisonMessage(f"{self.queue} has no handler for {envelope.type} v{envelope.version}")
        try:
            payload = payload_model(envelope.type, envelope.version).model_validate(envelope.payload)
        except (UnknownEventError, ValidationError) as exc:
            raise PoisonMessage(f"bad payload for {envelope.type} v{envelope.version}: {exc}") from exc
        return subscription, payload

    async def apply(
        self,
        sessions: async_sessionmaker[AsyncSession],
        envelope: Envelope,
        subscription: Subscription,
        payload: BaseModel,
    ) -> str:
        """Run the handler with the inbox checks in one transaction; returns the outcome for metrics."""
        async with sessions() as session, session.begin():
            if not await record_message(session, self.queue, envelope):
                return "duplicate"
            if subscription.skip_stale and not await advance_subject(session, self.queue, envelope):
                return "stale"
            await subscription.handler(session, envelope, payload)
        return "applied"

    async def deliver(self, message: AbstractIncomingMessage, broker: Broker) -> None:
        """Handle one delivery end to end and settle it (ack after commit, retry or dead-letter)."""
        try:
            envelope, subscription, payload = self.parse(message)
        except PoisonMessage as exc:
            await self._dead_letter(message, broker, "poison", str(exc))
            return
        token = correlation_id.set(envelope.correlation_id or str(envelope.id))
        parent = context_from(envelope.traceparent, envelope.tracestate)
        try:
            with tracer(__name__).start_as_current_span(
                f"{self.queue} process {envelope.type}",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.destination.name": self.queue,
                    "messaging.message.id": str(envelope.id),
                },
            ):
                outcome = await self.apply(broker.sessions, envelope, subscription, payload)
        except Exception as exc:
            log.warning("handler failed", queue=self.queue, type=envelope.type, id=str(envelope.id), error=repr(exc))
            await self._retry_or_dead_letter(message, broker, exc)
            return
        finally:
            correlation_id.reset(token)
        EVENTS_CONSUMED.labels(self.service, self.queue, envelope.type, outcome).inc()
        await message.ack()

    async def _retry_or_dead_letter(self, message: AbstractIncomingMessage, broker: Broker, error: Exception) -> None:
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0) or 0)
        delays = broker.settings.retry_delays_seconds
        reason = f"{type(error).__name__}: {error}"[:1000]
        if attempt >= len(delays):
            await self._dead_letter(message, broker, "retries_exhausted", reason)
            return
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = attempt + 1
        headers["x-portal-last-error"] = reason
        await broker.publish_to_retry(self.queue, delays[attempt], _copy(message, headers))
        EVENTS_RETRIED.labels(self.service, self.queue).inc()
        await message.ack()

    async def _dead_letter(self, message: AbstractIncomingMessage, broker: Broker, kind: str, reason: str) -> None:
        log.error("dead-lettered", queue=self.queue, message_id=message.message_id, kind=kind, reason=reason)
        headers = dict(message.headers or {})
        headers.update({"x-portal-dead-letter-reason": reason[:1000], "x-portal-dead-letter-kind": kind})
        headers["x-portal-original-routing-key"] = message.routing_key or ""
        await broker.publish_to_dlq(self.queue, _copy(message, headers))
        EVENTS_DEAD_LETTERED.labels(self.service, self.queue, kind).inc()
        await message.ack()


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        message_id=message.message_id or str(uuid.uuid4()),
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        type=message.type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
