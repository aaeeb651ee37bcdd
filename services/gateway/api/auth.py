"""Registration, sign-in and sign-out (API.md "Identity and account")."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from services.gateway.auth import CurrentCaller, Database, client_address
from services.gateway.events import publish_registered
from services.gateway.models import Account, LoginFailure, Practice, Session
from services.gateway.schemas import AccountOut, LoginRequest, RegisterRequest, TokenResponse
from services.gateway.security import SESSION_TOKEN_PREFIX
from services.gateway.settings import Settings
from shared.credentials import digest, hash_password, new_token, verify_password
from shared.db import utcnow
from shared.events.notifications import NOTIFICATION_KINDS

router = APIRouter(tags=["identity"])
INVALID_CREDENTIALS = "the e-mail or the password is wrong"


def weak_password(problems: list[str], field: str) -> RequestValidationError:
    """A 422 validation problem naming ``field`` once per reason the password is too weak."""
    return RequestValidationError([{"loc": ("body", field), "msg": f"password {p}", "type": "weak"} for p in problems])


@router.post("/auth/register", status_code=201, response_model=AccountOut)
async def register(body: RegisterRequest, db: Database) -> Account:
    """Create a doctor account with its first practice; 409 when the e-mail is taken, 422 for a weak password."""
    account = Account(
        email=body.email.lower(),
        password_hash=await asyncio.to_thread(hash_password, body.password),
        role="doctor",
        first_name=body.first_name,
        last_name=body.last_name,
        degree=body.degree,
        specialty=body.specialty,
        country=body.country,
        language=body.language,
        time_zone=body.time_zone,
        email_notifications=dict.fromkeys(NOTIFICATION_KINDS, True),
    )
    db.add(account)
    address = body.practice.address
    db.add(Practice(doctor_id=account.id, name=body.practice.name, phone=body.practice.phone, **address.model_dump()))
    publish_registered(db, account, body.practice.name)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "an account with this e-mail already exists") from None
    return account


@router.post("/auth/login", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, response: Response, db: Database) -> TokenResponse:
    """Sign in: a bearer token and, for browsers, the session cookie. The same 401 answers an unknown e-mail and a
    wrong password; too many failures for the e-mail or the client address give 429 with ``Retry-After``."""
    settings: Settings = request.app.state.runtime.settings
    email, address, now = body.email.lower(), client_address(request), utcnow()
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    # the attempt counts as a failure before the password is checked, so that guesses sent at the same moment
    # cannot all pass the limit together; it stays a failure unless the password is right
    attempt = LoginFailure(email=email, client_address=address, at=now)
    db.add(attempt)
    await db.commit()
    try:
        await _refuse_when_throttled(db, settings, email, address, window_start)
    except HTTPException:
        await db.delete(attempt)  # a refused attempt does not extend the lock
        await db.commit()
        raise
    account = (await db.execute(select(Account).where(Account.email == email))).scalar_one_or_none()
    known_hash = account.password_hash if account else None
    if not await asyncio.to_thread(verify_password, known_hash, body.password):
        raise HTTPException(401, INVALID_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    assert account is not None
    token, csrf = new_token(SESSION_TOKEN_PREFIX), new_token("")
    db.add(
        Session(
            account_id=account.id,
            token_digest=digest(token),
            csrf_digest=digest(csrf),
            client_address=address,
            expires_at=now + timedelta(seconds=settings.session_ttl_seconds),
        )
    )
    await db.execute(delete(LoginFailure).where(LoginFailure.email == email))
    await db.commit()
    response.set_cookie(
        settings.session_cookie_name,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return TokenResponse(access_token=token, expires_in=settings.session_ttl_seconds, csrf_token=csrf)


async def _refuse_when_throttled(db: Database, settings: Settings, email: str, address: str, since: datetime) -> None:
    recent = LoginFailure.at >= since
    by_email = select(func.count(), func.min(LoginFailure.at)).where(recent, LoginFailure.email == email)
    by_address = select(func.count(), func.min(LoginFailure.at)).where(recent, LoginFailure.client_address == address)
    (email_count, email_oldest), (address_count, address_oldest) = (
        (await db.execute(by_email)).one(),
        (await db.execute(by_address)).one(),
    )
    blocked = [
        oldest
        for count, oldest, limit in (
            (email_count, email_oldest, settings.login_max_failures_per_account),
            (address_count, address_oldest, settings.login_max_failures_per_address),
        )
        if count > limit  # the attempt being made is among them
    ]
    if blocked:
        reopens = max(blocked) + timedelta(seconds=settings.login_window_seconds)
        retry_after = max(1, math.ceil((reopens - utcnow()).total_seconds()))
        raise HTTPException(429, "too many failed sign-ins; try again later", headers={"Retry-After": str(retry_after)})


@router.post("/auth/logout", status_code=204)
async def logout(caller: CurrentCaller, request: Request, response: Response, db: Database) -> None:
    """End the caller's session (the token and the cookie stop working)."""
    if caller.session_id is None:
        raise HTTPException(400, "an API key has no session to end; revoke the key instead")
    session = await db.get(Session, caller.session_id)
    assert session is not None
    session.revoked_at = utcnow()
    await db.commit()
    response.delete_cookie(request.app.state.runtime.settings.session_cookie_name, path="/")
