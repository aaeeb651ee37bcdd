"""The audit log a doctor reads: every access to their cases and every refusal, who, what, when, from where
(API.md "Identity and account", DOMAIN.md "Privacy"). Read-only: no route changes or deletes an entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from services.gateway.auth import Database, Doctor
from services.gateway.models import AuditEntry
from services.gateway.schemas import AuditEntryOut, Page

router = APIRouter(tags=["account"])


@router.get("/account/audit-log", response_model=Page[AuditEntryOut])
async def read_audit_log(
    caller: Doctor,
    db: Database,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    case_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Page[AuditEntryOut]:
    """The entries about the caller's data, newest first; only those of one case with ``case_id``."""
    conditions = [AuditEntry.owner_doctor_id == caller.doctor_id]
    if case_id is not None:
        conditions.append(AuditEntry.case_id == case_id)
    total = (await db.execute(select(func.count()).select_from(AuditEntry).where(*conditions))).scalar_one()
    rows = (
        await db.execute(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())  # type: ignore[attr-defined,union-attr]
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).scalars()
    items = [AuditEntryOut.model_validate(row, from_attributes=True) for row in rows]
    return Page(items=items, page=page, page_size=page_size, total=total)
