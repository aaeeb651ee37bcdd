"""Tables of the documents service's own database (besides the messaging tables of ``shared``).

:class:`CaseFile` is the service's copy of what it needs to know of a case (owner, collaborators, its orders) from
the orders events; :class:`OrderChecklist` is one order's records checklist; :class:`Document` one stored file. Ids
are text UUIDs; times are UTC-aware; object keys are the service's own (``cases/<case id>/<document id>``), never a
name a user typed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index
from sqlalchemy.orm import registry
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, utcnow


def new_id() -> str:
    """A new random id (UUID 4, as text)."""
    return str(uuid.uuid4())


class Table(SQLModel, registry=registry()):
    """Base of the service's tables: a registry of their own, so that their names cannot clash with another
    service's tables in one process (the tests import every service)."""


class CaseFile(Table, table=True):
    """A case as the documents service knows it: its owner and order number (from ``order.draft_created``), the
    order new uploads belong to (the latest order of the case, draft or submitted), the collaborators it is shared
    with (from ``order.submitted``), and ``records_version``, the counter of its ``records.*`` events."""

    __tablename__ = "cases"

    id: str = Field(primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36, index=True)
    order_number: str = Field(max_length=20)
    current_order_id: str = Field(max_length=36)
    collaborator_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    records_version: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class OrderChecklist(Table, table=True):
    """One order of a case and its records checklist. A draft has no checklist yet (``submitted_at`` None); a
    submitted order has the ``required_slots`` of its ``order.submitted``, and ``missing_slots`` as the records check
    found them (``records.checked``); ``completed_at`` once an upload filled the last of them (``records.completed``).
    ``pvs`` when PVS impressions are mailed instead of scans (a shipping label may be printed); ``practice_id`` is
    where they are mailed from."""

    __tablename__ = "order_checklists"

    order_id: str = Field(primary_key=True, max_length=36)
    case_id: str = Field(max_length=36, index=True)
    order_number: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    required_slots: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    missing_slots: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    pvs: bool = False
    practice_id: str | None = Field(default=None, max_length=36)


class Document(Table, table=True):
    """One stored file of a case: where it is (``storage_key``), what it is (``kind`` and ``content_type`` decided
    from its bytes, ``facts`` found in them: image size, triangle count, DICOM modality...), its original
    ``filename`` (shown and sent back in ``Content-Disposition``, never used as a key), ``size_bytes`` and ``sha256``
    (hex) computed while it streamed in. ``source_document_id`` is the scanner export it was unpacked from;
    ``setup_version`` the treatment setup it is the viewer file of; ``thumbnail_key`` the photo's thumbnail once
    made."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_case_slot", "case_id", "slot", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    case_id: str = Field(max_length=36)
    order_id: str | None = Field(default=None, max_length=36, index=True)
    doctor_id: str = Field(max_length=36)
    slot: str = Field(max_length=40)
    filename: str = Field(max_length=255)
    kind: str = Field(max_length=10)
    content_type: str = Field(max_length=100)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    storage_key: str = Field(max_length=200)
    uploaded_by: str = Field(max_length=36)
    source_document_id: str | None = Field(default=None, max_length=36)
    setup_version: int | None = None
    thumbnail_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
