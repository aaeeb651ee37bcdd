"""The transactional outbox (ARCHITECTURE.md rule 2): events written with the state change, published later.

:func:`add_event` is called inside the caller's transaction; nothing reaches the broker unless that transaction
commits. :class:`OutboxRelay` publishes committed rows in batches with publisher confirms and ``mandatory``
routing, marks a row sent only after the broker's ack, backs off per row, and parks a row after
``PORTAL_OUTBOX_MAX_ATTEMPTS`` failures. On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several
relays of one service never publish a row another holds; on SQLite one relay runs per service (one process per
database file), and a re-published row is absorbed by the consumers' inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import structlog
from pydantic import BaseModel
from sqlalchemy import Index, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, utcnow
from shared.events.catalogue import payload_model
from shared.events.envelope import Envelope
from shared.failpoints import failpoint
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PARKED, PUBLISH_FAILURES
from shared.settings import PortalSettings
from shared.telemetry import correlation_id, current_trace_context

log = structlog.get_logger(__name__)

_wakeups: set[asyncio.Event] = set()
"""One per running relay of this process, each set after a transaction that wrote outbox rows commits, so the relays
publish without waiting for their poll."""


def _wake_relays() -> None:
    for wakeup in _wakeups:
        wakeup.set()


class OutboxMessage(SQLModel, table=True):
    """One event waiting to be published, or already published (``sent_at``) or parked (``parked_at``)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_pending", "sent_at", "parked_at", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=36)
    event_type: str = Field(max_length=100)
    event_version: int
    routing_key: str = Field(max_length=120)
    subject: str = Field(max_length=100)
    aggregate_version: int
    envelope: str
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    parked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_error: str | None = None


def add_event(
    session: AsyncSession,
    payload: BaseModel,
    *,
    source: str,
    subject: str | uuid.UUID,
    aggregate_version: int,
    causation_id: str | uuid.UUID | None = None,
) -> Envelope:
    """Write an event to the outbox inside ``session``'s open transaction and return its envelope.

    ``payload`` must be an instance of a model registered in the catalogue (its type and version come from there).
    The current trace context and correlation id are captured with the row. Raises ``ValueError`` when the
    payload's model is not the catalogue's model for its type.
    """
    event_type = getattr(type(payload), "event_type", None)
    version = getattr(type(payload), "event_version", None)
    if event_type is None or version is None or payload_model(event_type, version) is not type(payload):
        raise ValueError(f"{type(payload).__qualname__} is not a registered event payload")
    traceparent, tracestate = current_trace_context()
    now = utcnow()
    envelope = Envelope(
        type=event_type,
        version=version,
        source=source,
        occurred_at=now,
        subject=str(subject),
        aggregate_version=aggregate_version,
        correlation_id=correlation_id.get(),
        causation_id=str(causation_id) if causation_id else None,
        traceparent=traceparent,
        tracestate=tracestate,
        payload=payload.model_dump(mode="json"),
    )
    session.add(
        OutboxMessage(
            id=str(envelope.id),
            event_type=event_type,
            event_version=version,
            routing_key=envelope.routing_key,
            subject=envelope.subject,
            aggregate_version=aggregate_version,
            envelope=envelope.model_dump_json(),
            created_at=now,
            next_attempt_at=now,
        )
    )
    if not session.info.get("outbox_wakeup"):
        session.info["outbox_wakeup"] = True
        event.listen(session.sync_session, "after_commit", _after_commit, once=True)
    return envelope


def _after_commit(session: Any) -> None:
    session.info.pop("outbox_wakeup", None)
    _wake_relays()


def backoff_seconds(attempts: int) -> float:
    """Delay before the next publish attempt of a row that failed ``attempts`` times: 0.5 s doubling, 60 s at most."""
    return min(0.5 * 2 ** max(attempts - 1, 0), 60.0)


def amqp_message(row: OutboxMessage) -> aio_pika.Message:
    """The persistent AMQP message for an outbox row (``message_id`` is the event id)."""
    envelope = json.loads(row.envelope)
    headers = {key: envelope[key] for key in ("traceparent", "tracestate") if envelope.get(key)}
    return aio_pika.Message(
        body=row.envelope.encode(),
        message_id=row.id,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        type=row.event_type,
        correlation_id=envelope.get("correlation_id"),
        headers=headers,
    )


@dataclass(frozen=True)
class OutboxStatus:
    """Counts of an outbox: rows pending, parked and sent, and the age in seconds of the oldest pending one."""

    pending: int
    parked: int
    sent: int
    oldest_pending_age_seconds: float | None


