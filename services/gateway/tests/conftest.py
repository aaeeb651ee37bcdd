"""Fixtures for the gateway's tests: the gateway served over real HTTP on its migrated database (SQLite, then
PostgreSQL) and a fresh broker virtual host, and the helpers several test files share: acting as a user would,
reading and writing the gateway's database directly, listening to the events it publishes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractQueue
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlmodel import SQLModel

from services.gateway.app import create_app
from services.gateway.models import Account
from services.gateway.settings import Settings
from shared.credentials import hash_password
from shared.db import create_engine, session_factory, transaction
from shared.messaging.topology import EVENTS_EXCHANGE
from tests.harness.fixtures import migrate
from tests.harness.servers import serve

PASSWORD = "Correct-Horse-Battery-42"


@dataclass
class Gateway:
    """A running gateway: its settings and its API base URL (``.../api/v1``)."""

    settings: Settings
    base: str

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """An HTTP client for the API, with a bearer token when given (no cookie jar shared between clients)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=30)


def gateway_settings(tmp_path: Path, rabbitmq_url: str, database_url: str, **overrides: object) -> Settings:
    """Gateway settings for a test (test environment, its own data directory, broker and database)."""
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "rabbitmq_url": rabbitmq_url,
        "gateway_database_url": database_url,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """The gateway of ``settings``, its database migrated, served for the block."""
    await migrate("gateway", settings)
    async with serve(create_app(settings)) as base:
        yield Gateway(settings, f"{base}/api/v1")


@pytest.fixture
async def gateway(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway, migrated and ready, on each kind of database in turn."""
    async with running_gateway(gateway_settings(tmp_path, vhost_url, database_url)) as running:
        yield running


def registration(email: str | None = None, **overrides: object) -> dict[str, object]:
    """A valid registration body for a new doctor (a unique e-mail unless given)."""
    return {
        "email": email or f"doctor-{uuid.uuid4().hex[:10]}@example.org",
        "password": PASSWORD,
        "first_name": "Zoë",
        "last_name": "Lefèvre",
        "country": "FR",
        "language": "fr",
        "practice": {
            "name": "Cabinet Lefèvre",
            "address": {"line1": "12 rue de la République", "city": "Lyon", "postal_code": "69002", "country": "FR"},
            "phone": "+33 4 72 00 00 00",
        },
        **overrides,
    }


async def sign_up(gateway: Gateway, email: str | None = None) -> tuple[dict[str, object], str]:
    """Register a doctor and sign in; returns the account as the API shows it and a bearer token."""
    async with gateway.client() as client:
        body = registration(email)
        created = await client.post("/auth/register", json=body)
        assert created.status_code == 201, created.text
        login = await client.post("/auth/login", json={"email": body["email"], "password": PASSWORD})
        assert login.status_code == 200, login.text
    return created.json(), login.json()["access_token"]


async def sign_in(gateway: Gateway, email: str, password: str = PASSWORD) -> str:
    """A new session's bearer token for ``email`` (with the tests' password unless given)."""
    async with gateway.client() as client:
        login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return login.json()["access_token"]


def fields(response: httpx.Response) -> list[str]:
    """The fields a 422 problem names."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in response.json()["errors"]]


@asynccontextmanager
async def gateway_database(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the gateway's database of ``settings`` (to check or set what the API cannot), committed when
    the block ends without an error."""
    engine = create_engine(settings.database_url_of("gateway"))
    try:
        async with transaction(session_factory(engine)) as session:
            yield session
    finally:
        await engine.dispose()


async def database_rows(settings: Settings, statement: Select[Any]) -> list[Any]:
    """The rows ``statement`` selects in the gateway's database of ``settings``."""
    async with gateway_database(settings) as db:
        return list((await db.execute(statement)).all())


async def insert_rows(settings: Settings, rows: list[SQLModel]) -> None:
    """Write ``rows`` straight into the gateway's database of ``settings``."""
    async with gateway_database(settings) as db:
        db.add_all(rows)


async def add_account(gateway: Gateway, email: str, role: str) -> None:
    """Insert an account of ``role`` with the tests' password straight into the gateway's database."""
    account = Account(email=email, password_hash=hash_password(PASSWORD), role=role, first_name="S", last_name="T")
    await insert_rows(gateway.settings, [account])


async def staff_token(gateway: Gateway) -> str:
    """A signed-in staff member's token; the account is written straight to the gateway's database."""
    email = f"staff-{uuid.uuid4().hex[:10]}@lab.example.org"
    await add_account(gateway, email, "staff")
    return await sign_in(gateway, email)


@asynccontextmanager
async def listening(gateway: Gateway, routing_key: str) -> AsyncIterator[AbstractQueue]:
    """An exclusive queue bound to ``portal.events`` with ``routing_key`` on the gateway's broker, for the block."""
    connection = await aio_pika.connect(gateway.settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=routing_key)
        yield queue
    finally:
        await connection.close()


async def next_envelope(queue: AbstractQueue, timeout: float = 15.0) -> dict[str, Any]:
    """The next message of ``queue`` as a decoded envelope; fails the test after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is not None:
            return json.loads(message.body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no event on {queue.name} within {timeout} s")


async def list_items(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    """The items of the list at ``path``, read as its first page with the default size, which must hold them all
    (the shape of API.md "Lists")."""
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (sorted(body), body["page"], body["page_size"]) == (["items", "page", "page_size", "total"], 1, 50), body
    assert body["total"] == len(body["items"]), body
    return body["items"]


async def assert_paged(client: httpx.AsyncClient, path: str, ids: list[str]) -> None:
    """The list at ``path`` holds exactly ``ids`` in this order, read page after page of two (and one page past
    the end, empty), or as one page of the largest size; a ``page`` or ``page_size`` out of range is a 422."""
    size = 2
    for number in range(1, -(-len(ids) // size) + 2):
        answer = await client.get(path, params={"page": number, "page_size": size})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["page"], body["page_size"], body["total"]) == (number, size, len(ids)), body
        assert [item["id"] for item in body["items"]] == ids[(number - 1) * size : number * size], (number, body)
    whole = (await client.get(path, params={"page_size": 200})).json()
    assert ([item["id"] for item in whole["items"]], whole["page_size"], whole["total"]) == (ids, 200, len(ids))
    for params in ({"page": 0}, {"page_size": 0}, {"page_size": 201}, {"page": "first"}):
        assert (await client.get(path, params=params)).status_code == 422, params
