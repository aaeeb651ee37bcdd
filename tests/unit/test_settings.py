"""Settings: defaults, overrides from the environment, and refusals in production (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import DEVELOPMENT_TOKEN_SECRET, SERVICES, PortalSettings


def test_defaults_put_every_database_under_the_data_directory(tmp_path: Path) -> None:
    settings = PortalSettings(data_dir=tmp_path)
    for service in SERVICES:
        assert settings.database_url_of(service) == f"sqlite+aiosqlite:///{tmp_path.resolve()}/{service}.sqlite3"
    assert [settings.port_of(s) for s in SERVICES] == [8000, 8001, 8002, 8003, 8004]
    assert settings.urls_of("cases") == ["http://127.0.0.1:8002"]
    assert settings.rabbitmq_url == "amqp://guest:guest@127.0.0.1:5672/"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@broker:5672/portal")
    monkeypatch.setenv("PORTAL_GATEWAY_PORT", "9000")
    monkeypatch.setenv("PORTAL_CASES_URL", "http://cases:8000/")
    monkeypatch.setenv("PORTAL_ORDERS_DATABASE_URL", "postgresql+asyncpg://orders@db/orders")
    monkeypatch.setenv("PORTAL_RETRY_DELAYS_SECONDS", "[2, 10]")
    settings = PortalSettings()
    assert settings.rabbitmq_url == "amqp://u:p@broker:5672/portal"
    assert settings.port_of("gateway") == 9000
    assert settings.urls_of("cases") == ["http://cases:8000"]
    assert settings.database_url_of("orders") == "postgresql+asyncpg://orders@db/orders"
    assert settings.retry_delays_seconds == [2.0, 10.0]
    monkeypatch.setenv("PORTAL_DOCUMENTS_URL", "http://documents-1:8000/, http://documents-2:8000")
    assert PortalSettings().urls_of("documents") == ["http://documents-1:8000", "http://documents-2:8000"]
    wrong_lists = (", ,", "documents:8000", "http://documents-1:8000,,ftp://documents-2")
    for wrong in (*wrong_lists, "http://documents-1:8000 http://documents-2:8000", "http://documents:80x"):
        monkeypatch.setenv("PORTAL_DOCUMENTS_URL", wrong)
        with pytest.raises(ValueError, match="PORTAL_DOCUMENTS_URL must list http"):
            PortalSettings()


def test_production_refuses_the_default_or_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="PORTAL_INTERNAL_TOKEN_SECRET"):
        PortalSettings(env="production", internal_token_secret=DEVELOPMENT_TOKEN_SECRET)
    with pytest.raises(ValidationError, match="at least 32"):
        PortalSettings(env="production", internal_token_secret="short")
    assert PortalSettings(env="production", internal_token_secret="x" * 40).env == "production"


def test_malformed_values_and_unknown_services_are_refused() -> None:
    with pytest.raises(ValidationError):
        PortalSettings(env="staging")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PortalSettings(outbox_batch_size=0)
    with pytest.raises(ValueError, match="unknown service"):
        PortalSettings().database_url_of("billing")
