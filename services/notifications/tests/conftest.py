"""Fixtures for the notifications service's tests: the service over real HTTP on its migrated database (SQLite, then
PostgreSQL) and a fresh broker virtual host, with a clock the test moves; callers with internal tokens; the events
the cases service and the gateway send, applied through the service's own handlers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.app import create_app
from services.notifications.events import Notifier
from services.notifications.models import EmailDelivery, Notification
from services.notifications.settings import Settings
from shared.db import create_engine, session_factory, utcnow
from shared.events.doctors import DoctorRegistered, DoctorUpdated
from shared.events.envelope import Envelope
from shared.internal_token import Principal, mint_internal_token
from tests.harness.events import apply_through, envelope_of
from tests.harness.fixtures import migrate
from tests.harness.servers import serve


class Clock:
    """The service's clock in a test: the real time moved by :attr:`offset`, or the instant :meth:`set` fixed."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed if self.fixed is not None else utcnow() + self.offset

    def set(self, instant: datetime) -> None:
        """Stop the clock at ``instant``."""
        self.fixed = instant


def notifications_settings(tmp_path: Path, rabbitmq_url: str, database_url: str, **overrides: Any) -> Settings:
    """Notifications settings for a test: its own data directory, broker and database, a quick relay and sender,
    short e-mail retry delays; the digest job left to the tests that call it."""
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "rabbitmq_url": rabbitmq_url,
        "notifications_database_url": database_url,
        "outbox_poll_seconds": 0.1,
        "retry_delays_seconds": [0.2, 0.4],
        "email_poll_seconds": 0.1,
        "email_retry_initial_seconds": 0.2,
        "email_retry_max_seconds": 0.5,
        "digest_check_seconds": 3600,
        **overrides,
    }
    return Settings(**values)


@dataclass
class Notifications:
    """A running notifications service: settings, base URL, broker virtual host, its clock, and a session factory
    on its database."""

    settings: Settings
    base: str
    vhost_url: str
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]

    def client(self, principal: Principal) -> httpx.AsyncClient:
        """A client of ``/v1`` acting for ``principal``."""
        token = mint_internal_token(self.settings, principal)
        return httpx.AsyncClient(base_url=f"{self.base}/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def doctor(self, doctor_id: str) -> httpx.AsyncClient:
        """A client acting for doctor ``doctor_id``."""
        return self.client(Principal(uuid.UUID(doctor_id), "doctor", uuid.UUID(doctor_id)))

    def staff(self) -> httpx.AsyncClient:
        """A client acting for a lab member."""
        return self.client(Principal(uuid.uuid4(), "staff", None))

    async def apply(self, *envelopes: Envelope) -> list[str]:
        """Apply ``envelopes`` in order through the service's own consumers, as deliveries would; returns each
        outcome (``applied``, ``duplicate``, ``stale``)."""
        return await apply_through(Notifier(self.settings).consumers, self.sessions, *envelopes)

    async def rows(self, model: type[Any], *where: Any) -> list[Any]:
        """The rows of ``model`` (a table of the service) that match ``where``."""
        async with self.sessions() as session:
            return list((await session.execute(select(model).where(*where))).scalars())

    async def notifications_of(self, doctor_id: str) -> list[Notification]:
        """Every notification row of the doctor, oldest first."""
        rows = await self.rows(Notification, Notification.doctor_id == doctor_id)
        return sorted(rows, key=lambda row: row.created_at)

    async def deliveries_of(self, doctor_id: str) -> list[EmailDelivery]:
        """Every e-mail delivery row of the doctor."""
        return await self.rows(EmailDelivery, EmailDelivery.doctor_id == doctor_id)


@asynccontextmanager
async def running_notifications(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Notifications]:
    """The notifications service of ``settings``, migrated and served for the block."""
    await migrate("notifications", settings)
    engine = create_engine(settings.database_url_of("notifications"))
    clock = clock or Clock()
    try:
        async with serve(create_app(settings, clock=clock)) as base:
            yield Notifications(settings, base, settings.rabbitmq_url, clock, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
async def notifications(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Notifications]:
    """The notifications service, migrated and ready, on each kind of database in turn; e-mails as ``.eml`` files."""
    async with running_notifications(notifications_settings(tmp_path, vhost_url, database_url)) as running:
        yield running


@dataclass
class CaseOf:
    """A case of a doctor as the cases service describes it in its events, counting its aggregate versions."""

    doctor_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    case_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    order_number: str = field(default_factory=lambda: f"DP-2026-{uuid.uuid4().int % 1_000_000:06d}")
    patient_name: str = "Zoë Lefèvre"
    version: int = 0

    def event(self, model: type[BaseModel], occurred_at: datetime | None = None, **fields: Any) -> Envelope:
        """The cases service's event ``model`` about this case, at its next aggregate version."""
        self.version += 1
        payload = model(
            case_id=self.case_id,
            doctor_id=self.doctor_id,
            order_number=self.order_number,
            patient_name=self.patient_name,
            **fields,
        )
        return envelope_of(payload, source="cases", subject=self.case_id, version=self.version, occurred_at=occurred_at)


def doctor_profile(doctor_id: str, version: int = 1, *, updated: bool = False, **overrides: Any) -> Envelope:
    """The gateway's ``doctor.registered`` (or ``doctor.updated``) of ``doctor_id``: Dr Ada Martin, English, every
    e-mail switch on, no digest, unless ``overrides`` say otherwise."""
    profile: dict[str, Any] = {
        "doctor_id": doctor_id,
        "email": f"dr-{doctor_id[:8]}@example.com",
        "first_name": "Ada",
        "last_name": "Martin",
        "language": "en",
        "email_notifications": {},
        "daily_digest": False,
        "time_zone": "UTC",
        **overrides,
    }
    payload = DoctorUpdated(**profile) if updated else DoctorRegistered(**profile, practice_name="Cabinet Martin")
    return envelope_of(payload, source="gateway", subject=doctor_id, version=version)
