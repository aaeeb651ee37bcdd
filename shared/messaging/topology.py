"""The broker topology, declared idempotently at start-up by every service (ARCHITECTURE.md rule 6).

- ``portal.events``: durable topic exchange every event is published to with routing key ``<type>.v<version>``.
- ``<service>.<purpose>``: one durable quorum queue per consumer purpose, bound to the routing keys it handles.
  Rejected or over-delivered messages (``x-delivery-limit``) dead-letter to ``portal.dead-letter``.
- ``portal.dead-letter``: durable direct exchange; ``<queue>.dlq`` is bound to it with the queue's name.
- ``<queue>.retry.<ms>ms``: one durable queue per retry delay; messages wait there for their TTL, then dead-letter
  back to ``<queue>`` through the default exchange. Delays grow (``PORTAL_RETRY_DELAYS_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

EVENTS_EXCHANGE = "portal.events"
DEAD_LETTER_EXCHANGE = "portal.dead-letter"
DELIVERY_LIMIT = 20
"""Deliveries of one message (crashing consumers included) before the broker dead-letters it."""


def dlq_name(queue: str) -> str:
    """The dead-letter queue of ``queue``."""
    return f"{queue}.dlq"


def retry_queue_name(queue: str, delay_seconds: float) -> str:
    """The queue in which messages for ``queue`` wait ``delay_seconds`` before their next attempt."""
    return f"{queue}.retry.{round(delay_seconds * 1000)}ms"


async def declare_exchanges(channel: AbstractChannel) -> tuple[AbstractExchange, AbstractExchange]:
    """Declare the events and dead-letter exchanges; returns them (events, dead-letter)."""
    events = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    dead_letter = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    return events, dead_letter


async def declare_consumer_queue(
    channel: AbstractChannel, queue: str, routing_keys: Sequence[str], retry_delays_seconds: Sequence[float]
) -> AbstractQueue:
    """Declare ``queue`` with its bindings, its dead-letter queue and its retry queues; returns the queue.

    Declaring again with the same arguments changes nothing; the exchanges must exist (:func:`declare_exchanges`).
    """
    dlq = await channel.declare_queue(dlq_name(queue), durable=True, arguments={"x-queue-type": "quorum"})
    await dlq.bind(DEAD_LETTER_EXCHANGE, routing_key=queue)
    main = await channel.declare_queue(
        queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": queue,
            "x-delivery-limit": DELIVERY_LIMIT,
        },
    )
    for key in routing_keys:
        await main.bind(EVENTS_EXCHANGE, routing_key=key)
    for delay in retry_delays_seconds:
        await channel.declare_queue(
            retry_queue_name(queue, delay),
            durable=True,
            arguments={
                "x-message-ttl": round(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue,
            },
        )
    return main
