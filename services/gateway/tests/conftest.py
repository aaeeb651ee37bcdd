"""Fixtures for the gateway's tests: the gateway served over real HTTP on its migrated database (SQLite, then
PostgreSQL) and a fresh broker virtual host, and helpers that act as a user would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.settings import Settings
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


@pytest.fixture
async def gateway(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway, migrated and ready, on each kind of database in turn."""
    settings = gateway_settings(tmp_path, vhost_url, database_url)
    await migrate("gateway", settings)
    async with serve(create_app(settings)) as base:
        yield Gateway(settings, f"{base}/api/v1")


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
