"""Dead-letter queue tools: look at what a queue's consumer gave up on, and put messages back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from shared.messaging.consumer import ATTEMPT_HEADER
from shared.messaging.topology import dlq_name
from shared.settings import PortalSettings

DEAD_LETTER_HEADERS = (
    "x-portal-dead-letter-reason",
    "x-portal-dead-letter-kind",
    "x-portal-original-routing-key",
    "x-portal-last-error",
    ATTEMPT_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter queue: its id, event type, why it is there, and its body."""

    message_id: str | None
    event_type: str | None
    kind: str
    reason: str
    body: bytes


def _describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers: dict[str, Any] = dict(message.headers or {})
    kind = str(headers.get("x-portal-dead-letter-kind") or headers.get("x-first-death-reason") or "rejected")
    reason = str(headers.get("x-portal-dead-letter-reason") or "dead-lettered by the broker")
    return DeadLetter(message.message_id, message.type, kind, reason, message.body)


async def list_dead_letters(settings: PortalSettings, queue: str, limit: int = 100) -> list[DeadLetter]:
    """Up to ``limit`` messages of ``<queue>.dlq``, oldest first, left in the queue."""
    connection = await aio_pika.connect(settings.rabbitmq_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.get_queue(dlq_name(queue))
        taken: list[AbstractIncomingMessage] = []
        while len(taken) < limit:
            message = await dlq.get(no_ack=False, fail=False, timeout=5)
            if message is None:
                break
            taken.append(message)
        found = [_describe(message) for message in taken]
        await channel.close()  # unacked messages return to the queue
    return found


async def replay_dead_letters(
    settings: PortalSettings, queue: str, message_ids: set[str] | None = None, body: bytes | None = None
) -> int:
    """Send messages of ``<queue>.dlq`` back to ``queue`` (all, or those in ``message_ids``) with a fresh set of
    attempts; ``body`` replaces the body of the (single) selected message to repair it. Returns how many moved.

    Each message is acked from the dead-letter queue only after the broker confirmed its re-publication.
    Raises ``ValueError`` when ``body`` is given without exactly one message id.
    """
    if body is not None and (not message_ids or len(message_ids) != 1):
        raise ValueError("a replacement body needs exactly one --id")
    connection = await aio_pika.connect(settings.rabbitmq_url, timeout=5)
    moved = 0
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dlq = await channel.get_queue(dlq_name(queue))
        skipped: list[AbstractIncomingMessage] = []
        while True:
            message = await dlq.get(no_ack=False, fail=False, timeout=5)
            if message is None:
                break
            if message_ids is not None and message.message_id not in message_ids:
                skipped.append(message)
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if k not in DEAD_LETTER_HEADERS}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=body if body is not None else message.body,
                    headers=headers,
                    message_id=message.message_id,
                    content_type=message.content_type,
                    correlation_id=message.correlation_id,
                    type=message.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
                timeout=settings.publish_timeout_seconds,
            )
            await message.ack()
            moved += 1
        await channel.close()  # skipped messages return to the dead-letter queue
    return moved
