"""Request and response bodies of the notifications service's HTTP API (API.md: ``/notifications``,
``/staff/notifications``). Request bodies forbid unknown fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.events.notifications import Severity

MAX_AUDIENCE = 10_000
"""Doctors one broadcast may name."""


class NotificationOut(BaseModel):
    """One item of the carousel: a notification of the doctor's (``kind`` one of the notification kinds, with the
    ``case_id`` it links to) or a broadcast (``kind`` ``broadcast``, no case); ``read`` once the doctor opened it."""

    id: str
    kind: str
    title: str
    body: str
    case_id: str | None
    severity: Severity
    created_at: datetime
    expires_at: datetime
    read: bool


class NotificationPage(BaseModel):
    """A page of the carousel, newest first."""

    items: list[NotificationOut]
    page: int
    page_size: int
    total: int


class BroadcastIn(BaseModel):
    """A message from staff: ``title`` (1-200 characters) and ``body`` (1-2,000), to ``audience`` ``"all"`` or a list
    of doctor ids, shown until ``expires_at`` (RFC 3339 with a zone, in the future), with a ``severity``."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    audience: Literal["all"] | Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_AUDIENCE)]
    expires_at: AwareDatetime
    severity: Severity = "info"

    @field_validator("audience")
    @classmethod
    def _distinct(cls, value: Literal["all"] | list[uuid.UUID]) -> Literal["all"] | list[uuid.UUID]:
        if isinstance(value, list) and len(set(value)) != len(value):
            raise ValueError("each doctor may be named once")
        return value


class BroadcastOut(BaseModel):
    """A broadcast as staff see it: who it reaches, until when, and since when it is withdrawn (if it is)."""

    id: str
    title: str
    body: str
    severity: Severity
    audience: Literal["all"] | list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None


class BroadcastPage(BaseModel):
    """A page of broadcasts, newest first."""

    items: list[BroadcastOut]
    page: int
    page_size: int
    total: int
