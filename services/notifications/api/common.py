"""What the routes share: the database session, the service's clock, and who the caller is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http import current_principal
from shared.internal_token import STAFF_ROLES
from shared.service import db_session

Database = Annotated[AsyncSession, Depends(db_session)]


def now(request: Request) -> datetime:
    """The current instant by the service's clock (``create_app``'s ``clock``; tests control it)."""
    return request.app.state.runtime.extensions["clock"]()


def doctor(request: Request) -> str:
    """The doctor a carousel request acts for; 403 for other callers (staff and admins have no carousel)."""
    principal = current_principal(request)
    if principal.role != "doctor" or principal.doctor_id is None:
        raise HTTPException(403, "only doctors have notifications")
    return str(principal.doctor_id)


def staff(request: Request) -> str:
    """The staff member (or admin) a broadcast request acts for; 403 for other callers."""
    principal = current_principal(request)
    if principal.role not in STAFF_ROLES:
        raise HTTPException(403, "only staff send broadcasts")
    return str(principal.user_id)


Now = Annotated[datetime, Depends(now)]
DoctorId = Annotated[str, Depends(doctor)]
StaffId = Annotated[str, Depends(staff)]
