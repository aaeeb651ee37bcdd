"""Benchmark 3, the event pipeline: orders submitted through the gateway until the notification they cause is
created, end to end, at saturation and at a steady offered load of half that.

An order's submission (``POST /api/v1/orders/{id}/submit``, drafts made beforehand) travels as events: the orders
service publishes ``order.submitted``; the cases service moves the case and the documents service checks its
records; the notifications service hears of both and creates a "records missing" notification, publishing
``notification.created``. The benchmark listens for that event on a queue of its own and matches it to the
submission by the correlation id the submission was sent with. Saturation: submissions from 20 clients at once as
fast as the gateway takes them, and orders per second counted from the first submission to the last notification.
Steady load: submissions at half that rate, at fixed times; the latency of each counts from its planned time.

Ceiling: the slowest raw stage, measured on the same broker and the same kind of database in the same run
(:mod:`bench.raw`). Goals: sustained orders/s ≥ 0.5 of the ceiling; end-to-end p99 < 250 ms at half saturation.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from bench import seed
from bench.context import Context
from bench.load import percentile
from bench.processes import System, cpu_seconds, system
from bench.profiles import Profile, profile_table, sample
from bench.raw import broker_rates, transaction_rate
from bench.report import Goal, Section, Table
from shared.messaging.topology import EVENTS_EXCHANGE

TITLE = "3. Event pipeline"
CLIENTS = 20
THROUGHPUT_GOAL = 0.5
P99_GOAL_MS = 250.0
TIMEOUT_SECONDS = 60.0
"""How long the benchmark waits for the last notification of a phase."""


@dataclass
class Listener:
    """When the first ``notification.created`` of each correlation id arrived (``time.monotonic()``)."""

    arrived: dict[str, float] = field(default_factory=dict)

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Record the event's arrival; acknowledge it."""
        now = time.monotonic()
        correlation = json.loads(message.body).get("correlation_id")
        if correlation:
            self.arrived.setdefault(correlation, now)
        await message.ack()

    async def wait_for(self, correlations: list[str]) -> None:
        """Until every correlation id has arrived, or :data:`TIMEOUT_SECONDS` have passed."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not all(c in self.arrived for c in correlations) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Phase:
    """A phase's orders: when each was (planned to be) submitted and when its notification arrived (None: never)."""

    sent: dict[str, float]
    arrived: dict[str, float | None]

    @property
    def latencies_ms(self) -> list[float]:
        """End-to-end milliseconds of each order that arrived, sorted."""
        return sorted((self.arrived[c] - at) * 1000 for c, at in self.sent.items() if self.arrived[c] is not None)

    @property
    def lost(self) -> int:
        """Orders whose notification never arrived."""
        return sum(1 for value in self.arrived.values() if value is None)

    @property
    def rate(self) -> float:
        """Orders per second from the first submission to the last notification."""
        arrived = [at for at in self.arrived.values() if at is not None]
        return len(arrived) / (max(arrived) - min(self.sent.values())) if arrived else 0.0


def run(context: Context) -> Section:
    """Measure the ceilings, then the pipeline at saturation and at half of it."""
    section = Section(TITLE)
    with system() as portal:
        published, consumed = asyncio.run(broker_rates(portal.env["RABBITMQ_URL"], context.count(5_000, 1_000)))
        database = f"sqlite+aiosqlite:///{Path(portal.env['PORTAL_DATA_DIR']) / 'bench.sqlite3'}"
        transactions = asyncio.run(transaction_rate(database, context.count(1_000, 200)))
        measured = asyncio.run(_pipeline(portal, context.count(400, 60), context.seconds(15, 3)))
        saturated, steady, rate, used = measured
        ceiling = min(published, consumed, transactions)
        if saturated.rate / ceiling < THROUGHPUT_GOAL:
            seconds = context.seconds(5, 2)
            found = asyncio.run(_profiled(portal, math.ceil(saturated.rate * (seconds + 2)), seconds))
            section.tables.append(profile_table(found, "At saturation: where each service's time goes"))
    stages = Table("Raw stages, same broker and database kind", ["stage", "per second"])
    stages.rows += [
        ["publish, persistent 300 bytes, quorum queue, 100 confirms in flight", published],
        ["consume, prefetch 100, manual acks", consumed],
        ["one-row transactions, SQLite through the services' engine", transactions],
    ]
    phases = Table(
        "End to end: submission to notification.created",
        ["load", "orders", "orders/s", "p50 ms", "p90 ms", "p99 ms", "lost", "ratio to ceiling"],
    )
    for name, phase in ((f"saturation ({CLIENTS} clients)", saturated), (f"steady, {rate:.1f}/s offered", steady)):
        latencies = phase.latencies_ms
        row = [name, len(phase.sent), phase.rate, percentile(latencies, 50), percentile(latencies, 90)]
        phases.rows.append([*row, percentile(latencies, 99), phase.lost, phase.rate / ceiling])
    cpu = Table("CPU time per order at saturation, by process (2 cores in all)", ["process", "CPU ms per order"])
    cpu.rows += sorted(([name, ms] for name, ms in used.items()), key=lambda row: -row[1])
    cpu.rows.append(["all services", sum(used.values())])
    cores = os.cpu_count() or 1
    section.notes.append(
        f"At {sum(used.values()):.0f} ms of CPU per order across the services, {cores} cores carry at most "
        f"{cores * 1000 / sum(used.values()):.0f} orders/s; the raw stages cost {1000 / ceiling:.2f} ms at their "
        "slowest. What holds the pipeline back is the services' own work per order (HTTP, validation, several "
        "transactions with their outbox and inbox rows in each service), not the broker or the database."
    )
    section.tables[:0] = [phases, stages, cpu]
    section.goals.append(Goal("sustained orders/s / slowest raw stage", saturated.rate / ceiling, THROUGHPUT_GOAL))
    p99 = percentile(steady.latencies_ms, 99)
    section.goals.append(Goal("e2e p99 ms at half saturation", p99, P99_GOAL_MS, at_least=False))
    return section


