"""``Idempotency-Key`` on creating POSTs (API.md "Conventions"): a retried create returns the first response.

Every service that accepts the header keeps the table ``idempotency_keys`` (:class:`IdempotencyKey`, created by
its own migration). The same key from the same caller (the doctor, or the staff member) within :data:`KEY_LIFETIME`
with the same request (method, path and JSON body) answers the first response's status and body and creates
nothing; with another request it is refused with 422 naming the header. The key's row is claimed (inserted) at the
start of the creating transaction and filled with the response before it commits, so two concurrent requests with
one key cannot both create: the second waits on the row (PostgreSQL's unique index, SQLite's write lock), fails to
insert it, and replays the first's response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel

from shared.db import UTCDateTime, utcnow
from shared.http import FINGERPRINT_HEADER, request_fingerprint
from shared.problems import invalid

HEADER = "Idempotency-Key"
KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"
"""Set to ``true`` on a replayed response."""


class IdempotencyKey(SQLModel, table=True):
    """The first response to a creating request sent with an ``Idempotency-Key``.

    ``owner_id`` is whose key it is (the doctor id, or a staff member's user id); ``request_hash`` the SHA-256 of the
    method, path and canonical JSON body; ``response_status`` is 0 while the first request is still running (the row
    is claimed before the work).
    """

    __tablename__ = "idempotency_keys"

    owner_id: str = Field(primary_key=True, max_length=36)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    response_status: int
    response_body: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))


Work = Callable[[AsyncSession], Awaitable[tuple[int, Any]]]
"""The creation itself: runs inside the transaction and returns the response's status and JSON body."""


KEY_RULE = f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"


def valid_key(value: str) -> bool:
    """Whether ``value`` may be an ``Idempotency-Key``: 1 to :data:`MAX_KEY_LENGTH` printable ASCII characters."""
    return 1 <= len(value) <= MAX_KEY_LENGTH and all(33 <= ord(char) <= 126 for char in value)


def key_of(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (None when absent); 422 when it is not :func:`valid_key`."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not valid_key(value):
        raise invalid([{"field": HEADER, "message": KEY_RULE}])
    return value


def fingerprint(request: Request, body: Any) -> str:
    """What identifies the request under its key: the gateway's fingerprint of the client's own request when it
    relayed one (:data:`~shared.http.FINGERPRINT_HEADER`), else this request's method, path and body."""
    return request.headers.get(FINGERPRINT_HEADER) or request_fingerprint(request.method, request.url.path, body)


async def run_idempotent(
    session: AsyncSession, owner_id: str, key: str | None, request_hash: str, work: Work
) -> JSONResponse:
    """Run ``work`` in one transaction of ``session`` and answer its response; with a ``key``, record the response
    under it, or replay the one already recorded (see the module documentation). Raises the 422 problem when the
    key was used for another request; whatever ``work`` raises rolls everything back and propagates."""
    if key is None:
        async with session.begin():
            status, body = await work(session)
        return JSONResponse(body, status_code=status)
    for attempt in range(2):
        try:
            async with session.begin():
                replay = await _recorded(session, owner_id, key, request_hash)
                if replay is not None:
                    return replay
                row = IdempotencyKey(owner_id=owner_id, key=key, request_hash=request_hash, response_status=0)
                session.add(row)
                await session.flush()
                status, body = await work(session)
                row.response_status, row.response_body = status, body
            return JSONResponse(body, status_code=status)
        except IntegrityError:
            if attempt:
                raise
            # another request claimed the key first and has committed since: the next attempt replays its response
    raise AssertionError("unreachable")


def create_table() -> None:
    """Create ``idempotency_keys`` and its index in a service's first migration (Alembic's ``op``): the table as
    :class:`IdempotencyKey` first described it. Frozen: a later change of the model needs migrations of its own."""
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("owner_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=False),
        sa.Column("response_body", sa.JSON),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


async def _recorded(session: AsyncSession, owner_id: str, key: str, request_hash: str) -> JSONResponse | None:
    cutoff = utcnow() - KEY_LIFETIME
    query = select(IdempotencyKey).where(
        IdempotencyKey.owner_id == owner_id, IdempotencyKey.key == key, IdempotencyKey.created_at > cutoff
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.owner_id == owner_id, IdempotencyKey.key == key, IdempotencyKey.created_at <= cutoff
            )
        )
        return None
    if row.request_hash != request_hash:
        raise invalid(
            [{"field": HEADER, "message": "this key was already used for a different request; use a new key"}]
        )
    return JSONResponse(row.response_body, status_code=row.response_status, headers={REPLAY_HEADER: "true"})
