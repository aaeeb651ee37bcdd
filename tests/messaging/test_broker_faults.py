"""The broker stopped, restarted and killed under a running service: consumers come back, nothing is lost.

These tests use the test run's private RabbitMQ node (``rabbit_node``), never the shared broker.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from yarl import URL

from tests.harness.fixtures import doctor_headers
from tests.harness.proxy import FaultProxy
from tests.harness.rabbit import RabbitNode, queue_stat
from tests.harness.servers import serve
from tests.messaging.helpers import applied_rows, eventually, post_events, probe_settings
from tests.probe import create_app

pytestmark = pytest.mark.fault
QUEUE = "orders.probe"


async def consumers_become(url: str, node: RabbitNode, expected: int) -> None:
    """Wait until the broker counts ``expected`` consumers on the probe queue (its statistics lag a little)."""

    async def counted() -> bool:
        return await asyncio.to_thread(queue_stat, url, QUEUE, "consumers", node.name) == expected

    await eventually(counted, timeout=20, interval=0.5)


async def readyz_status(base: str) -> int:
    async with httpx.AsyncClient(timeout=2) as client:
        return (await client.get(f"{base}/readyz")).status_code


async def test_broker_restarted_five_times_consumers_reattach_and_events_flow(
    tmp_path: Path, rabbit_node: RabbitNode, node_vhost_url: str, database_url: str
) -> None:
    settings = await probe_settings(tmp_path, node_vhost_url, database_url)
    headers = doctor_headers(settings)
    async with serve(create_app(settings)) as base:
        await consumers_become(node_vhost_url, rabbit_node, 1)
        for round_number in range(1, 6):
            await asyncio.to_thread(rabbit_node.stop_app)

            async def not_ready() -> bool:
                return await readyz_status(base) == 503

            await eventually(not_ready, timeout=15)
            await asyncio.to_thread(rabbit_node.start_app)

            async def ready() -> bool:
                return await readyz_status(base) == 200

            await eventually(ready, timeout=30)
            await consumers_become(node_vhost_url, rabbit_node, 1)
            await post_events(base, headers, f"s-round-{round_number}", [1])

            async def flowed(expected: int = round_number) -> bool:
                return len(await applied_rows(database_url)) == expected

            await eventually(flowed, timeout=30)


async def test_broker_down_for_ten_seconds_while_200_events_are_written(
    tmp_path: Path, rabbit_node: RabbitNode, node_vhost_url: str, database_url: str
) -> None:
    settings = await probe_settings(tmp_path, node_vhost_url, database_url)
    headers = doctor_headers(settings)
    async with serve(create_app(settings)) as base:
        await asyncio.to_thread(rabbit_node.stop_app)
        started = time.monotonic()
        written: list[str] = []
        for n in range(200):  # requests keep succeeding: no handler waits for the broker
            written += await post_events(base, headers, f"s-{n}", [1])  # own subjects: none can be stale
            await asyncio.sleep(max(0.0, started + (n + 1) * 0.045 - time.monotonic()))
        await asyncio.sleep(max(0.0, started + 10 - time.monotonic()))
        assert len(written) == 200 and await readyz_status(base) == 503
        await asyncio.to_thread(rabbit_node.start_app)

        async def all_applied() -> bool:
            return len(await applied_rows(database_url)) >= 200

        await eventually(all_applied, timeout=60)
        await asyncio.sleep(1.0)
    counts = Counter(str(row["message_id"]) for row in await applied_rows(database_url))
    assert set(counts) == set(written) and max(counts.values()) == 1


async def test_network_cut_detected_by_heartbeat_then_consumer_reattached(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    broker = URL(vhost_url)
    proxy = await FaultProxy(broker.host or "127.0.0.1", broker.port or 5672).start()
    through_proxy = str(broker.with_port(proxy.port).with_query(heartbeat=2))
    settings = await probe_settings(tmp_path, through_proxy, database_url)
    headers = doctor_headers(settings)
    try:
        async with serve(create_app(settings)) as base:
            [before] = await post_events(base, headers, "s-before", [1])

            async def first_applied() -> bool:
                return len(await applied_rows(database_url)) == 1

            await eventually(first_applied)
            proxy.cut()

            async def not_ready() -> bool:
                return await readyz_status(base) == 503

            await eventually(not_ready, timeout=30)  # silence, not a close: only the heartbeat can tell
            [during] = await asyncio.wait_for(post_events(base, headers, "s-during", [1]), timeout=5)
            proxy.restore()

            async def ready() -> bool:
                return await readyz_status(base) == 200

            await eventually(ready, timeout=30)

            async def one_consumer() -> bool:  # the broker also drops the silent connection's consumer
                return await asyncio.to_thread(queue_stat, vhost_url, QUEUE, "consumers") == 1

            await eventually(one_consumer, timeout=30, interval=0.5)

            async def second_applied() -> bool:
                return len(await applied_rows(database_url)) == 2

            await eventually(second_applied, timeout=30)
        assert sorted(str(row["message_id"]) for row in await applied_rows(database_url)) == sorted([before, during])
    finally:
        await proxy.close()