@asynccontextmanager
async def _listening(portal: System) -> AsyncIterator[Listener]:
    """A :class:`Listener` hearing every ``notification.created`` on a queue of its own while in the block."""
    listener = Listener()
    connection = await aio_pika.connect(portal.env["RABBITMQ_URL"])
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=200)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(EVENTS_EXCHANGE, routing_key="notification.created.#")
        await queue.consume(listener.on_message)
        yield listener
    finally:
        await connection.close()


async def _pipeline(portal: System, orders: int, seconds: float) -> tuple[Phase, Phase, float, dict[str, float]]:
    """The saturation phase with ``orders`` orders, then ``seconds`` of steady load at half its rate; returns both,
    the steady rate and the CPU milliseconds each service used per order at saturation."""
    async with _listening(portal) as listener:
        token = await seed.doctor(portal.api)
        drafts = await seed.drafts(portal.api, token, orders)
        before = cpu_seconds(portal.pids)
        saturated = await _saturate(portal.api, token, drafts, listener)
        used = {name: (seconds - before[name]) * 1000 / orders for name, seconds in cpu_seconds(portal.pids).items()}
        rate = saturated.rate / 2
        token = await seed.doctor(portal.api)  # a doctor of its own: the drafts wait counts their cases alone
        drafts = await seed.drafts(portal.api, token, max(1, math.ceil(rate * seconds)))
        steady = await _offer(portal.api, token, drafts, rate, listener)
        return saturated, steady, rate, used


async def _profiled(portal: System, orders: int, seconds: float) -> dict[str, Profile]:
    """Where each service spends its time during the first ``seconds`` of another saturation run of ``orders``
    orders (enough to last that long)."""
    async with _listening(portal) as listener:
        token = await seed.doctor(portal.api)
        drafts = await seed.drafts(portal.api, token, orders)
        sampling = asyncio.create_task(asyncio.to_thread(sample, portal.pids, seconds))
        await _saturate(portal.api, token, drafts, listener)
        return await sampling


async def _submit(client: httpx.AsyncClient, draft: dict[str, Any]) -> str:
    correlation = f"bench-{draft['id']}"
    answer = await client.post(f"/orders/{draft['id']}/submit", headers={"X-Correlation-ID": correlation})
    answer.raise_for_status()
    return correlation


async def _saturate(api: str, token: str, drafts: list[dict[str, Any]], listener: Listener) -> Phase:
    """Submit every draft from :data:`CLIENTS` clients at once, each as soon as its previous one was answered."""
    sent: dict[str, float] = {}
    pending = list(drafts)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:

        async def worker() -> None:
            while pending:
                draft = pending.pop()
                started = time.monotonic()
                sent[await _submit(client, draft)] = started

        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    await listener.wait_for(list(sent))
    return Phase(sent, {c: listener.arrived.get(c) for c in sent})


async def _offer(api: str, token: str, drafts: list[dict[str, Any]], rate: float, listener: Listener) -> Phase:
    """Submit the drafts at ``rate`` per second, each at its planned time (late answers do not delay the next)."""
    headers = {"Authorization": f"Bearer {token}"}
    start = time.monotonic() + 0.1
    planned = {f"bench-{draft['id']}": start + n / rate for n, draft in enumerate(drafts)}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:

        async def at_its_time(draft: dict[str, Any]) -> None:
            await asyncio.sleep(max(0.0, planned[f"bench-{draft['id']}"] - time.monotonic()))
            await _submit(client, draft)

        await asyncio.gather(*(at_its_time(draft) for draft in drafts))
    await listener.wait_for(list(planned))
    return Phase(planned, {c: listener.arrived.get(c) for c in planned})
