"""Each of the five services boots on its migrated database and the real broker, and guards its door."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from shared.settings import SERVICES, PortalSettings
from tests.harness.fixtures import doctor_headers, migrate
from tests.harness.servers import serve


@asynccontextmanager
async def running(service: str, settings: PortalSettings, ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """``service`` migrated and served with ``settings``; yields a client of it."""
    await migrate(service, settings)
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    async with serve(app, ready=ready) as base, httpx.AsyncClient(base_url=base) as client:
        yield client


@pytest.mark.parametrize("service", SERVICES)
async def test_service_boots_migrated_and_answers_operations_routes(
    service: str, tmp_path: Path, vhost_url: str
) -> None:
    async with running(service, PortalSettings(env="test", data_dir=tmp_path, rabbitmq_url=vhost_url)) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        own = {"documents": {"storage": "ok"}}.get(service, {})  # a service's own readiness checks
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok", **own}
        assert (await client.get("/livez")).json() == {"status": "ok"}
        metrics = await client.get("/metrics")
        assert "portal_http_request_duration_seconds_bucket" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")
        echoed = await client.get("/livez", headers={"X-Correlation-ID": "abc-123"})
        assert echoed.headers["x-correlation-id"] == "abc-123"


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
async def test_internal_service_refuses_requests_without_a_valid_internal_token(
    service: str, tmp_path: Path, vhost_url: str
) -> None:
    settings = PortalSettings(env="test", data_dir=tmp_path, rabbitmq_url=vhost_url)
    async with running(service, settings) as client:
        for headers in (
            {},
            {"Authorization": "Bearer forged"},
            {"Authorization": "Basic Zm9vOmJhcg=="},
            doctor_headers(PortalSettings(internal_token_secret="another-secret-" * 3)),
        ):
            refused = await client.get("/v1/anything", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["status"] == 401
        admitted = await client.get("/v1/anything", headers=doctor_headers(settings))
        assert admitted.status_code == 404  # past the door; the route itself does not exist
        assert admitted.headers["content-type"] == "application/problem+json"


async def test_readyz_says_503_while_the_broker_does_not_answer(tmp_path: Path) -> None:
    settings = PortalSettings(env="test", data_dir=tmp_path, rabbitmq_url="amqp://guest:guest@127.0.0.1:1/")
    async with running("orders", settings, ready=False) as client:
        answer = await client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"] == {"database": "ok", "broker": "not connected"}
        assert (await client.get("/livez")).status_code == 200
