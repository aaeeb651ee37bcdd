"""Benchmark 5, telemetry overhead: the same endpoints with tracing off and with tracing and metrics as deployed.

Two systems side by side, the same but for telemetry: tracing off (``OTEL_SDK_DISABLED=true``), and tracing as
docker-compose.yml configures it, exporting over OTLP/HTTP to a local sink. Each serves, at 50 concurrent clients,
``GET /api/v1/account`` (the gateway alone: one span) and ``GET /api/v1/dashboard`` (the gateway and two services:
five spans), in turns (off, on, off, on, ...) so that a change in the machine's other load hits both alike; the
median of the turns counts. Besides throughput, the CPU time of every service process per request. Metrics cannot be
switched off; what they cost is the time of the histogram's observation per request, measured here apart. Goal:
telemetry costs at most 25% of throughput.
"""

from __future__ import annotations

import asyncio
import statistics
import timeit
from contextlib import ExitStack

from bench import seed
from bench.context import Context
from bench.load import Load, hey, median
from bench.processes import System, cpu_seconds, deployed_telemetry, system, uvicorn
from bench.profiles import under_load
from bench.report import Goal, Section, Table
from shared.metrics import REQUEST_LATENCY
from shared.telemetry import UNTRACED_ROUTES

TITLE = "5. Telemetry overhead"
ENDPOINTS = {"/account": 1, "/dashboard": 3}
"""Endpoints measured, and how many processes each request passes through (one latency observation in each)."""
CONNECTIONS = 50
GOAL = 0.75


def run(context: Context) -> Section:
    """Measure both systems; the section with the throughput ratio of each endpoint against its goal."""
    turns = 3 if context.scale >= 1 else 1
    seconds = context.seconds(4)
    section = Section(TITLE)
    table = Table(
        f"At {CONNECTIONS} clients, {turns} turn(s) of {seconds:g} s each, medians",
        ["endpoint", "telemetry", "req/s", "p50 ms", "p99 ms", "errors", "CPU ms per request", "ratio to off"],
    )
    with ExitStack() as stack:
        sink = stack.enter_context(uvicorn("bench.bare:create_app"))
        variants = {"tracing off": {"OTEL_SDK_DISABLED": "true"}, "as deployed": deployed_telemetry(sink)}
        systems = {name: stack.enter_context(system(env)) for name, env in variants.items()}
        tokens = {name: asyncio.run(seed.doctor(portal.api)) for name, portal in systems.items()}
        for name, portal in systems.items():
            asyncio.run(seed.drafts(portal.api, tokens[name], 3))
        for endpoint, processes in ENDPOINTS.items():
            runs: dict[str, list[tuple[Load, float]]] = {name: [] for name in systems}
            for name, portal in systems.items():  # warm the pools
                hey(f"{portal.api}{endpoint}", seconds=1, headers=_auth(tokens[name]))
            for _ in range(turns):
                for name, portal in systems.items():
                    runs[name].append(_measured(portal, endpoint, tokens[name], seconds))
            off, on = (_median(runs[name]) for name in systems)
            for name, (load, cpu_ms) in zip(systems, (off, on), strict=True):
                ratio = load.rps / off[0].rps
                table.rows.append([endpoint, name, load.rps, load.p50_ms, load.p99_ms, load.errors, cpu_ms, ratio])
            section.goals.append(Goal(f"{endpoint}: throughput with telemetry / without", on[0].rps / off[0].rps, GOAL))
            observe_us = metric_cost_us()
            section.notes.append(
                f"`{endpoint}`: the latency histogram costs {processes} × {observe_us:.1f} µs of CPU per request, "
                f"{processes * observe_us / 10 / on[1]:.2f}% of the request's {on[1]:.2f} ms."
            )
        deployed = systems["as deployed"]
        pids = {name: deployed.pids[name] for name in ("gateway", "cases")}
        title = "Under /dashboard load, as deployed: where the time goes"
        url = f"{deployed.api}/dashboard"
        section.tables.append(under_load(pids, url, _auth(tokens["as deployed"]), seconds, CONNECTIONS, title))
    section.tables.insert(0, table)
    deployed = ", ".join(f"`{k}={v}`" for k, v in variants["as deployed"].items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT")
    section.notes.append(
        f"As deployed: {deployed or 'the SDK defaults'}; spans exported in batches (BatchSpanProcessor); one span per "
        f"request (no `receive`/`send` spans); none for `{UNTRACED_ROUTES}`."
    )
    return section


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _measured(portal: System, endpoint: str, token: str, seconds: float) -> tuple[Load, float]:
    """One load run of ``endpoint``, and the CPU milliseconds all the portal's services used per request."""
    before = sum(cpu_seconds(portal.pids).values())
    load = hey(f"{portal.api}{endpoint}", connections=CONNECTIONS, seconds=seconds, headers=_auth(token))
    used = sum(cpu_seconds(portal.pids).values()) - before
    return load, used * 1000 / max(1, load.requests)


def _median(runs: list[tuple[Load, float]]) -> tuple[Load, float]:
    """The run of median throughput, with the median CPU time per request of all runs."""
    return median([load for load, _ in runs]), statistics.median(cpu for _, cpu in runs)


def metric_cost_us(repeats: int = 20_000) -> float:
    """Microseconds one request's latency observation takes (label lookup and histogram update), median of 5."""

    def observe() -> None:
        REQUEST_LATENCY.labels("bench", "GET", "/bench", "200").observe(0.004)

    return statistics.median(timeit.timeit(observe, number=repeats) / repeats * 1e6 for _ in range(5))
