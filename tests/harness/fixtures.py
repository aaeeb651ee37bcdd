"""Pytest fixtures shared by every test: broker virtual hosts, databases, settings, a private RabbitMQ node."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.internal_token import Principal, mint_internal_token
from shared.migrations import upgrade
from shared.settings import PortalSettings
from tests.harness.databases import create_postgres_database, drop_postgres_database, sqlite_url
from tests.harness.rabbit import RabbitNode, create_vhost, delete_vhost
from tests.harness.s3 import moto_server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The ``host:port`` of one S3 server (moto's, in a subprocess) for the whole test run, started when first
    asked for."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def vhost_url() -> Iterator[str]:
    """A fresh virtual host on the shared broker, deleted after the test."""
    url = create_vhost()
    yield url
    delete_vhost(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind in turn: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    url = await create_postgres_database()
    yield url
    await drop_postgres_database(url)


def make_settings(tmp_path: Path, rabbitmq_url: str, database_url: str, **overrides: object) -> PortalSettings:
    """Settings for a test: its own data directory, broker URL and orders database, short delays."""
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "rabbitmq_url": rabbitmq_url,
        "orders_database_url": database_url,
        "outbox_poll_seconds": 0.1,
        "retry_delays_seconds": [0.2, 0.4],
        "publish_timeout_seconds": 3.0,
        "broker_reconnect_max_seconds": 1.0,
        **overrides,
    }
    return PortalSettings(**values)  # type: ignore[arg-type]


def settings_env(settings: PortalSettings) -> dict[str, str]:
    """The environment variables that give a child process the same settings."""
    env = {
        "PORTAL_ENV": settings.env,
        "PORTAL_DATA_DIR": str(settings.data_dir),
        "RABBITMQ_URL": settings.rabbitmq_url,
        "PORTAL_OUTBOX_POLL_SECONDS": str(settings.outbox_poll_seconds),
        "PORTAL_RETRY_DELAYS_SECONDS": json.dumps(settings.retry_delays_seconds),
        "PORTAL_PUBLISH_TIMEOUT_SECONDS": str(settings.publish_timeout_seconds),
        "PORTAL_BROKER_RECONNECT_MAX_SECONDS": str(settings.broker_reconnect_max_seconds),
        "PORTAL_OUTBOX_MAX_ATTEMPTS": str(settings.outbox_max_attempts),
        "PORTAL_INTERNAL_TOKEN_SECRET": settings.internal_token_secret.get_secret_value(),
    }
    if settings.orders_database_url:
        env["PORTAL_ORDERS_DATABASE_URL"] = settings.orders_database_url
    return env


def doctor_headers(settings: PortalSettings) -> dict[str, str]:
    """An ``Authorization`` header with an internal token for a new doctor."""
    doctor = uuid.uuid4()
    token = mint_internal_token(settings, Principal(user_id=doctor, role="doctor", doctor_id=doctor))
    return {"Authorization": f"Bearer {token}"}


async def migrate(service: str, settings: PortalSettings) -> None:
    """Run ``service``'s migrations (Alembic is synchronous, so in a thread)."""
    await asyncio.to_thread(upgrade, service, settings)


@pytest.fixture(scope="session")
def rabbit_node() -> Iterator[RabbitNode]:
    """A private RabbitMQ node for fault tests, started once per test run."""
    node = RabbitNode()
    node.start()
    yield node
    node.shutdown()


@pytest.fixture
def node_vhost_url(rabbit_node: RabbitNode) -> Iterator[str]:
    """A fresh virtual host on the private node; the node's application is running when the test starts."""
    url = create_vhost(rabbit_node.url, node=rabbit_node.name)
    yield url
    rabbit_node.start_app()
    delete_vhost(url, node=rabbit_node.name)
