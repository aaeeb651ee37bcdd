"""Routes of the account area: practices (API.md "Identity and account").

A practice's address is where aligners ship, so a doctor always keeps at least one. This module also holds the two
helpers the doctor's own lists share (:func:`own_rows`, :func:`count_locked`), used by ``api/phones.py`` too.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from services.gateway.audit import owned
from services.gateway.auth import Caller, Database, Doctor
from services.gateway.models import Account, Practice
from services.gateway.paging import Paging, paged
from services.gateway.schemas import Address, Page, PracticeIn, PracticeOut, PracticePatch

router = APIRouter(tags=["account"])
M = TypeVar("M", bound=SQLModel)
REQUIRED_FIELDS = ("name", "address")
"""Fields of a practice a PATCH may change but not clear (``phone`` may be cleared with null)."""


def own_rows(model: type[M], caller: Caller) -> Select[tuple[M]]:
    """The query of the caller's rows of ``model`` (a table with ``doctor_id`` and ``created_at``), the first created
    first."""
    return (
        select(model)
        .where(model.doctor_id == caller.doctor_id)  # type: ignore[attr-defined]
        .order_by(model.created_at, model.id)  # type: ignore[attr-defined]
    )


async def count_locked(db: AsyncSession, model: type[M], caller: Caller) -> int:
    """How many rows of ``model`` the caller has, counted after locking the caller's account row.

    The lock is a no-op UPDATE of the account: concurrent requests of one doctor that count and then add or delete
    rows take turns (a row lock on PostgreSQL, the write lock on SQLite), so a limit checked here holds. It lasts
    until the session commits or rolls back; call :func:`~services.gateway.audit.owned` before it, since on SQLite
    the audit entry of a denial is written by another connection that would wait for this lock.
    """
    await db.execute(
        update(Account)
        .where(Account.id == caller.account.id)
        .values(version=Account.version)
        .execution_options(synchronize_session=False)
    )
    query = select(func.count()).select_from(model).where(model.doctor_id == caller.doctor_id)  # type: ignore[attr-defined]
    return int((await db.execute(query)).scalar_one())


def practice_out(practice: Practice) -> PracticeOut:
    """A practice row as the API shows it (the address nested)."""
    address = Address(**{field: getattr(practice, field) for field in Address.model_fields})
    return PracticeOut(
        id=practice.id, name=practice.name, address=address, phone=practice.phone, created_at=practice.created_at
    )


@router.get("/account/practices", response_model=Page[PracticeOut])
async def list_practices(caller: Doctor, db: Database, paging: Paging) -> Page[PracticeOut]:
    """The doctor's practices, the first created (the default ship-to) first: ``{items: [{id, name, address:
    {line1, line2, city, postal_code, region, country}, phone, created_at}], page, page_size, total}``. 403 for
    other roles."""
    return await paged(db, own_rows(Practice, caller), paging, practice_out)


@router.post("/account/practices", status_code=201, response_model=PracticeOut)
async def create_practice(body: PracticeIn, caller: Doctor, db: Database) -> PracticeOut:
    """Add a practice ``{name, address: {line1, line2?, city, postal_code, region?, country}, phone?}`` → 201 the
    practice. 422 for an invalid body (e.g. ``country`` not an ISO alpha-2 code, or an unknown field such as
    ``id`` or ``doctor_id``); 403 for other roles."""
    practice = Practice(doctor_id=caller.doctor_id, name=body.name, phone=body.phone, **body.address.model_dump())
    db.add(practice)
    await db.commit()
    return practice_out(practice)


@router.patch("/account/practices/{practice_id}", response_model=PracticeOut)
async def update_practice(
    practice_id: str, body: PracticePatch, request: Request, caller: Doctor, db: Database
) -> PracticeOut:
    """Change a practice's ``name``, ``address`` (replaced as a whole) or ``phone`` (null clears it); fields not
    given stay. 404 when the practice is not the doctor's; 422 for an invalid body, an unknown field, or a null
    ``name`` or ``address``; 403 for other roles."""
    changes = body.model_dump(exclude_unset=True)
    cleared = [field for field in REQUIRED_FIELDS if field in changes and changes[field] is None]
    if cleared:
        raise RequestValidationError(
            [{"loc": ("body", field), "msg": f"{field} cannot be cleared", "type": "not_null"} for field in cleared]
        )
    practice = await owned(request, db, Practice, practice_id, caller)
    if "name" in changes:
        practice.name = changes["name"]
    if "phone" in changes:
        practice.phone = changes["phone"]
    if "address" in changes:
        assert body.address is not None
        for field, value in body.address.model_dump().items():
            setattr(practice, field, value)
    await db.commit()
    return practice_out(practice)


@router.delete("/account/practices/{practice_id}", status_code=204)
async def delete_practice(practice_id: str, request: Request, caller: Doctor, db: Database) -> None:
    """Delete a practice → 204. 409 when it is the doctor's last one (orders ship to a practice); 404 when it is
    not the doctor's; 403 for other roles."""
    practice = await owned(request, db, Practice, practice_id, caller)  # before the lock: a denial is audited apart
    if await count_locked(db, Practice, caller) <= 1:
        raise HTTPException(409, "this is your only practice: add another one before deleting it")
    await db.delete(practice)
    await db.commit()