async def outbox_status(session: AsyncSession) -> OutboxStatus:
    """Read the outbox counts in one query."""
    pending = (OutboxMessage.sent_at.is_(None)) & (OutboxMessage.parked_at.is_(None))  # type: ignore[union-attr]
    row = (
        await session.execute(
            select(
                func.count().filter(pending),
                func.count().filter(OutboxMessage.parked_at.is_not(None)),  # type: ignore[union-attr]
                func.count().filter(OutboxMessage.sent_at.is_not(None)),  # type: ignore[union-attr]
                func.min(OutboxMessage.created_at).filter(pending),
            )
        )
    ).one()
    oldest: datetime | None = row[3]
    age = (utcnow() - oldest).total_seconds() if oldest is not None else None
    return OutboxStatus(pending=row[0], parked=row[1], sent=row[2], oldest_pending_age_seconds=age)


async def redrive_parked(session: AsyncSession, ids: list[str] | None = None) -> int:
    """Give parked rows (all, or those in ``ids``) a fresh set of attempts; returns how many were re-driven."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.parked_at.is_not(None))  # type: ignore[union-attr]
        .values(parked_at=None, attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    if ids:
        statement = statement.where(OutboxMessage.id.in_(ids))  # type: ignore[attr-defined]
    result = await session.execute(statement)
    _wake_relays()
    return result.rowcount or 0


class OutboxRelay:
    """Publishes a service's committed outbox rows to ``portal.events`` (see the module documentation).

    ``exchange`` is a callable returning the events exchange on a confirm-mode channel, or None while the broker is
    unreachable (the relay then waits). Run :meth:`run` as a background task; cancel it to stop.
    """

    def __init__(
        self,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        settings: PortalSettings,
        exchange: Any,
        *,
        lock_rows: bool,
    ) -> None:
        self.service = service
        self.sessions = sessions
        self.settings = settings
        self.exchange = exchange
        self.lock_rows = lock_rows
        self._last_gauges = 0.0

    async def run(self) -> None:
        """Publish forever: a batch whenever rows are due, else wait for a commit or the poll interval. The wake-up
        is cleared before each pass, not after it: a commit during the pass then starts the next one at once instead
        of waiting for the poll."""
        wakeup = asyncio.Event()
        _wakeups.add(wakeup)
        try:
            while True:
                wakeup.clear()
                if await self._pass() < self.settings.outbox_batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), timeout=self.settings.outbox_poll_seconds)
        finally:
            _wakeups.discard(wakeup)

    async def _pass(self) -> int:
        """One batch and, at most once a second, the gauges; returns the rows attempted. A database or broker fault
        is logged and left to the next pass."""
        loop = asyncio.get_running_loop()
        published = 0
        try:
            if self.exchange() is not None:
                published = await self.relay_once()
            if loop.time() - self._last_gauges > 1.0:
                await self.update_gauges()
                self._last_gauges = loop.time()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("outbox relay pass failed", error=repr(exc))
        return published

    async def relay_once(self) -> int:
        """Publish one batch of due rows and record each outcome; returns the number of rows attempted."""
        exchange = self.exchange()
        if exchange is None:
            return 0
        async with self.sessions() as session, session.begin():
            now = utcnow()
            query = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),  # type: ignore[union-attr]
                    OutboxMessage.parked_at.is_(None),  # type: ignore[union-attr]
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
                .limit(self.settings.outbox_batch_size)
            )
            if self.lock_rows:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars())
            if not rows:
                return 0
            outcomes = await asyncio.gather(
                *(
                    exchange.publish(
                        amqp_message(row),
                        routing_key=row.routing_key,
                        mandatory=True,
                        timeout=self.settings.publish_timeout_seconds,
                    )
                    for row in rows
                ),
                return_exceptions=True,
            )
            failpoint("relay.after_confirm")
            now = utcnow()
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    self._record_failure(row, outcome, now)
                else:
                    row.sent_at = now
                    EVENTS_PUBLISHED.labels(self.service, row.event_type).inc()
        return len(rows)

    def _record_failure(self, row: OutboxMessage, error: BaseException, now: datetime) -> None:
        PUBLISH_FAILURES.labels(self.service).inc()
        row.attempts += 1
        row.last_error = f"{type(error).__name__}: {error}"[:500]
        if row.attempts >= self.settings.outbox_max_attempts:
            row.parked_at = now
            log.error("outbox row parked", id=row.id, type=row.event_type, attempts=row.attempts, error=row.last_error)
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))
            log.warning("publish failed", id=row.id, type=row.event_type, attempts=row.attempts, error=row.last_error)

    async def update_gauges(self) -> None:
        """Refresh the backlog, oldest-age and parked gauges from the table."""
        async with self.sessions() as session:
            status = await outbox_status(session)
        OUTBOX_BACKLOG.labels(self.service).set(status.pending)
        OUTBOX_PARKED.labels(self.service).set(status.parked)
        OUTBOX_OLDEST_AGE.labels(self.service).set(status.oldest_pending_age_seconds or 0.0)
