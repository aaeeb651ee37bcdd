"""Benchmark 6, scaling: events per second the cases service applies with one replica and with two (competing consumers
on its queues), and the orders list's latency against the load offered to it, drawn as a PNG.

The system runs with the cases service on PostgreSQL (replicas of a service share its database; on SQLite one process
per file is the rule). Events: ``order.draft_created`` envelopes, each opening a new case, published onto
``portal.events`` as the orders service would; the rate is counted from the first publication until the cases table
holds every case. The second replica is the same app in a uvicorn process of its own, which the gateway takes in turn
with the first (``PORTAL_CASES_URL`` lists both). Latency curve, for each: ``GET /api/v1/cases`` (a doctor with 200
cases, first page) through the gateway, first at saturation (50 clients), then offered at fixed fractions of that rate;
p50 and p99 of each.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import ExitStack

import asyncpg

from bench import seed
from bench.context import Context
from bench.load import Load, hey, offered
from bench.processes import System, system, uvicorn
from bench.report import Section, Table, line_chart
from shared.events.orders import DraftPatient, OrderDraftCreated
from tests.harness.databases import create_postgres_database, drop_postgres_database
from tests.harness.events import envelope_of, publish
from tests.harness.rabbit import free_port

TITLE = "6. Scaling"
FRACTIONS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
"""Offered loads of the latency curve, as fractions of the measured saturation rate."""
CONNECTIONS = 50


def run(context: Context) -> Section:
    """Measure events/s and the latency curve with one replica, then with two; the section with both and the
    chart."""
    section = Section(TITLE)
    events = context.count(1_000, 200)
    seconds = context.seconds(3, 2)
    rates: dict[int, float] = {}
    curves: dict[int, list[tuple[float, Load]]] = {}
    for replicas in (1, 2):
        database = asyncio.run(create_postgres_database())
        ports = [free_port() for _ in range(replicas)]
        env = {"PORTAL_CASES_DATABASE_URL": database, "PORTAL_CASES_PORT": str(ports[0])}
        env["PORTAL_CASES_URL"] = ",".join(f"http://127.0.0.1:{port}" for port in ports)
        try:
            with system(env) as portal, ExitStack() as others:
                for port in ports[1:]:
                    replica_env = {**portal.env, "PORTAL_LOG_LEVEL": "WARNING"}
                    others.enter_context(uvicorn("services.cases.app:create_app", replica_env, port=port))
                token = asyncio.run(seed.doctor(portal.api))
                asyncio.run(seed.drafts(portal.api, token, 200))
                curves[replicas] = latency_curve(portal, token, seconds)
                rates[replicas] = asyncio.run(events_per_second(portal, database, events))
        finally:
            asyncio.run(drop_postgres_database(database))
    table = Table(f"order.draft_created applied by the cases service ({events:,} events)", ["replicas", "events/s"])
    table.rows += [[1, rates[1]], [2, rates[2]], ["2 / 1", rates[2] / rates[1]]]
    section.tables.append(table)
    columns = ["offered req/s", "answered req/s", "p50 ms", "p99 ms", "errors"]
    series = {}
    for replicas, curve in curves.items():
        title = f"GET /api/v1/cases at offered loads, {replicas} replica(s); the first row: 50 clients, closed loop"
        table = Table(title, columns)
        table.rows += [[rate, load.rps, load.p50_ms, load.p99_ms, load.errors] for rate, load in curve]
        section.tables.append(table)
        offered_rates = [rate for rate, _ in curve[1:]]
        series[f"p50, {replicas} replica(s)"] = (offered_rates, [load.p50_ms for _, load in curve[1:]])
        series[f"p99, {replicas} replica(s)"] = (offered_rates, [load.p99_ms for _, load in curve[1:]])
    chart = line_chart(
        context.out / "orders-list-latency.png",
        "Orders list: latency against offered load, 1 and 2 cases replicas",
        "offered requests per second",
        "milliseconds",
        series,
    )
    section.charts.append(chart)
    section.notes.append(
        "Two replicas share the same two cores as every other process of the system and the load generator: "
        "the ratio shows what competing consumers add on this machine, not on two machines. With two, the gateway "
        "lists both (`PORTAL_CASES_URL`) and takes them in turn."
    )
    return section


def latency_curve(portal: System, token: str, seconds: float) -> list[tuple[float, Load]]:
    """The orders list at saturation (closed loop, its own rate as the offered one), then offered at each of
    :data:`FRACTIONS` of that rate (open loop)."""
    url, headers = f"{portal.api}/cases", {"Authorization": f"Bearer {token}"}
    hey(url, connections=CONNECTIONS, seconds=1, headers=headers)
    saturated = hey(url, connections=CONNECTIONS, seconds=seconds, headers=headers)
    curve = [(saturated.rps, saturated)]
    for fraction in FRACTIONS:
        rate = max(1.0, saturated.rps * fraction)
        curve.append((rate, offered(url, rate=rate, seconds=seconds, headers=headers)))
    return curve


async def events_per_second(portal: System, database: str, count: int) -> float:
    """Publish ``count`` new-case events and wait until the cases table holds them all; their rate."""
    connection = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        before = await connection.fetchval("SELECT count(*) FROM cases")
        doctor = str(uuid.uuid4())
        envelopes = []
        for n in range(count):
            case_id = str(uuid.uuid4())
            payload = OrderDraftCreated(
                order_id=str(uuid.uuid4()),
                case_id=case_id,
                order_number=f"B{n:09d}",
                doctor_id=doctor,
                kind="aligner",
                opens_case=True,
                patient=DraftPatient(first_name="Zoë", last_name="Lefèvre"),
            )
            envelopes.append(envelope_of(payload, source="orders", subject=case_id, version=1))
        started = time.monotonic()
        await publish(portal.env["RABBITMQ_URL"], *envelopes)
        deadline = started + 120
        while await connection.fetchval("SELECT count(*) FROM cases") < before + count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} cases not applied within 120 s")
            await asyncio.sleep(0.05)
        return count / (time.monotonic() - started)
    finally:
        await connection.close()
