"""The idempotent inbox (ARCHITECTURE.md rules 3 and 4): each event applied once, stale events ignored.

``inbox_messages`` holds ``(consumer, message_id)`` for every event a consumer applied, written in the same
transaction as the handler's effects. ``inbox_subject_versions`` holds, per consumer, the highest
``aggregate_version`` applied for each ``(source, subject)``; an event at or below it is stale. Both checks are
single conditional writes, so competing consumers (several replicas) serialise on the row and cannot move a subject
backwards on PostgreSQL or SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, upsert, utcnow
from shared.events.envelope import Envelope


class InboxMessage(SQLModel, table=True):
    """An event a consumer has applied."""

    __tablename__ = "inbox_messages"

    consumer: str = Field(primary_key=True, max_length=100)
    message_id: str = Field(primary_key=True, max_length=36)
    event_type: str = Field(max_length=100)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class InboxSubjectVersion(SQLModel, table=True):
    """The highest ``aggregate_version`` a consumer applied for one aggregate of one source."""

    __tablename__ = "inbox_subject_versions"

    consumer: str = Field(primary_key=True, max_length=100)
    source: str = Field(primary_key=True, max_length=50)
    subject: str = Field(primary_key=True, max_length=100)
    aggregate_version: int


async def record_message(session: AsyncSession, consumer: str, envelope: Envelope) -> bool:
    """Insert ``(consumer, envelope.id)``; returns False when it was already there (a duplicate delivery)."""
    statement = (
        upsert(session, InboxMessage.__table__)
        .values(consumer=consumer, message_id=str(envelope.id), event_type=envelope.type, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["consumer", "message_id"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


async def advance_subject(session: AsyncSession, consumer: str, envelope: Envelope) -> bool:
    """Move the consumer's version of the envelope's subject up to its ``aggregate_version``.

    Returns False, changing nothing, when the stored version is already at or above it (the event is stale).
    """
    table = InboxSubjectVersion.__table__
    statement = upsert(session, table).values(
        consumer=consumer,
        source=envelope.source,
        subject=envelope.subject,
        aggregate_version=envelope.aggregate_version,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["consumer", "source", "subject"],
        set_={"aggregate_version": statement.excluded.aggregate_version},
        where=table.c.aggregate_version < statement.excluded.aggregate_version,
    )
    result = await session.execute(statement)
    return bool(result.rowcount)
