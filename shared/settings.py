"""Process settings read from the environment with pydantic-settings and validated at start.

Every variable is ``PORTAL_<FIELD>`` except ``RABBITMQ_URL`` (also accepted as ``PORTAL_RABBITMQ_URL``).
Per service: ``PORTAL_<SERVICE>_PORT``, ``PORTAL_<SERVICE>_URL`` (how the gateway reaches it) and
``PORTAL_<SERVICE>_DATABASE_URL`` (SQLAlchemy async URL; SQLite under the data directory when unset).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES: tuple[str, ...] = ("gateway", "orders", "cases", "documents", "notifications")
"""Every service of the system, gateway first (the order processes are started and listed in)."""

DEVELOPMENT_TOKEN_SECRET = "development-only-internal-token-secret-change-me"
"""The internal-token signing secret used when none is configured; refused when ``PORTAL_ENV=production``."""


class PortalSettings(BaseSettings):
    """Settings shared by every process of the system.

    Raises ``pydantic.ValidationError`` on a malformed value, and when ``env`` is ``production`` while a secret
    still has its development default.
    """

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    rabbitmq_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        validation_alias=AliasChoices("RABBITMQ_URL", "PORTAL_RABBITMQ_URL"),
    )
    log_level: str = "INFO"

    internal_token_secret: SecretStr = SecretStr(DEVELOPMENT_TOKEN_SECRET)
    internal_token_ttl_seconds: int = Field(60, ge=5, le=3600)

    gateway_port: int = 8000
    orders_port: int = 8001
    cases_port: int = 8002
    documents_port: int = 8003
    notifications_port: int = 8004

    public_url: str | None = None
    """The gateway's address as people reach it (links in answers and e-mails, e.g. a patient link)."""
    gateway_url: str | None = None
    orders_url: str | None = None
    cases_url: str | None = None
    documents_url: str | None = None
    notifications_url: str | None = None

    gateway_database_url: str | None = None
    orders_database_url: str | None = None
    cases_database_url: str | None = None
    documents_database_url: str | None = None
    notifications_database_url: str | None = None

    upload_max_bytes: int = Field(300_000_000, ge=1)
    """Largest file an upload may carry, in bytes (300 MB): the gateway and the documents service answer 413 past it."""

    outbox_poll_seconds: float = Field(0.5, gt=0)
    outbox_batch_size: int = Field(100, ge=1, le=1000)
    outbox_max_attempts: int = Field(10, ge=1)
    publish_timeout_seconds: float = Field(5.0, gt=0)
    consumer_prefetch: int = Field(50, ge=1)
    retry_delays_seconds: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0])
    broker_reconnect_max_seconds: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> PortalSettings:
        if self.env == "production" and self.internal_token_secret.get_secret_value() == DEVELOPMENT_TOKEN_SECRET:
            raise ValueError(
                "PORTAL_INTERNAL_TOKEN_SECRET must be set to a secret of your own when PORTAL_ENV=production"
            )
        if self.env == "production" and len(self.internal_token_secret.get_secret_value()) < 32:
            raise ValueError("PORTAL_INTERNAL_TOKEN_SECRET must be at least 32 characters when PORTAL_ENV=production")
        return self

    @model_validator(mode="after")
    def _service_urls_are_urls(self) -> PortalSettings:
        for service in SERVICES:
            self.urls_of(service)
        return self

    def port_of(self, service: str) -> int:
        """The TCP port ``service`` listens on."""
        return getattr(self, f"{_known(service)}_port")

    def urls_of(self, service: str) -> list[str]:
        """The base URLs other processes use to reach ``service`` (no trailing slash): one per replica, from
        ``PORTAL_<SERVICE>_URL`` as a comma-separated list (``http://cases-1:8000,http://cases-2:8000``; one URL
        behind a load balancer is as good), by default the one address on this machine. Raises ``ValueError`` when
        the variable is set but names no URL (``","``) or an item that is not one ``http(s)://host[:port]`` URL
        (URLs separated by blanks instead of commas, a missing scheme, a port that is not a number)."""
        configured = getattr(self, f"{_known(service)}_url")
        if configured is None or not configured.strip():
            return [f"http://{self.host}:{self.port_of(service)}"]
        urls = [url.strip().rstrip("/") for url in configured.split(",") if url.strip()]
        if not urls or not all(_is_http_url(url) for url in urls):
            variable = f"PORTAL_{service.upper()}_URL"
            raise ValueError(f"{variable} must list http(s):// URLs separated by commas, not {configured!r}")
        return urls

    @property
    def public_base(self) -> str:
        """:attr:`public_url` without a trailing slash; by default the gateway's own address on this machine."""
        return (self.public_url or f"http://{self.host}:{self.gateway_port}").rstrip("/")

    def database_url_of(self, service: str) -> str:
        """The SQLAlchemy async database URL of ``service``; a SQLite file under ``data_dir`` by default."""
        configured = getattr(self, f"{_known(service)}_database_url")
        if configured:
            return configured
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.sqlite3').resolve()}"


def _is_http_url(url: str) -> bool:
    """Whether ``url`` is one ``http(s)://host[:port]`` base URL (no blanks inside, a valid port if any)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in url)


def _known(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return service


@lru_cache
def get_settings() -> PortalSettings:
    """The process's settings, read once from the environment."""
    return PortalSettings()
