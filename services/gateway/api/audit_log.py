"""The audit log a doctor reads: every access to their cases and every refusal, who, what, when, from where
(API.md "Identity and account", DOMAIN.md "Privacy"). Read-only: no route changes or deletes an entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.gateway.auth import Database, Doctor
from services.gateway.models import AuditEntry
from services.gateway.paging import Paging, paged
from services.gateway.schemas import AuditEntryOut, Page

router = APIRouter(tags=["account"])


@router.get("/account/audit-log", response_model=Page[AuditEntryOut])
async def read_audit_log(
    caller: Doctor,
    db: Database,
    paging: Paging,
    case_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Page[AuditEntryOut]:
    """The entries about the caller's data, newest first; only those of one case with ``case_id``."""
    conditions = [AuditEntry.owner_doctor_id == caller.doctor_id]
    if case_id is not None:
        conditions.append(AuditEntry.case_id == case_id)
    newest_first = (AuditEntry.at.desc(), AuditEntry.id.desc())  # type: ignore[attr-defined,union-attr]
    query = select(AuditEntry).where(*conditions).order_by(*newest_first)
    return await paged(db, query, paging, lambda row: AuditEntryOut.model_validate(row, from_attributes=True))
