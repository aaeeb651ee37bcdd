"""A probe service for the messaging tests, built on the real shared machinery under the ``orders`` service name.

``POST /v1/probe`` writes a ``probe_events`` row's worth of events to the outbox in one transaction (or rolls back).
Its consumer ``orders.probe`` applies ``probe.recorded`` events: it appends to ``probe_applied`` (one row per
application, so double applications show) and sets ``probe_subjects`` to the event's version. A payload can ask the
handler to fail (until the file named by ``PROBE_FIXED_FILE`` exists) or to call a URL (to follow the trace);
``PROBE_SLEEP`` holds every handler that many seconds (so a test can kill it mid-handler) and ``PROBE_MARKER_DIR``
gets a file per handler started. Run in a child process with ``uvicorn tests.probe:create_app --factory``; the
environment gives the settings.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.catalogue import event
from shared.events.envelope import Envelope
from shared.messaging.consumer import Consumer
from shared.messaging.outbox import add_event
from shared.service import create_service_app
from shared.settings import PortalSettings

SERVICE = "orders"
metadata = sa.MetaData()
probe_applied = sa.Table(
    "probe_applied",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("subject", sa.String(100), nullable=False),
    sa.Column("aggregate_version", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(50), nullable=False),
)
probe_subjects = sa.Table(
    "probe_subjects",
    metadata,
    sa.Column("subject", sa.String(100), primary_key=True),
    sa.Column("aggregate_version", sa.Integer, nullable=False),
)


@event("probe.recorded", 1)
class ProbeRecorded(BaseModel):
    """A test event: ``n`` a sequence number; ``fail`` to raise; ``callback_url`` to call from the handler."""

    n: int
    fail: bool = False
    callback_url: str | None = None


class ProbeRequest(BaseModel):
    """Events to write: one per version in ``versions`` for ``subject``."""

    subject: str
    versions: list[int]
    fail: bool = False
    callback_url: str | None = None
    rollback: bool = False


consumer = Consumer(SERVICE, "probe")


@consumer.on(ProbeRecorded)
async def apply_probe(session: AsyncSession, envelope: Envelope, payload: ProbeRecorded) -> None:
    """Record one application of a probe event (see the module documentation)."""
    marker_dir = os.environ.get("PROBE_MARKER_DIR")
    if marker_dir:
        Path(marker_dir, f"started-{envelope.id}").touch()
    if os.environ.get("PROBE_SLEEP"):
        await asyncio.sleep(float(os.environ["PROBE_SLEEP"]))
    fixed = os.environ.get("PROBE_FIXED_FILE")
    if payload.fail and not (fixed and Path(fixed).exists()):
        raise RuntimeError(f"probe event {payload.n} asked to fail")
    if payload.callback_url:
        async with httpx.AsyncClient() as client:
            await client.get(payload.callback_url)
    await session.execute(
        probe_applied.insert().values(
            message_id=str(envelope.id),
            subject=envelope.subject,
            aggregate_version=envelope.aggregate_version,
            worker=os.environ.get("PROBE_WORKER", "main"),
        )
    )
    updated = await session.execute(
        probe_subjects.update()
        .where(probe_subjects.c.subject == envelope.subject)
        .values(aggregate_version=envelope.aggregate_version)
    )
    if not updated.rowcount:
        await session.execute(
            probe_subjects.insert().values(subject=envelope.subject, aggregate_version=envelope.aggregate_version)
        )


class ProbeRolledBack(Exception):
    """Raised inside the transaction to undo it."""


router = APIRouter(prefix="/v1")


@router.post("/probe", status_code=201)
async def write_probe_events(body: ProbeRequest, request: Request) -> dict[str, list[str]]:
    """Write the requested events to the outbox in one transaction (undone when ``rollback``)."""
    sessions = request.app.state.runtime.sessions
    ids: list[str] = []
    try:
        async with sessions() as session, session.begin():
            for version in body.versions:
                envelope = add_event(
                    session,
                    ProbeRecorded(n=version, fail=body.fail, callback_url=body.callback_url),
                    source=SERVICE,
                    subject=body.subject,
                    aggregate_version=version,
                )
                ids.append(str(envelope.id))
            if body.rollback:
                raise ProbeRolledBack
    except ProbeRolledBack:
        return {"ids": []}
    return {"ids": ids}


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    """The probe service (settings from the environment unless given)."""
    return create_service_app(SERVICE, routers=[router], consumers=[consumer], settings=settings or PortalSettings())


async def create_probe_tables(url: str) -> None:
    """Create the probe's own tables (the messaging tables come from the orders migrations)."""
    from shared.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
