"""The signed-in person's own account: personal information and password (API.md "Identity and account")."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from services.gateway.api.auth import weak_password
from services.gateway.auth import CurrentCaller, Database, SignedIn
from services.gateway.events import publish_updated
from services.gateway.models import Account, Session
from services.gateway.schemas import AccountOut, AccountPatch, PasswordChange
from services.gateway.security import password_problems
from shared.credentials import hash_password, verify_password
from shared.db import utcnow

router = APIRouter(tags=["account"])
PUBLISHED_FIELDS = frozenset({"email", "first_name", "last_name", "language", "time_zone"})
"""Fields other services keep a copy of: changing one publishes ``doctor.updated``."""


@router.get("/account", response_model=AccountOut)
async def read_account(caller: CurrentCaller) -> Account:
    """The caller's personal information."""
    return caller.account


@router.patch("/account", response_model=AccountOut)
async def update_account(body: AccountPatch, caller: SignedIn, db: Database) -> Account:
    """Change personal information; 409 when the new e-mail or username belongs to another account. Only a person
    signed in (403 for an API key: a leaked key must not take over the account by changing its e-mail)."""
    account = caller.account
    changes = body.model_dump(exclude_unset=True)
    if "email" in changes:
        changes["email"] = changes["email"].lower()
    for field, value in changes.items():
        setattr(account, field, value)
    account.updated_at = utcnow()
    if account.role == "doctor" and PUBLISHED_FIELDS & changes.keys():
        publish_updated(db, account)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "that e-mail or username belongs to another account") from None
    return account


@router.put("/account/password", status_code=204)
async def change_password(body: PasswordChange, caller: SignedIn, db: Database) -> None:
    """Change the password after checking the current one; every other session of the account ends."""
    account = caller.account
    if not await asyncio.to_thread(verify_password, account.password_hash, body.current_password):
        raise HTTPException(403, "the current password is wrong")
    problems = password_problems(body.new_password, email=account.email, names=(account.first_name, account.last_name))
    if problems:
        raise weak_password(problems, "new_password")
    account.password_hash = await asyncio.to_thread(hash_password, body.new_password)
    account.updated_at = utcnow()
    await db.execute(
        update(Session)
        .where(Session.account_id == account.id, Session.id != caller.session_id, Session.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await db.commit()
