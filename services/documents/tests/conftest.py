"""Fixtures for the documents service's tests: the service over real HTTP on its migrated database and a storage
backend (SQLite with the local filesystem, then PostgreSQL with S3 on moto's server: each backend and each database
runs the whole suite once), a fresh broker virtual host, callers with internal tokens, and the orders events that
tell it about cases, applied through its own handlers."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.documents.app import create_app
from services.documents.events import consumers
from services.documents.settings import Settings
from services.documents.storage import Storage, open_storage
from shared.db import create_engine, session_factory
from shared.events.envelope import Envelope
from shared.events.orders import (
    PHOTO_SLOTS,
    SCAN_SLOTS,
    DraftPatient,
    OrderDraftCreated,
    OrderSubmitted,
    PatientSummary,
)
from shared.internal_token import Principal, mint_internal_token
from shared.messaging.outbox import OutboxMessage
from tests.harness.events import apply_through, envelope_of
from tests.harness.fixtures import migrate
from tests.harness.samples import CASE_01_DIR
from tests.harness.servers import serve

SAMPLES = CASE_01_DIR
DIGITAL = [*PHOTO_SLOTS, *SCAN_SLOTS]


def s3_settings(tmp_path: Path, endpoint: str, **overrides: Any) -> Settings:
    """Settings choosing S3 at ``endpoint`` with a bucket of their own (made by ``prepare``)."""
    return Settings(
        env="test",
        data_dir=tmp_path,
        storage_backend="s3",
        s3_endpoint=endpoint,
        s3_bucket=f"test-{uuid.uuid4().hex[:20]}",
        s3_access_key="testing",
        s3_secret_key="testing",  # type: ignore[arg-type]
        **overrides,
    )


@dataclass
class Documents:
    """A running documents service: settings, base URL, its storage, and a session factory on its database."""

    settings: Settings
    base: str
    storage: Storage
    sessions: async_sessionmaker[AsyncSession]
    versions: dict[str, int] = field(default_factory=dict)

    def client(self, principal: Principal) -> httpx.AsyncClient:
        """A client of ``/v1`` acting for ``principal``."""
        token = mint_internal_token(self.settings, principal)
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=f"{self.base}/v1", headers=headers, timeout=60)

    def doctor(self, doctor_id: str) -> httpx.AsyncClient:
        """A client acting for doctor ``doctor_id``."""
        return self.client(Principal(uuid.UUID(doctor_id), "doctor", uuid.UUID(doctor_id)))

    def staff(self) -> httpx.AsyncClient:
        """A client acting for a lab technician."""
        return self.client(Principal(uuid.uuid4(), "staff", None))

    async def apply(self, *envelopes: Envelope) -> list[str]:
        """Apply ``envelopes`` through the service's own consumers, as deliveries would; returns the outcomes."""
        return await apply_through(consumers, self.sessions, *envelopes)

    async def published(self, event_type: str) -> list[dict[str, Any]]:
        """The payloads of the service's events of ``event_type`` in its outbox, oldest first."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.created_at, OutboxMessage.aggregate_version)
            )
            return [json.loads(row.envelope)["payload"] for row in rows.scalars()]

    def next_version(self, subject: str) -> int:
        """The next aggregate version of ``subject`` as the orders service would count it."""
        self.versions[subject] = self.versions.get(subject, 0) + 1
        return self.versions[subject]


@pytest.fixture
async def documents(
    request: pytest.FixtureRequest, tmp_path: Path, vhost_url: str, database_url: str
) -> AsyncIterator[Documents]:
    """The documents service, migrated and ready: on SQLite with local storage, then on PostgreSQL with S3."""
    common: dict[str, Any] = {
        "rabbitmq_url": vhost_url,
        "documents_database_url": database_url,
        "outbox_poll_seconds": 0.1,
        "retry_delays_seconds": [0.2, 0.4],
    }
    if database_url.startswith("sqlite"):
        settings = Settings(env="test", data_dir=tmp_path / "data", **common)
    else:
        settings = s3_settings(tmp_path / "data", request.getfixturevalue("s3_endpoint"), **common)
    await migrate("documents", settings)
    engine = create_engine(settings.database_url_of("documents"))
    try:
        async with serve(create_app(settings)) as base:
            yield Documents(settings, base, open_storage(settings), session_factory(engine))
    finally:
        await engine.dispose()


@dataclass
class Order:
    """An order of a test case."""

    case_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    doctor_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    order_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    order_number: str = field(default_factory=lambda: f"DP-2026-{uuid.uuid4().int % 1_000_000:06d}")
    kind: str = "aligner"


def draft_created(documents: Documents, order: Order) -> Envelope:
    """``order.draft_created`` of ``order`` (opening its case unless it is a modification)."""
    payload = OrderDraftCreated(
        order_id=order.order_id,
        case_id=order.case_id,
        order_number=order.order_number,
        doctor_id=order.doctor_id,
        kind=order.kind,  # type: ignore[arg-type]
        opens_case=order.kind != "modification",
        patient=DraftPatient(first_name="Zoë", last_name="Lefèvre"),
    )
    return envelope_of(payload, source="orders", subject=order.case_id, version=documents.next_version(order.case_id))


def submitted(
    documents: Documents, order: Order, *, required: list[str] | None = None, pvs: bool = False, **extra: Any
) -> Envelope:
    """``order.submitted`` of ``order``: digital records (photos and scans) unless ``required`` or ``pvs``."""
    slots = required if required is not None else ([*PHOTO_SLOTS] if pvs else DIGITAL)
    payload = OrderSubmitted(
        order_id=order.order_id,
        case_id=order.case_id,
        order_number=order.order_number,
        doctor_id=order.doctor_id,
        kind=order.kind,  # type: ignore[arg-type]
        patient=PatientSummary(id=str(uuid.uuid4()), first_name="Zoë", last_name="Lefèvre"),
        arches="both",
        scans="pvs_impressions" if pvs else "digital",
        required_slots=slots,
        submitted_at=datetime.now(UTC).isoformat(),
        **extra,
    )
    return envelope_of(payload, source="orders", subject=order.case_id, version=documents.next_version(order.case_id))


async def opened_case(documents: Documents, order: Order | None = None) -> Order:
    """A case its documents service knows from the draft that opened it."""
    order = order or Order()
    await documents.apply(draft_created(documents, order))
    return order


async def upload(
    client: httpx.AsyncClient, case_id: str, slot: str, body: bytes | Path, filename: str | None = None, **params: str
) -> httpx.Response:
    """POST the file (bytes, or a file read from disk in chunks) as the gateway relays an upload."""
    name = filename or (body.name if isinstance(body, Path) else "file.bin")
    content: Any = body if isinstance(body, bytes) else _chunks(body)
    return await client.post(
        f"/cases/{case_id}/documents",
        params={"slot": slot, "filename": name, **params},
        content=content,
        headers={"Content-Type": "application/octet-stream"},
    )


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            yield chunk
