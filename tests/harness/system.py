"""The gateway with internal services behind it, all served over real HTTP in the test's event loop, each on its own
database of the same kind (SQLite files, or new PostgreSQL databases), on one broker virtual host."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services.gateway.downstream import INTERNAL_SERVICES
from services.gateway.tests.conftest import Gateway, gateway_settings, running_gateway
from shared.db import is_sqlite
from tests.harness.databases import create_postgres_database, drop_postgres_database, sqlite_url
from tests.harness.fixtures import migrate
from tests.harness.proxy import FaultProxy
from tests.harness.servers import serve

CLOSED = "http://127.0.0.1:9"
"""Where the gateway looks for a service the test does not run: a port nothing listens on (discard)."""


@dataclass
class Portal:
    """The running gateway (``gateway.base`` is its ``/api/v1``), the base URLs of the services behind it, and their
    broker virtual host."""

    gateway: Gateway
    vhost_url: str
    bases: dict[str, str] = field(default_factory=dict)
    proxies: dict[str, FaultProxy] = field(default_factory=dict)

    @property
    def orders_base(self) -> str:
        """The orders service's base URL."""
        return self.bases["orders"]


@asynccontextmanager
async def running_portal(
    tmp_path: Path,
    vhost_url: str,
    gateway_database_url: str,
    services: tuple[str, ...] = ("orders", "cases"),
    *,
    proxied: tuple[str, ...] = (),
    gateway: dict[str, Any] | None = None,
    **own: dict[str, Any],
) -> AsyncIterator[Portal]:
    """Serve ``services`` (each on a database of its own, of the same kind as ``gateway_database_url``, with a quick
    outbox relay) and the gateway relaying to them, all migrated; ``own`` gives a service settings of its own (e.g.
    ``documents={"storage_backend": "s3", ...}``) and ``gateway`` the gateway's. The gateway reaches each service of
    ``proxied`` through a :class:`~tests.harness.proxy.FaultProxy` (``Portal.proxies``) that the test can slow, reset
    or stop. Yields them, then drops what it created."""
    databases = {
        name: sqlite_url(tmp_path, name) if is_sqlite(gateway_database_url) else await create_postgres_database()
        for name in services
    }
    try:
        settings = gateway_settings(
            tmp_path,
            vhost_url,
            gateway_database_url,
            outbox_poll_seconds=0.1,
            retry_delays_seconds=[0.2, 0.4],
            **{f"{name}_database_url": url for name, url in databases.items()},
        )
        async with AsyncExitStack() as stack:
            bases = {}
            for name in services:
                await migrate(name, settings)
                service_settings = importlib.import_module(f"services.{name}.settings").Settings
                mine = service_settings(**{**settings.model_dump(), **own.get(name, {})})
                app = importlib.import_module(f"services.{name}.app").create_app(mine)
                bases[name] = await stack.enter_async_context(serve(app))
            proxies = {}
            for name in proxied:
                proxies[name] = await FaultProxy("127.0.0.1", urlsplit(bases[name]).port or 80).start()
                stack.push_async_callback(proxies[name].close)
            absent = {f"{name}_url": CLOSED for name in INTERNAL_SERVICES if name not in bases}
            reached = {f"{name}_url": proxies[name].url if name in proxies else base for name, base in bases.items()}
            settings = settings.model_copy(update={**absent, **reached, **(gateway or {})})
            running = await stack.enter_async_context(running_gateway(settings))
            yield Portal(running, vhost_url, bases, proxies)
    finally:
        for url in databases.values():
            if not is_sqlite(url):
                await drop_postgres_database(url)
