"""Request and response bodies of the notifications service's HTTP API (API.md: ``/notifications``,
``/staff/notifications``). Request bodies forbid unknown fields."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from shared.events.notifications import Severity

MAX_AUDIENCE = 10_000
"""Doctors one broadcast may name."""
DIRECTION_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Unicode bidirectional formatting characters (Unicode Standard Annex #9), which can make text read otherwise than
it is stored."""


def _hidden(char: str) -> bool:
    """A control character (category Cc) or a bidirectional formatting character."""
    return unicodedata.category(char) == "Cc" or char in DIRECTION_CONTROLS


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
    """A message from staff: ``title`` (1-200 characters, one line) and ``body`` (1-2,000; line breaks and tabs
    allowed), neither with control or direction-override characters, to ``audience`` ``"all"`` or a list of doctor
    ids, shown until ``expires_at`` (RFC 3339 with a zone, kept in UTC), with a ``severity``."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    audience: Literal["all"] | Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_AUDIENCE)]
    expires_at: AwareDatetime
    severity: Severity = "info"

    @field_validator("title", "body")
    @classmethod
    def _printable(cls, value: str, info: ValidationInfo) -> str:
        allowed = "\n\t" if info.field_name == "body" else ""
        if any(_hidden(char) for char in value if char not in allowed):
            lines = "; line breaks and tabs are allowed" if allowed else ""
            raise ValueError(f"must not hold control or direction-override characters{lines}")
        return value

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

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
