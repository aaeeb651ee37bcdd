"""API keys of the signed-in person, for integrations (API.md "Identity and account").

Only a person signed in manages keys (``SignedIn``: an API key gets 403 here, so a leaked key cannot mint others).
A key's secret is ``dpk_`` followed by 256 random bits, shown once in the creation answer and stored as its SHA-256
digest; it is then used as a bearer token (``read`` scope for GET, ``write`` for the other methods).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import ColumnElement, func, select

from services.gateway.audit import record
from services.gateway.auth import Database, SignedIn
from services.gateway.models import Account, ApiKey
from services.gateway.paging import Paging, paged
from services.gateway.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, Page
from services.gateway.security import API_KEY_PREFIX
from shared.credentials import digest, new_token
from shared.db import utcnow

router = APIRouter(tags=["account"])
MAX_ACTIVE_KEYS = 20
"""Keys an account may hold at once (revoked ones do not count)."""


def _active(account_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting the keys of ``account_id`` not revoked."""
    return ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None)


async def _count_active(db: Database, account_id: str) -> int:
    """How many keys of ``account_id`` are not revoked."""
    return (await db.execute(select(func.count()).select_from(ApiKey).where(*_active(account_id)))).scalar_one()


@router.get("/account/api-keys", response_model=Page[ApiKeyOut])
async def list_api_keys(caller: SignedIn, db: Database, paging: Paging) -> Page[ApiKeyOut]:
    """The caller's keys not revoked, newest first: ``{items: [{id, name, scopes, created_at, last_used_at}], page,
    page_size, total}`` (never a secret)."""
    query = select(ApiKey).where(*_active(caller.account.id)).order_by(ApiKey.created_at.desc(), ApiKey.id)
    return await paged(db, query, paging)


@router.post("/account/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, caller: SignedIn, db: Database) -> ApiKeyCreated:
    """Create a key: 201 ``{id, name, scopes, created_at, secret}``; 409 when the caller already holds
    ``MAX_ACTIVE_KEYS`` active keys."""
    # Lock the account row (PostgreSQL) so that concurrent creations cannot pass the limit together.
    await db.execute(select(Account.id).where(Account.id == caller.account.id).with_for_update())
    if await _count_active(db, caller.account.id) >= MAX_ACTIVE_KEYS:
        raise HTTPException(409, f"at most {MAX_ACTIVE_KEYS} API keys may be active at once; revoke one first")
    secret = new_token(API_KEY_PREFIX)
    key = ApiKey(account_id=caller.account.id, name=body.name, scopes=body.scopes, secret_digest=digest(secret))
    db.add(key)
    await db.commit()
    return ApiKeyCreated(id=key.id, name=key.name, scopes=key.scopes, created_at=key.created_at, secret=secret)


@router.delete("/account/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, caller: SignedIn, request: Request, db: Database) -> None:
    """Revoke one of the caller's keys (it stops working at once); 404 when there is no such active key of the
    caller's: another account's key is answered the same way, and the attempt is audited."""
    key = await db.get(ApiKey, key_id)
    if key is None or key.account_id != caller.account.id or key.revoked_at is not None:
        if key is not None and key.account_id != caller.account.id:
            owner = key.account_id
            await record(request, caller, "api_keys.revoke", "api_keys", key_id, "denied", owner_doctor_id=owner)
        raise HTTPException(404, "no such API key")
    key.revoked_at = utcnow()
    await db.commit()
