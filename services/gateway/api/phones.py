"""Routes of the account area: phones (API.md "Identity and account"). A doctor keeps at most ``MAX_PHONES``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from services.gateway.api.practices import count_locked, own_rows
from services.gateway.audit import owned
from services.gateway.auth import Database, Doctor
from services.gateway.models import Phone
from services.gateway.paging import Paging, paged
from services.gateway.schemas import Page, PhoneIn, PhoneOut

router = APIRouter(tags=["account"])
MAX_PHONES = 10


@router.get("/account/phones", response_model=Page[PhoneOut])
async def list_phones(caller: Doctor, db: Database, paging: Paging) -> Page[PhoneOut]:
    """The doctor's phone numbers, the first added first: ``{items: [{id, label, number, created_at}], page,
    page_size, total}``. 403 for other roles."""
    return await paged(db, own_rows(Phone, caller), paging)


@router.post("/account/phones", status_code=201, response_model=PhoneOut)
async def add_phone(body: PhoneIn, caller: Doctor, db: Database) -> Phone:
    """Add a number ``{label?: "office", number}`` → 201 ``{id, label, number, created_at}``. 409 when the doctor
    already has ``MAX_PHONES``; 422 for an invalid number or an unknown field; 403 for other roles."""
    if await count_locked(db, Phone, caller) >= MAX_PHONES:
        raise HTTPException(409, f"you already have {MAX_PHONES} phone numbers, the most allowed: delete one first")
    phone = Phone(doctor_id=caller.doctor_id, label=body.label, number=body.number)
    db.add(phone)
    await db.commit()
    return phone


@router.delete("/account/phones/{phone_id}", status_code=204)
async def delete_phone(phone_id: str, request: Request, caller: Doctor, db: Database) -> None:
    """Delete a number → 204. 404 when it is not the doctor's; 403 for other roles."""
    phone = await owned(request, db, Phone, phone_id, caller)
    await db.delete(phone)
    await db.commit()
