"""Benchmark 5, telemetry overhead: the same endpoints with tracing off and with tracing and metrics as deployed.

Two systems in turn, the same but for telemetry: tracing off (``OTEL_SDK_DISABLED=true``), and tracing as
docker-compose.yml configures it, exporting over OTLP/HTTP to a local sink. Each serves, at 50 concurrent clients,
``GET /api/v1/account`` (the gateway alone: one span) and ``GET /api/v1/dashboard`` (the gateway and two services:
five spans). Metrics cannot be switched off; what they cost is the time of the histogram's observation per request,
measured here apart and compared with a request's time. Goal: telemetry costs at most 25% of throughput.
"""

from __future__ import annotations

import asyncio
import statistics
import timeit

from bench import seed
from bench.context import Context
from bench.load import Load, hey
from bench.processes import deployed_telemetry, system, uvicorn
from bench.profiles import under_load
from bench.report import Goal, Section, Table
from shared.metrics import REQUEST_LATENCY

TITLE = "5. Telemetry overhead"
ENDPOINTS = {"/account": 1, "/dashboard": 3}
"""Endpoints measured, and how many processes each request passes through (one latency observation in each)."""
CONNECTIONS = 50
GOAL = 0.75


def run(context: Context) -> Section:
    """Measure both systems; the section with the throughput ratio of each endpoint against its goal."""
    repeats = 3 if context.scale >= 1 else 1
    seconds = context.seconds(8)
    section = Section(TITLE)
    measured: dict[str, dict[str, Load]] = {}
    with uvicorn("bench.bare:create_app") as sink:
        variants = {"tracing off": {"OTEL_SDK_DISABLED": "true"}, "as deployed": deployed_telemetry(sink)}
        for variant, env in variants.items():
            with system(env) as portal:
                token = asyncio.run(seed.doctor(portal.api))
                asyncio.run(seed.draft_cases(portal.api, token, 3))
                headers = {"Authorization": f"Bearer {token}"}
                measured[variant] = {}
                for endpoint in ENDPOINTS:
                    url = f"{portal.api}{endpoint}"
                    hey(url, connections=CONNECTIONS, seconds=1, headers=headers)  # warm the pools
                    runs = [hey(url, connections=CONNECTIONS, seconds=seconds, headers=headers) for _ in range(repeats)]
                    measured[variant][endpoint] = median_load(runs)
                if variant == "as deployed":
                    title = "Under /dashboard load, as deployed: where the time goes"
                    pids = {name: portal.pids[name] for name in ("gateway", "cases")}
                    url = f"{portal.api}/dashboard"
                    section.tables.append(under_load(pids, url, headers, seconds, CONNECTIONS, title))
    table = Table(
        f"GET /api/v1/... at {CONNECTIONS} clients, median of {repeats}",
        ["endpoint", "telemetry", "req/s", "p50 ms", "p99 ms", "errors", "ratio to tracing off"],
    )
    observe_us = metric_cost_us()
    for endpoint, processes in ENDPOINTS.items():
        off, on = measured["tracing off"][endpoint], measured["as deployed"][endpoint]
        ratio = on.rps / off.rps if off.rps else 0.0
        for variant, load in measured.items():
            row = load[endpoint]
            table.rows.append([endpoint, variant, row.rps, row.p50_ms, row.p99_ms, row.errors, row.rps / off.rps])
        section.goals.append(Goal(f"{endpoint}: throughput with telemetry / without", ratio, GOAL))
        metric_share = processes * observe_us / 1e6 * on.rps
        section.notes.append(
            f"`{endpoint}`: the latency histogram costs {processes} × {observe_us:.1f} µs per request, "
            f"{metric_share:.2%} of a second of one core at the measured {on.rps:.0f} req/s."
        )
    section.tables.insert(0, table)
    return section


def median_load(runs: list[Load]) -> Load:
    """The run of median throughput."""
    return sorted(runs, key=lambda load: load.rps)[len(runs) // 2]


def metric_cost_us(repeats: int = 20_000) -> float:
    """Microseconds one request's latency observation takes (label lookup and histogram update), median of 5."""

    def observe() -> None:
        REQUEST_LATENCY.labels("bench", "GET", "/bench", "200").observe(0.004)

    times = [timeit.timeit(observe, number=repeats) / repeats * 1e6 for _ in range(5)]
    return statistics.median(times)
