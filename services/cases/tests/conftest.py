"""Fixtures for the cases service's tests: the service over real HTTP on its migrated database (SQLite, then
PostgreSQL) and a fresh broker virtual host; callers with internal tokens; the events other services send, applied
through the service's own handlers; cases driven to any status through the service's routes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.cases.app import create_app
from services.cases.events import consumers
from services.cases.settings import Settings
from shared.db import create_engine, session_factory
from shared.events.documents import DocumentUploaded, RecordsChecked, RecordsCompleted
from shared.events.envelope import Envelope
from shared.events.orders import (
    PHOTO_SLOTS,
    DraftPatient,
    OrderDeleted,
    OrderDraftCreated,
    OrderSubmitted,
    PatientSummary,
)
from shared.internal_token import Collaboration, Principal, mint_internal_token
from tests.harness.events import apply_through, envelope_of
from tests.harness.fixtures import migrate
from tests.harness.servers import serve


def cases_settings(tmp_path: Path, rabbitmq_url: str, database_url: str, **overrides: Any) -> Settings:
    """Cases settings for a test (test environment, its own data directory, broker and database, a quick relay)."""
    return Settings(
        env="test",
        data_dir=tmp_path / "data",
        rabbitmq_url=rabbitmq_url,
        cases_database_url=database_url,
        outbox_poll_seconds=0.1,
        retry_delays_seconds=[0.2, 0.4],
        **overrides,
    )


@dataclass
class Cases:
    """A running cases service: settings, base URL, broker virtual host, and a session factory on its database."""

    settings: Settings
    base: str
    vhost_url: str
    sessions: async_sessionmaker[AsyncSession]
    versions: dict[str, int] = field(default_factory=dict)

    def client(self, principal: Principal) -> httpx.AsyncClient:
        """A client of ``/v1`` acting for ``principal``."""
        token = mint_internal_token(self.settings, principal)
        return httpx.AsyncClient(base_url=f"{self.base}/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def doctor(self, doctor_id: str | None = None, *collaborations: Collaboration) -> httpx.AsyncClient:
        """A client acting for doctor ``doctor_id`` (a new one by default), collaborator where given."""
        doctor = uuid.UUID(doctor_id) if doctor_id else uuid.uuid4()
        return self.client(Principal(doctor, "doctor", doctor, collaborations))

    def staff(self) -> httpx.AsyncClient:
        """A client acting for a lab technician."""
        return self.client(Principal(uuid.uuid4(), "staff", None))

    async def apply(self, *envelopes: Envelope) -> list[str]:
        """Apply ``envelopes`` in order through the service's own consumers (inbox, handler and outbox in one
        transaction each, as a delivery would); returns each outcome (``applied``, ``duplicate``, ``stale``)."""
        return await apply_through(consumers, self.sessions, *envelopes)

    def next_version(self, subject: str) -> int:
        """The next aggregate version of ``subject`` as its publisher would count it."""
        self.versions[subject] = self.versions.get(subject, 0) + 1
        return self.versions[subject]


@pytest.fixture
async def cases(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Cases]:
    """The cases service, migrated and ready, on each kind of database in turn."""
    async with running_cases(cases_settings(tmp_path, vhost_url, database_url)) as running:
        yield running


@asynccontextmanager
async def running_cases(settings: Settings) -> AsyncIterator[Cases]:
    """The cases service of ``settings``, migrated and served for the block."""
    await migrate("cases", settings)
    engine = create_engine(settings.database_url_of("cases"))
    try:
        async with serve(create_app(settings)) as base:
            yield Cases(settings, base, settings.rabbitmq_url, session_factory(engine))
    finally:
        await engine.dispose()


@dataclass
class Order:
    """An order of a test case: its ids and what the orders service would say of it."""

    case_id: str
    doctor_id: str
    order_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    order_number: str = field(default_factory=lambda: f"DP-2026-{uuid.uuid4().int % 1_000_000:06d}")
    kind: str = "aligner"
    patient_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    first_name: str = "Zoë"
    last_name: str = "Lefèvre"
    collaborator_ids: list[str] = field(default_factory=list)


def new_order(doctor_id: str | None = None, **overrides: Any) -> Order:
    """An order of a new case of ``doctor_id`` (a new doctor by default)."""
    return Order(case_id=str(uuid.uuid4()), doctor_id=doctor_id or str(uuid.uuid4()), **overrides)


def draft_created(cases: Cases, order: Order, **at: datetime) -> Envelope:
    """``order.draft_created`` of ``order`` (opening its case unless it is a modification)."""
    payload = OrderDraftCreated(
        order_id=order.order_id,
        case_id=order.case_id,
        order_number=order.order_number,
        doctor_id=order.doctor_id,
        kind=order.kind,  # type: ignore[arg-type]
        opens_case=order.kind != "modification",
        patient=DraftPatient(id=order.patient_id, first_name=order.first_name, last_name=order.last_name),
    )
    return envelope_of(payload, source="orders", subject=order.case_id, version=cases.next_version(order.case_id), **at)


def submitted(
    cases: Cases,
    order: Order,
    *,
    scans: str | None = "digital",
    source: str | None = None,
    required: list[str] | None = None,
    submitted_at: datetime | None = None,
) -> Envelope:
    """``order.submitted`` of ``order``: digital scans needing the photos and scans by default; ``scans=
    "pvs_impressions"`` for PVS impressions, ``source`` for a retainer or modification."""
    slots = required if required is not None else [*PHOTO_SLOTS, "scan.upper", "scan.lower"]
    when = submitted_at or datetime.now(UTC)
    payload = OrderSubmitted(
        order_id=order.order_id,
        case_id=order.case_id,
        order_number=order.order_number,
        doctor_id=order.doctor_id,
        kind=order.kind,  # type: ignore[arg-type]
        patient=PatientSummary(id=order.patient_id, first_name=order.first_name, last_name=order.last_name),
        arches="both",
        scans=scans if order.kind == "aligner" else None,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        required_slots=slots,
        submitted_at=when.isoformat(),
        collaborator_ids=order.collaborator_ids,
    )
    return envelope_of(
        payload, source="orders", subject=order.case_id, version=cases.next_version(order.case_id), occurred_at=when
    )


def deleted(cases: Cases, order: Order) -> Envelope:
    """``order.deleted`` of ``order``'s draft."""
    payload = OrderDeleted(
        order_id=order.order_id,
        case_id=order.case_id,
        order_number=order.order_number,
        doctor_id=order.doctor_id,
        kind=order.kind,  # type: ignore[arg-type]
        cancels_case=order.kind != "modification",
    )
    return envelope_of(payload, source="orders", subject=order.case_id, version=cases.next_version(order.case_id))


