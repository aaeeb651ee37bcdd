"""Tables of the cases service's own database (besides the messaging tables and ``idempotency_keys`` of ``shared``).

:class:`Case` is both the aggregate (status, the facts that decide it, its event counter) and the row the orders list
reads: order number, patient name, main photo, setup column, collaborator status, expiry, label and comment are kept
on it, from its own changes and from events, so the list is one query. Ids are text UUIDs; times are UTC-aware.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, utcnow


def new_id() -> str:
    """A new random id (UUID 4, as text)."""
    return str(uuid.uuid4())


class Table(SQLModel, registry=registry()):
    """Base of the service's tables: a registry of their own, so that their names (``cases``, ``patients``) cannot
    clash with another service's tables in one process (the tests import every service)."""


_case_version = Column("version", Integer, nullable=False)


class Case(Table, table=True):
    """One patient's treatment: its status and everything the orders list shows of it.

    ``version`` counts the case's published events (their ``aggregate_version``) and guards every update: an update
    made from a stale read fails (``StaleDataError``) instead of overwriting a concurrent one. ``held_from`` is the
    status a hold interrupted. The ``intake_*`` fields describe the last submitted order (the case's first order or
    a modification) whose records decide where the case goes next; ``intake_applied`` once it has moved the case.
    ``problem_reason`` and ``problem_slots`` are what quality control said of the records (the slots await new
    uploads since ``problem_raised_at``).
    ``search_text`` is the normalised "order number, last name, first name" the list's search reads.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_doctor_created", "doctor_id", "created_at", "id"),
        Index("ix_cases_doctor_status", "doctor_id", "status_rank", "id"),
        Index("ix_cases_doctor_order_number", "doctor_id", "order_number"),
        Index("ix_cases_doctor_patient", "doctor_id", "patient_sort_key", "id"),
        Index("ix_cases_doctor_setup", "doctor_id", "setup_published_at", "id"),
        Index("ix_cases_doctor_expiry", "doctor_id", "expires_at", "id"),
        Index("ix_cases_doctor_collaborator", "doctor_id", "collaborator_status", "id"),
        Index("ix_cases_doctor_label", "doctor_id", "label_id", "id"),
        Index("ix_cases_created", "created_at", "id"),
        Index("ix_cases_status", "status_rank", "id"),
        Index("ix_cases_expiry", "expires_at"),
        Index("ix_cases_patient_id", "patient_id"),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _case_version, "version_id_generator": False}

    id: str = Field(primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36)
    order_id: str | None = Field(default=None, max_length=36)
    order_number: str | None = Field(default=None, max_length=20)
    kind: str | None = Field(default=None, max_length=20)
    patient_id: str | None = Field(default=None, max_length=36)
    patient_first_name: str | None = Field(default=None, max_length=100)
    patient_last_name: str | None = Field(default=None, max_length=100)
    patient_sort_key: str = Field(default="", max_length=210)
    search_text: str = Field(default="", max_length=240)
    status: str = Field(max_length=30)
    status_rank: int
    bucket: str = Field(max_length=20)
    held_from: str | None = Field(default=None, max_length=30)
    version: int = Field(default=0, sa_column=_case_version)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    intake_order_id: str | None = Field(default=None, max_length=36)
    intake_kind: str | None = Field(default=None, max_length=20)
    intake_required_slots: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    intake_pvs: bool = False
    intake_applied: bool = False
    impressions_received_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    problem_slots: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    problem_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    problem_raised_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    main_photo_document_id: str | None = Field(default=None, max_length=36)
    package: str | None = Field(default=None, max_length=20)
    approved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    setup_version: int | None = None
    setup_published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    setup_state: str | None = Field(default=None, max_length=20)
    collaborator_status: str | None = Field(default=None, max_length=30)
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    label_id: str | None = Field(default=None, max_length=36)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CaseCollaborator(Table, table=True):
    """The case is shared with collaborator ``collaborator_id`` of its doctor (an id of the gateway's)."""

    __tablename__ = "case_collaborators"

    case_id: str = Field(primary_key=True, max_length=36)
    collaborator_id: str = Field(primary_key=True, max_length=36, index=True)


class Setup(Table, table=True):
    """Treatment setup ``version`` of a case: what the lab published and what the doctor decided.

    ``state``: ``pending`` (awaiting the doctor), ``approved`` (with ``package``), ``rejected`` (with
    ``decision_reason``) or ``withdrawn`` (its case was cancelled while it awaited the doctor). ``document_id`` is
    the setup's viewer file in the documents service, when one was stored. ``collaborator_verdict`` is what the
    collaborator of a shared case said of it: ``ready`` (for approval) or ``rejected`` (with
    ``collaborator_reason``).
    """

    __tablename__ = "setups"
    __table_args__ = (UniqueConstraint("case_id", "version", name="uq_setups_case_version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    case_id: str = Field(max_length=36, index=True)
    version: int
    state: str = Field(default="pending", max_length=20)
    technician_comment: str = Field(sa_column=Column(Text, nullable=False))
    steps_upper: int
    steps_lower: int
    document_id: str | None = Field(default=None, max_length=36)
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    published_by: str = Field(max_length=36)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    decided_by: str | None = Field(default=None, max_length=36)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    package: str | None = Field(default=None, max_length=20)
    collaborator_verdict: str | None = Field(default=None, max_length=20)
    collaborator_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Phase(Table, table=True):
    """Phase ``number`` of a case: aligner steps ``steps_from`` to ``steps_to``, made, shipped, delivered."""

    __tablename__ = "phases"

    case_id: str = Field(primary_key=True, max_length=36)
    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    steps_from: int
    steps_to: int
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    final: bool = False


class HistoryEntry(Table, table=True):
    """One dated event of a case, for its history tab and the practice insights. Append-only.

    ``kind`` says what happened (the action's name, or ``records_received``, ``records_checked``, ...);
    ``status_from``/``status_to`` are set when the status changed; ``number`` is the setup version or phase number
    the entry is about. ``cause_event_id`` is the event that caused it (for changes made by events) and
    ``event_id`` the ``case.status_changed`` it published, if any. ``id`` grows with every entry, so entries of
    one moment keep the order they were written in.
    """

    __tablename__ = "case_history"
    __table_args__ = (
        Index("ix_case_history_case_at", "case_id", "at"),
        Index("ix_case_history_doctor_kind_at", "doctor_id", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=36)
    doctor_id: str = Field(max_length=36)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=20)
    actor_id: str | None = Field(default=None, max_length=36)
    summary: str = Field(max_length=300)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status_from: str | None = Field(default=None, max_length=30)
    status_to: str | None = Field(default=None, max_length=30)
    number: int | None = None
    cause_event_id: str | None = Field(default=None, max_length=36)
    event_id: str | None = Field(default=None, max_length=36)


class RecordsResult(Table, table=True):
    """What the documents service last said of one order's checklist (``records.checked``/``records.completed``),
    at the checklist's ``version`` (an older answer arriving late never replaces a newer one)."""

    __tablename__ = "records_results"

    case_id: str = Field(primary_key=True, max_length=36)
    order_id: str = Field(primary_key=True, max_length=36)
    complete: bool
    missing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int


class CaseDocument(Table, table=True):
    """A file of a case as the documents service announced it (kept for the main photo and records problems);
    ``deleted`` stays true even if the upload's event arrives after the deletion's."""

    __tablename__ = "case_documents"
    __table_args__ = (Index("ix_case_documents_case_slot", "case_id", "slot"),)

    document_id: str = Field(primary_key=True, max_length=36)
    case_id: str = Field(max_length=36)
    slot: str = Field(max_length=40)
    uploaded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    deleted: bool = False


class Patient(Table, table=True):
    """A patient's name as the orders service last announced it (``patient.updated``, at ``version``)."""

    __tablename__ = "patients"

    id: str = Field(primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    version: int


class Doctor(Table, table=True):
    """What the cases service keeps of a doctor (``doctor.*``): the name a patient link shows, the time zone insights
    are counted in."""

    __tablename__ = "doctors"

    id: str = Field(primary_key=True, max_length=36)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    time_zone: str = Field(default="UTC", max_length=64)
    version: int


class Label(Table, table=True):
    """One colour of a doctor's label palette, at ``position``, with the name the doctor gave it."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("doctor_id", "position", name="uq_labels_doctor_position"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36, index=True)
    position: int
    color: str = Field(max_length=7)
    name: str = Field(max_length=50)


class PatientLink(Table, table=True):
    """A link that shows the patient their treatment setup: the SHA-256 digest of its token (the token itself is shown
    once, at creation), an optional argon2id password hash, expiry, revocation and views."""

    __tablename__ = "patient_links"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    case_id: str = Field(max_length=36, index=True)
    token_digest: str = Field(max_length=64, unique=True)
    password_hash: str | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(max_length=36)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    views: int = 0
    last_viewed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class PatientLinkFailure(Table, table=True):
    """A wrong password given for a patient link, from a client address (for throttling)."""

    __tablename__ = "patient_link_failures"
    __table_args__ = (
        Index("ix_patient_link_failures_link_at", "link_id", "at"),
        Index("ix_patient_link_failures_address_at", "client_address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    link_id: str = Field(max_length=36)
    client_address: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ExpiryReminder(Table, table=True):
    """The reminder ``days_before`` expiry was handled for a case (sent, or passed over because a nearer one was
    due when the job first saw it): each is sent at most once."""

    __tablename__ = "expiry_reminders"

    case_id: str = Field(primary_key=True, max_length=36)
    days_before: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    handled_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent: bool
