"""The audit log: every access to health data and every refusal, written in its own transaction so that an entry
survives whatever happens to the request's own changes (DOMAIN.md "Privacy"). Nothing updates or deletes entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from services.gateway.models import AuditEntry
from shared.db import transaction

if TYPE_CHECKING:  # auth.py records refusals here, so this module cannot import it at run time
    from services.gateway.auth import Caller


async def record(
    request: Request,
    caller: Caller | None,
    action: str,
    object_type: str,
    object_id: str | None,
    outcome: str,
    *,
    owner_doctor_id: str | None = None,
    case_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry: ``action`` (e.g. ``case.read``) on ``object_type``/``object_id`` by ``caller`` ended with
    ``outcome`` (``allowed`` or ``denied``); ``owner_doctor_id`` is the doctor who may read it back."""
    async with transaction(request.app.state.runtime.sessions) as session:
        session.add(
            AuditEntry(
                actor_id=caller.account.id if caller else None,
                actor_role=caller.account.role if caller else None,
                action=action,
                object_type=object_type,
                object_id=object_id,
                case_id=case_id,
                owner_doctor_id=owner_doctor_id,
                client_address=request.client.host if request.client else "unknown",
                outcome=outcome,
                details=details or {},
            )
        )


M = TypeVar("M", bound=SQLModel)


async def owned(request: Request, db: AsyncSession, model: type[M], object_id: str, caller: Caller) -> M:
    """The caller's row ``object_id`` of ``model`` (a table with a ``doctor_id``); 404 when it does not exist or
    belongs to another doctor, never saying which (API.md), and an attempt on another doctor's row is audited."""
    row = await db.get(model, object_id)
    if row is None or row.doctor_id != caller.doctor_id:  # type: ignore[attr-defined]
        if row is not None:
            table = model.__tablename__  # type: ignore[attr-defined]
            owner = row.doctor_id  # type: ignore[attr-defined]
            await record(request, caller, f"{table}.access", table, object_id, "denied", owner_doctor_id=owner)
        raise HTTPException(404, f"no such {model.__name__.lower()}")
    return row
