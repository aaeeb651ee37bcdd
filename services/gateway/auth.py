"""Who is calling: FastAPI dependencies that authenticate a request and check its role.

A request proves who it is with ``Authorization: Bearer <token>`` (a session token from sign-in, or an API key) or,
for the web client, with the session cookie; a cookie-authenticated request that changes state must also carry the
session's CSRF token in ``X-CSRF-Token`` (OWASP "synchronizer token" pattern). Unknown, expired or revoked
credentials get 401 with ``WWW-Authenticate: Bearer``; an authenticated caller without the needed role gets 403.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.audit import record
from services.gateway.models import Account, ApiKey, Collaborator, Session
from services.gateway.security import API_KEY_PREFIX
from shared.credentials import digest, same_digest
from shared.db import utcnow
from shared.internal_token import Collaboration, Principal
from shared.service import db_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

Database = Annotated[AsyncSession, Depends(db_session)]


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the account, how it proved itself, from which client address, and (for the case
    routes, see :func:`with_collaborations`) the other doctors whose collaborator the account is."""

    account: Account
    via: Literal["bearer", "cookie", "api_key"]
    client_address: str
    session_id: str | None = None
    api_key: ApiKey | None = None
    collaborations: tuple[Collaboration, ...] = ()

    @property
    def principal(self) -> Principal:
        """What the internal token will say of this caller (doctor id only for doctors)."""
        account_id = uuid.UUID(self.account.id)
        role = self.account.role
        doctor_id = account_id if role == "doctor" else None
        return Principal(account_id, role, doctor_id, self.collaborations)  # type: ignore[arg-type]

    @property
    def doctor_id(self) -> str:
        """The doctor whose data the caller works on (their own account)."""
        return self.account.id


def client_address(request: Request) -> str:
    """The address the request came from (the peer of the connection)."""
    return request.client.host if request.client else "unknown"


def unauthorized(detail: str = "valid credentials are required") -> HTTPException:
    """401 with the challenge of RFC 6750."""
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request, db: Database) -> Caller:
    """The caller of ``request``; raises 401 (no, bad, expired or revoked credentials) or 403 (missing CSRF)."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and credential:
        if credential.startswith(API_KEY_PREFIX):
            return await _by_api_key(db, credential, request)
        return await _by_session(db, credential, request, via="bearer")
    if scheme:
        raise unauthorized("use the Bearer scheme")
    cookie = request.cookies.get(request.app.state.runtime.settings.session_cookie_name)
    if cookie:
        return await _by_session(db, cookie, request, via="cookie")
    raise unauthorized()


async def _by_session(db: AsyncSession, token: str, request: Request, via: Literal["bearer", "cookie"]) -> Caller:
    row = (
        await db.execute(
            select(Session, Account)
            .join(Account, Account.id == Session.account_id)
            .where(Session.token_digest == digest(token))
        )
    ).first()
    if row is None:
        raise unauthorized()
    session, account = row
    if session.revoked_at is not None or session.expires_at <= utcnow():
        raise unauthorized("the session has ended; sign in again")
    if via == "cookie" and request.method not in SAFE_METHODS:
        csrf = request.headers.get(CSRF_HEADER, "")
        if not csrf or not same_digest(csrf, session.csrf_digest):
            raise HTTPException(403, f"the {CSRF_HEADER} header is missing or does not match the session")
    return Caller(account, via, client_address(request), session_id=session.id)


async def _by_api_key(db: AsyncSession, key: str, request: Request) -> Caller:
    row = (
        await db.execute(
            select(ApiKey, Account)
            .join(Account, Account.id == ApiKey.account_id)
            .where(ApiKey.secret_digest == digest(key))
        )
    ).first()
    if row is None or row[0].revoked_at is not None:
        raise unauthorized("unknown or revoked API key")
    api_key, account = row
    needed = "read" if request.method in SAFE_METHODS else "write"
    if needed not in api_key.scopes:
        raise HTTPException(403, f"this API key lacks the '{needed}' scope")
    api_key.last_used_at = utcnow()
    await db.commit()
    return Caller(account, "api_key", client_address(request), api_key=api_key)


CurrentCaller = Annotated[Caller, Depends(authenticate)]


def require_role(*roles: str) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting only callers whose account role is one of ``roles`` (403 otherwise)."""

    async def check(request: Request, caller: CurrentCaller) -> Caller:
        if caller.account.role not in roles:
            await record(request, caller, "route.access", "route", request.url.path, "denied")
            raise HTTPException(403, f"this route is for {' or '.join(roles)} accounts")
        return caller

    return check


async def require_session(caller: CurrentCaller) -> Caller:
    """A dependency refusing API keys (403): for managing credentials or changing the account, a person must be
    signed in."""
    if caller.via == "api_key":
        raise HTTPException(403, "sign in to manage credentials or change the account; API keys cannot")
    return caller


Doctor = Annotated[Caller, Depends(require_role("doctor"))]
Admin = Annotated[Caller, Depends(require_role("admin"))]
Staff = Annotated[Caller, Depends(require_role("staff", "admin"))]
SignedIn = Annotated[Caller, Depends(require_session)]


async def with_collaborations(caller: Caller, db: AsyncSession) -> Caller:
    """The caller with the collaborations of their account: every other doctor's invitation sent to the account's
    e-mail (a doctor account acts as collaborator on the cases those doctors share with that invitation). The
    cases service checks them against each case; removing the invitation ends the access at the next request."""
    if caller.account.role != "doctor":
        return caller
    invitations = await db.execute(
        select(Collaborator).where(
            Collaborator.email == caller.account.email.lower(), Collaborator.doctor_id != caller.account.id
        )
    )
    collaborations = tuple(
        Collaboration(row.id, row.doctor_id, tuple(row.permissions)) for row in invitations.scalars()
    )
    return dataclasses.replace(caller, collaborations=collaborations)


def case_role(*roles: str) -> Callable[[Request, Caller, AsyncSession], Awaitable[Caller]]:
    """A dependency admitting ``roles`` (as :func:`require_role`) and giving the caller its collaborations, for the
    routes relayed to the cases service."""
    admit = require_role(*roles)

    async def check(request: Request, caller: CurrentCaller, db: Database) -> Caller:
        return await with_collaborations(await admit(request, caller), db)

    return check


CaseDoctor = Annotated[Caller, Depends(case_role("doctor"))]
CaseActor = Annotated[Caller, Depends(case_role("doctor", "staff", "admin"))]
"""A doctor (with collaborations) or the lab: for the moves both may make (hold, resume, cancel)."""
