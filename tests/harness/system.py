"""The gateway with the orders service behind it, both served over real HTTP in the test's event loop, each on its
own database of the same kind (two SQLite files, or two new PostgreSQL databases), on one broker virtual host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from services.gateway.app import create_app
from services.gateway.tests.conftest import Gateway, gateway_settings
from services.orders.app import create_app as create_orders_app
from services.orders.tests.conftest import orders_settings
from shared.db import is_sqlite
from tests.harness.databases import create_postgres_database, drop_postgres_database, sqlite_url
from tests.harness.fixtures import migrate
from tests.harness.servers import serve


@dataclass
class Portal:
    """The running gateway (``gateway.base`` is its ``/api/v1``), the orders service behind it, and their broker
    virtual host."""

    gateway: Gateway
    orders_base: str
    vhost_url: str


@asynccontextmanager
async def gateway_with_orders(tmp_path: Path, vhost_url: str, gateway_database_url: str) -> AsyncIterator[Portal]:
    """Serve the orders service (on a database of its own, of the same kind as ``gateway_database_url``, with a
    quick outbox relay) and the gateway relaying to it, both migrated; yields them, then drops what it created."""
    orders_database_url = (
        sqlite_url(tmp_path, "orders") if is_sqlite(gateway_database_url) else await create_postgres_database()
    )
    try:
        orders = orders_settings(tmp_path, vhost_url, orders_database_url)
        await migrate("orders", orders)
        async with serve(create_orders_app(orders)) as orders_base:
            settings = gateway_settings(tmp_path, vhost_url, gateway_database_url, orders_url=orders_base)
            await migrate("gateway", settings)
            async with serve(create_app(settings)) as base:
                yield Portal(Gateway(settings, f"{base}/api/v1"), orders_base, vhost_url)
    finally:
        if not is_sqlite(orders_database_url):
            await drop_postgres_database(orders_database_url)
