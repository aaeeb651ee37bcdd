"""Administration (API.md "Identity and account"): admins create the staff accounts of the lab."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from services.gateway.accounts import EmailTaken, create_account
from services.gateway.auth import Admin, Database
from services.gateway.models import Account
from services.gateway.schemas import AccountOut, StaffCreate

router = APIRouter(tags=["admin"])


@router.post("/admin/staff", status_code=201, response_model=AccountOut)
async def create_staff(body: StaffCreate, caller: Admin, db: Database) -> Account:
    """Create a staff account ``{email, password, first_name, last_name}`` → 201 the account with role ``staff``.
    403 unless the caller is an admin; 409 when the e-mail is taken; 422 for a weak password or an unknown field."""
    try:
        return await create_account(db, body, "staff")
    except EmailTaken:
        raise HTTPException(409, "an account with this e-mail already exists") from None
