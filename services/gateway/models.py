"""Tables of the gateway's own database: who people are, how they prove it, and what they did.

Secrets are never stored: passwords as argon2id hashes, session tokens, CSRF tokens and API-key secrets as SHA-256
digests (they are long random values, so a fast digest is enough to make a stolen table useless).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, utcnow


def _uuid() -> str:
    return str(uuid.uuid4())


class Account(SQLModel, table=True):
    """A person who signs in: a doctor, a staff member or an admin. A doctor's id is also their doctor id.

    ``version`` counts changes published as ``doctor.*`` events (their ``aggregate_version``).
    """

    __tablename__ = "accounts"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str
    role: str = Field(max_length=20)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    degree: str | None = Field(default=None, max_length=50)
    specialty: str | None = Field(default=None, max_length=100)
    username: str | None = Field(default=None, max_length=50, unique=True)
    country: str | None = Field(default=None, max_length=2)
    language: str = Field(default="en", max_length=5)
    wear_schedule_days: int = 14
    time_zone: str = Field(default="UTC", max_length=64)
    email_notifications: dict[str, bool] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    daily_digest: bool = False
    clinical_preferences: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Practice(SQLModel, table=True):
    """A clinic of a doctor; its address is also where aligners ship. The first one is the default."""

    __tablename__ = "practices"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    doctor_id: str = Field(foreign_key="accounts.id", index=True, max_length=36)
    name: str = Field(max_length=200)
    line1: str = Field(max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(max_length=100)
    postal_code: str = Field(max_length=20)
    region: str | None = Field(default=None, max_length=100)
    country: str = Field(max_length=2)
    phone: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Phone(SQLModel, table=True):
    """A phone number of a doctor's."""

    __tablename__ = "phones"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    doctor_id: str = Field(foreign_key="accounts.id", index=True, max_length=36)
    label: str = Field(max_length=50)
    number: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Session(SQLModel, table=True):
    """A signed-in session: its bearer token and CSRF token (both as SHA-256 digests), expiry and revocation."""

    __tablename__ = "sessions"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=36)
    token_digest: str = Field(max_length=64, unique=True)
    csrf_digest: str = Field(max_length=64)
    client_address: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ApiKey(SQLModel, table=True):
    """A key for an integration: a name, scopes, the secret's SHA-256 digest, when it was last used, revocation."""

    __tablename__ = "api_keys"

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=36)
    name: str = Field(max_length=100)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Collaborator(SQLModel, table=True):
    """A colleague a doctor invited by e-mail to work on shared cases, with what they may do."""

    __tablename__ = "collaborators"
    __table_args__ = (UniqueConstraint("doctor_id", "email", name="uq_collaborators_doctor_email"),)

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    doctor_id: str = Field(foreign_key="accounts.id", index=True, max_length=36)
    email: str = Field(max_length=320, index=True)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class LoginFailure(SQLModel, table=True):
    """One failed sign-in, counted against the e-mail tried and the client address (for throttling)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_address_at", "client_address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    client_address: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AuditEntry(SQLModel, table=True):
    """One access to health data or one refusal: who, what, when, from where, and how it ended. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_owner_at", "owner_doctor_id", "at"),
        Index("ix_audit_log_case_at", "case_id", "at"),
    )

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    actor_id: str | None = Field(default=None, max_length=36)
    actor_role: str | None = Field(default=None, max_length=20)
    action: str = Field(max_length=60)
    object_type: str = Field(max_length=40)
    object_id: str | None = Field(default=None, max_length=100)
    case_id: str | None = Field(default=None, max_length=36)
    owner_doctor_id: str | None = Field(default=None, max_length=36)
    client_address: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=20)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
