"""Tables of the notifications service's own database (besides the messaging tables of ``shared``).

:class:`Doctor` is the service's copy of what it needs of a doctor (from ``doctor.*``); :class:`CaseStatus` the last
status it heard of each case (so a late notice about a case that has moved on is born retired). A
:class:`Notification` belongs to one doctor; a :class:`Broadcast` from staff reaches everyone or its
:class:`BroadcastRecipient` rows, with each doctor's read and dismiss marks in :class:`BroadcastState`. An
:class:`EmailDelivery` is one e-mail to send, recorded under its key before it is sent. Ids are text UUIDs; times are
UTC-aware.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime


def new_id() -> str:
    """A new random id (UUID 4, as text)."""
    return str(uuid.uuid4())


def _at(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


class Table(SQLModel, registry=registry()):
    """Base of the service's tables: a registry of their own, so that their names cannot clash with another
    service's tables in one process (the tests import every service)."""


class Doctor(Table, table=True):
    """A doctor as the notifications service knows them: how to address and reach them (``language`` ISO 639-1,
    ``time_zone`` IANA), their e-mail switch per notification kind (absent means on) and the daily digest switch."""

    __tablename__ = "doctors"

    id: str = Field(primary_key=True, max_length=36)
    email: str = Field(max_length=320)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    language: str = Field(max_length=5)
    email_notifications: dict[str, bool] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    daily_digest: bool = Field(default=False, index=True)
    time_zone: str = Field(default="UTC", max_length=64)
    updated_at: datetime = _at()

    def wants_email(self, kind: str) -> bool:
        """Whether the doctor switched e-mails of ``kind`` on (every kind is on until switched off)."""
        return self.email_notifications.get(kind, True)


class CaseStatus(Table, table=True):
    """The latest status heard of a case (``case.status_changed``), that event's ``aggregate_version``, and the
    case's order number and patient name as it gave them (to word notices from events that do not carry them)."""

    __tablename__ = "case_statuses"

    case_id: str = Field(primary_key=True, max_length=36)
    status: str = Field(max_length=30)
    version: int
    order_number: str | None = Field(default=None, max_length=20)
    patient_name: str | None = Field(default=None, max_length=210)


class EarlyRecordsCheck(Table, table=True):
    """The latest records check of a case that found slots missing, heard while the case did not wait for records
    yet (the documents service answered before the case's move to ``awaiting_records`` arrived): the slots and the
    event it came in, for that move to ask for when it names no slot itself (PVS impressions). A complete check or
    the move ends it."""

    __tablename__ = "early_records_checks"

    case_id: str = Field(primary_key=True, max_length=36)
    event_id: str = Field(max_length=36)
    missing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Notification(Table, table=True):
    """One notification of one doctor, made from the event ``source_event_id`` about case ``case_id`` at the case's
    ``case_version``. Its words are rendered from ``kind`` and ``params`` in the doctor's language when shown.
    Active while not dismissed and ``expires_at`` has not come. ``email_due`` when the doctor wanted an e-mail of its
    kind when it was made; ``emailed_by`` is the e-mail delivery that tells of it (its own, or a daily digest), None
    while a digest is still to gather it."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("source_event_id", "doctor_id", name="uq_notifications_source_event_doctor"),
        Index("ix_notifications_doctor_created", "doctor_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36)
    kind: str = Field(max_length=40)
    severity: str = Field(max_length=10)
    case_id: str | None = Field(default=None, max_length=36, index=True)
    case_version: int | None = None
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source_event_id: str = Field(max_length=36)
    created_at: datetime = _at()
    expires_at: datetime = _at()
    read_at: datetime | None = _at(nullable=True)
    dismissed_at: datetime | None = _at(nullable=True)
    email_due: bool = False
    emailed_by: str | None = Field(default=None, max_length=36)


class Broadcast(Table, table=True):
    """A message from staff to every doctor (``audience_all``) or to its recipients, shown until ``expires_at`` or
    until staff withdraw it (``withdrawn_at``)."""

    __tablename__ = "broadcasts"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    severity: str = Field(max_length=10)
    audience_all: bool
    created_by: str = Field(max_length=36)
    created_at: datetime = _at(index=True)
    expires_at: datetime = _at()
    withdrawn_at: datetime | None = _at(nullable=True)


class BroadcastRecipient(Table, table=True):
    """A doctor a broadcast with a list audience reaches."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: str = Field(primary_key=True, max_length=36)
    doctor_id: str = Field(primary_key=True, max_length=36, index=True)


class BroadcastState(Table, table=True):
    """When one doctor read or dismissed one broadcast."""

    __tablename__ = "broadcast_states"

    broadcast_id: str = Field(primary_key=True, max_length=36)
    doctor_id: str = Field(primary_key=True, max_length=36)
    read_at: datetime | None = _at(nullable=True)
    dismissed_at: datetime | None = _at(nullable=True)


class EmailDelivery(Table, table=True):
    """One e-mail to ``recipient``, recorded under its key (``event_id``, ``channel``, ``recipient``) before any
    send, so a redelivered event cannot make a second one. ``kind`` is a notification kind or ``daily_digest``;
    ``notification_ids`` what it tells of. ``state`` is ``pending`` (due at ``next_attempt_at``), ``sent`` or
    ``failed`` (given up after the configured attempts); a sender holds it while ``claimed_until`` is ahead."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel", "recipient", name="uq_email_deliveries_key"),
        Index("ix_email_deliveries_due", "state", "next_attempt_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    event_id: str = Field(max_length=36)
    channel: str = Field(default="email", max_length=20)
    recipient: str = Field(max_length=320)
    doctor_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=40)
    notification_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=10)
    attempts: int = 0
    created_at: datetime = _at()
    next_attempt_at: datetime = _at()
    claimed_until: datetime | None = _at(nullable=True)
    sent_at: datetime | None = _at(nullable=True)
    transport: str | None = Field(default=None, max_length=10)
    message_id: str | None = Field(default=None, max_length=200)
    last_error: str | None = Field(default=None, max_length=1000)
