"""Raw ceilings of the parts events travel through, measured with the same libraries the services use: aio-pika
publishing persistent messages to a quorum queue with publisher confirms (a window of them in flight), consuming them
with manual acks, and one-row transactions through the services' own database engine (:func:`shared.db.create_engine`).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
from sqlalchemy import text

from shared.db import create_engine

BODY = b"x" * 300
"""A message the size of a small event envelope, in bytes."""


async def broker_rates(url: str, count: int, in_flight: int = 100, prefetch: int = 100) -> tuple[float, float]:
    """Messages per second of publishing ``count`` persistent messages to a new quorum queue of the virtual host of
    ``url`` with ``in_flight`` confirms awaited together, then of consuming them with manual acks (``prefetch``
    unacknowledged at most); the queue is deleted afterwards."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        message = aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        started = time.perf_counter()
        for first in range(0, count, in_flight):
            batch = range(first, min(count, first + in_flight))
            await asyncio.gather(*(channel.default_exchange.publish(message, routing_key=name) for _ in batch))
        published = count / (time.perf_counter() - started)
        consumed = await _consume(connection, name, count, prefetch)
        await queue.delete(if_unused=False, if_empty=False)
        return published, consumed
    finally:
        await connection.close()


async def _consume(connection: aio_pika.abc.AbstractConnection, name: str, count: int, prefetch: int) -> float:
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.get_queue(name)
    done, seen = asyncio.get_running_loop().create_future(), 0
    started = time.perf_counter()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal seen
        await message.ack()
        seen += 1
        if seen == count and not done.done():
            done.set_result(None)

    tag = await queue.consume(on_message)
    await asyncio.wait_for(done, timeout=120)
    rate = count / (time.perf_counter() - started)
    await queue.cancel(tag)
    await channel.close()
    return rate


async def transaction_rate(database_url: str, count: int) -> float:
    """Transactions per second, each inserting one row, through the services' engine for ``database_url`` (a
    scratch table is created and dropped)."""
    engine = create_engine(database_url)
    table = f"bench_rows_{uuid.uuid4().hex[:8]}"
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"CREATE TABLE {table} (id VARCHAR(36) PRIMARY KEY, body TEXT NOT NULL)"))
        started = time.perf_counter()
        for _ in range(count):
            async with engine.begin() as connection:
                row = {"id": str(uuid.uuid4()), "body": BODY.decode()}
                await connection.execute(text(f"INSERT INTO {table} (id, body) VALUES (:id, :body)"), row)
        rate = count / (time.perf_counter() - started)
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE {table}"))
        return rate
    finally:
        await engine.dispose()
