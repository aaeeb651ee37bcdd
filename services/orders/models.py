"""Tables of the orders service's own database (besides the messaging tables of ``shared.messaging``).

Every row a doctor owns carries ``doctor_id`` (the id in the caller's internal token); every query of a doctor's
request filters on it. Ids are random UUIDs as text.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, utcnow


def new_id() -> str:
    """A new random id (UUID 4, as text)."""
    return str(uuid.uuid4())


class Patient(SQLModel, table=True):
    """A patient of one doctor. ``search_key`` is the normalised "last first" name (``shared.search``);
    ``version`` counts changes published as ``patient.updated`` (1 at creation)."""

    __tablename__ = "patients"
    __table_args__ = (Index("ix_patients_doctor_search", "doctor_id", "search_key"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36, index=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date
    sex: str = Field(max_length=10)
    search_key: str = Field(max_length=210)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Order(SQLModel, table=True):
    """An aligner, retainer or modification order: a draft (``status`` ``draft``) until submitted (``submitted``).

    ``body`` holds the order's sections as the doctor saved them (any subset, values checked only on submit; a new
    patient typed into a draft sits in ``body["patient"]`` until submission creates it). ``patient_id`` links an
    existing patient. ``version`` grows with every change, so conditional updates detect concurrent ones.
    """

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_doctor_created", "doctor_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36, index=True)
    case_id: str = Field(max_length=36, index=True)
    order_number: str = Field(max_length=20, unique=True)
    kind: str = Field(max_length=20)
    status: str = Field(default="draft", max_length=20)
    patient_id: str | None = Field(default=None, foreign_key="patients.id", max_length=36, index=True)
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Case(SQLModel, table=True):
    """What the orders service knows of a case: its owner, the version of the last order event published about it
    (``event_version``, the events' ``aggregate_version``), and the status the cases service last announced
    (``case.status_changed``; None until one arrives)."""

    __tablename__ = "cases"

    id: str = Field(primary_key=True, max_length=36)
    doctor_id: str = Field(max_length=36, index=True)
    event_version: int = 0
    status: str | None = Field(default=None, max_length=40)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class OrderNumberCounter(SQLModel, table=True):
    """The last order number given out in a year (``DP-<year>-<last_number>``); see ``services.orders.numbering``."""

    __tablename__ = "order_number_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int
