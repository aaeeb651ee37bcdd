"""The application factory every service is built with: lifespan, database, broker, relay, middleware, ops routes.

A service module calls :func:`create_service_app` with its routers and consumers. At start-up the lifespan opens the
database engine, starts the broker link (topology, consumers) and the outbox relay as background tasks, and at
shutdown stops them in reverse. ``/livez`` says the process is up; ``/readyz`` answers 503 until the database answers
and every consumer is attached, and whenever one stops being true; ``/metrics`` serves Prometheus text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine, is_sqlite, session_factory
from shared.http import RequestContextMiddleware, install_problem_handlers, metrics_response
from shared.logs import configure_logging
from shared.messaging.broker import Broker
from shared.messaging.consumer import Consumer
from shared.messaging.outbox import OutboxRelay
from shared.settings import PortalSettings, get_settings
from shared.telemetry import instrument_app, setup_tracing

ReadinessCheck = Callable[["Runtime"], Awaitable[str | None]]
"""An extra readiness check: returns None when ready, else a short reason."""

StartupHook = Callable[["Runtime"], Awaitable[None]]
"""Work to do once at start-up, e.g. seeding a row or opening clients (entered into ``runtime.resources`` so they
close at shutdown): runs in the lifespan once the database engine exists, before the app serves; raising stops the
start-up (what the lifespan opened is closed again)."""

READINESS_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """What a running service holds: its settings, database, broker link and background tasks."""

    service: str
    settings: PortalSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: Broker
    relay: OutboxRelay
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)
    """Closed at shutdown, first: start-up hooks enter what they open here (clients, pools)."""
    extensions: dict[str, Any] = field(default_factory=dict)
    """What start-up hooks made for the routes, by name (e.g. the gateway's downstream clients)."""


def start_job(runtime: Runtime, name: str, job: Callable[[], Awaitable[object]], every_seconds: float) -> None:
    """Run ``job`` now and then every ``every_seconds`` in the background until the service stops (a task of
    ``runtime``). A failed run is logged and the next one comes as planned: a job must outlive a database hiccup."""

    async def repeat() -> None:
        while True:
            try:
                await job()
            except Exception as exc:
                log.warning("background job failed", job=name, error=repr(exc))
            await asyncio.sleep(every_seconds)

    runtime.tasks.append(asyncio.create_task(repeat(), name=f"{runtime.service}-{name}"))


def create_service_app(
    service: str,
    *,
    routers: Sequence[APIRouter] = (),
    consumers: Sequence[Consumer] = (),
    readiness_checks: Sequence[ReadinessCheck] = (),
    settings: PortalSettings | None = None,
    public: bool = False,
    startup: Sequence[StartupHook] = (),
) -> FastAPI:
    """A FastAPI app for ``service``. Internal services (``public=False``) require the internal token on every
    route but the operations routes; the gateway (``public=True``) authenticates callers itself. ``startup`` hooks
    run in order at start-up (see :data:`StartupHook`)."""
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, resolved.log_level)
        setup_tracing(service)
        engine = create_engine(resolved.database_url_of(service))
        sessions = session_factory(engine)
        broker = Broker(service, resolved, sessions, consumers)
        relay = OutboxRelay(
            service,
            sessions,
            resolved,
            broker.events_exchange,
            lock_rows=not is_sqlite(resolved.database_url_of(service)),
        )
        runtime = Runtime(service, resolved, engine, sessions, broker, relay)
        runtime.tasks = [
            asyncio.create_task(broker.run(), name=f"{service}-broker"),
            asyncio.create_task(relay.run(), name=f"{service}-outbox-relay"),
        ]
        app.state.runtime = runtime
        try:
            for hook in startup:
                await hook(runtime)
            yield
        finally:
            await runtime.resources.aclose()
            for task in reversed(runtime.tasks):
                task.cancel()
            for task in runtime.tasks:
                with suppress(asyncio.CancelledError):
                    await task
            await broker.close()
            await engine.dispose()

    app = FastAPI(title=f"Doctor Portal {service}", lifespan=lifespan)
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=service, settings=None if public else resolved)
    app.include_router(operations_router(readiness_checks))
    for router in routers:
        app.include_router(router)
    instrument_app(app)
    return app


def operations_router(readiness_checks: Sequence[ReadinessCheck]) -> APIRouter:
    """``/livez``, ``/readyz`` and ``/metrics`` (ARCHITECTURE.md rule 8)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with runtime.engine.connect() as connection:
                await asyncio.wait_for(connection.execute(text("SELECT 1")), READINESS_TIMEOUT_SECONDS)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        missing = sorted({c.queue for c in runtime.broker.consumers} - runtime.broker.attached)
        if runtime.broker.events_exchange() is None:
            checks["broker"] = "not connected"
        elif missing:
            checks["broker"] = f"consumers not attached: {', '.join(missing)}"
        else:
            checks["broker"] = "ok"
        for check in readiness_checks:
            reason = await check(runtime)
            checks[check.__name__.removeprefix("check_")] = reason or "ok"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @router.get("/metrics")
    async def metrics() -> object:
        return metrics_response()

    return router


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: a session of the service's database (the route opens its own transaction)."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        yield session