def records_checked(cases: Cases, order: Order, missing: list[str], required: list[str] | None = None) -> Envelope:
    """The documents service's ``records.checked`` for ``order``: complete unless ``missing``."""
    slots = required if required is not None else [*PHOTO_SLOTS, "scan.upper", "scan.lower"]
    payload = RecordsChecked(
        case_id=order.case_id,
        order_id=order.order_id,
        doctor_id=order.doctor_id,
        required=slots,
        missing=missing,
        complete=not missing,
    )
    return envelope_of(
        payload, source="documents", subject=order.case_id, version=cases.next_version(f"records:{order.case_id}")
    )


def records_completed(cases: Cases, order: Order) -> Envelope:
    """The documents service's ``records.completed`` for ``order``."""
    payload = RecordsCompleted(
        case_id=order.case_id, order_id=order.order_id, doctor_id=order.doctor_id, required=[*PHOTO_SLOTS]
    )
    return envelope_of(
        payload, source="documents", subject=order.case_id, version=cases.next_version(f"records:{order.case_id}")
    )


def uploaded(
    order: Order, slot: str, *, uploaded_at: datetime | None = None, document_id: str | None = None
) -> Envelope:
    """``document.uploaded`` of a file in ``slot`` of ``order``'s case."""
    payload = DocumentUploaded(
        document_id=document_id or str(uuid.uuid4()),
        case_id=order.case_id,
        doctor_id=order.doctor_id,
        order_id=order.order_id,
        slot=slot,
        filename=f"{slot}.jpg",
        content_type="image/jpeg",
        size_bytes=2_000_000,
        sha256="0" * 64,
        uploaded_at=uploaded_at or datetime.now(UTC),
    )
    return envelope_of(payload, source="documents", subject=payload.document_id, version=1)


async def submitted_case(cases: Cases, order: Order) -> None:
    """``order``'s case opened and submitted with complete digital records: ``setup_in_progress``."""
    await cases.apply(draft_created(cases, order), submitted(cases, order), records_checked(cases, order, []))


async def ok(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON of ``answer``, which must have ``status``."""
    assert answer.status_code == status, answer.text
    return answer.json()


async def ship_phase_one(cases: Cases, order: Order, package: str, steps: int = 10) -> dict[str, Any]:
    """Take ``order``'s case, whose setup is in progress, through a setup of ``steps`` upper steps approved with
    ``package`` to phase 1 (all the steps) shipped; returns the case as the last answer shows it."""
    case = order.case_id
    async with cases.doctor(order.doctor_id) as doctor, cases.staff() as lab:
        setup = {"technician_comment": "as planned", "steps_upper": steps, "steps_lower": 0}
        await ok(await lab.post(f"/staff/cases/{case}/setups", json=setup), 201)
        await ok(await doctor.post(f"/cases/{case}/setups/1/approve", json={"package": package}))
        phase = {"number": 1, "steps_from": 1, "steps_to": steps}
        await ok(await lab.post(f"/staff/cases/{case}/phases", json=phase), 201)
        return await ok(
            await lab.post(f"/staff/cases/{case}/phases/1/ship", json={"carrier": "DHL", "tracking_number": "JD01"})
        )
