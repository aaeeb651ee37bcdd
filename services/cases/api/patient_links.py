"""Routes of the patient link (API.md "Cases"; DOMAIN.md "patient link"): a revocable, expiring link, optionally
protected by a password, that shows the patient the latest treatment setup with their initials only.

A case has at most one active link: creating one revokes the one before. The token is 256 random bits shown once,
in the creation's answer, and kept as a SHA-256 digest; the password as an argon2id hash. Wrong passwords are counted
per link and per client address (the gateway passes the visitor's address in :data:`CLIENT_ADDRESS_HEADER`); past
the limits the link answers 429 with ``Retry-After`` until the window has moved on. Every view counts on the link;
the gateway writes it to the doctor's audit log.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.api.access import Caller, Database, Viewer, find_case
from services.cases.api.pages import active_link, latest_setup
from services.cases.models import Case, Doctor, PatientLink, PatientLinkFailure
from services.cases.schemas import PatientLinkIn
from services.cases.settings import Settings
from services.cases.views import link_state, rfc3339
from shared.credentials import digest, hash_password, new_token, verify_password
from shared.db import utcnow
from shared.http import current_principal
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.problems import CaseRoute, ProblemError, not_found

router = APIRouter(route_class=CaseRoute)
CLIENT_ADDRESS_HEADER = "X-Client-Address"
PASSWORD_HEADER = "X-Link-Password"


def _settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


@router.post("/cases/{case_id}/patient-link", status_code=201)
async def create_link(
    case_id: str, request: Request, viewer: Caller, session: Database, body: PatientLinkIn | None = None
) -> JSONResponse:
    """A new patient link → 201 ``{token, expires_at, password_protected, created_at}`` (the token appears in this
    answer only); the case's previous link stops working. Only the treating doctor; 409 while no setup has been
    published (there is nothing to show yet) and once the case is cancelled or expired; 422 for a lifetime past the
    configured maximum."""
    body = body or PatientLinkIn()
    settings = _settings(request)
    days = body.expires_in_days or settings.patient_link_default_days
    if days > settings.patient_link_max_days:
        raise ProblemError(
            422,
            "Invalid input",
            "1 field(s) are missing or invalid",
            errors=[{"field": "expires_in_days", "message": f"at most {settings.patient_link_max_days} days"}],
        )
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None

    async def work(db: AsyncSession) -> tuple[int, object]:
        access = await find_case(db, case_id, viewer, lock=True)
        access.require("owner")
        if access.case.status in ("cancelled", "expired"):
            raise access.conflict(viewer, f"the case is {access.case.status}: it shows the patient nothing any more")
        if await latest_setup(db, access.case) is None:
            raise access.conflict(
                viewer, "no treatment setup has been published yet: there is nothing to show the patient"
            )
        now, token = utcnow(), new_token()
        await db.execute(
            update(PatientLink)
            .where(PatientLink.case_id == case_id, PatientLink.revoked_at.is_(None))
            .values(revoked_at=now)
        )  # type: ignore[arg-type,union-attr]
        link = PatientLink(
            case_id=case_id,
            token_digest=digest(token),
            password_hash=password_hash,
            created_at=now,
            created_by=str(viewer.principal.user_id),
            expires_at=now + timedelta(days=days),
        )
        db.add(link)
        return 201, {
            "token": token,
            "expires_at": rfc3339(link.expires_at),
            "password_protected": password_hash is not None,
            "created_at": rfc3339(now),
        }

    sent = body.model_dump(mode="json", exclude={"password"}) | {"password": bool(body.password)}
    return await run_idempotent(
        session, str(viewer.principal.user_id), key_of(request), fingerprint(request, sent), work
    )


@router.get("/cases/{case_id}/patient-link")
async def read_link(case_id: str, viewer: Caller, session: Database) -> JSONResponse:
    """The case's active link: ``{created_at, expires_at, password_protected, views, last_viewed_at}`` (never the
    token); 404 when it has none."""
    access = await find_case(session, case_id, viewer)
    access.require("owner")
    state = link_state(await active_link(session, access.case), utcnow())
    if state is None:
        raise not_found("active patient link for this case")
    return JSONResponse(state)


@router.delete("/cases/{case_id}/patient-link", status_code=204)
async def revoke_link(case_id: str, viewer: Caller, session: Database) -> Response:
    """Revoke the case's active link → 204; 404 when it has none."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner")
    link = await active_link(session, access.case)
    if link is None:
        raise not_found("active patient link for this case")
    link.revoked_at = utcnow()
    await session.commit()
    return Response(status_code=204)


def initials(first_name: str | None, last_name: str | None) -> str:
    """``"Z. L."`` for Zoë Lefèvre: the first letter of each name (DOMAIN.md: a patient link shows initials only)."""
    return " ".join(f"{name.strip()[0].upper()}." for name in (first_name, last_name) if name and name.strip())


async def _throttled(session: AsyncSession, settings: Settings, link: PatientLink, address: str) -> None:
    """429 with ``Retry-After`` while the link or the address has used up its wrong passwords in the window."""
    now = utcnow()
    since = now - timedelta(seconds=settings.patient_link_window_seconds)
    for column, value, limit in (
        (PatientLinkFailure.link_id, link.id, settings.patient_link_max_failures_per_link),
        (PatientLinkFailure.client_address, address, settings.patient_link_max_failures_per_address),
    ):
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(PatientLinkFailure.at)).where(
                    column == value, PatientLinkFailure.at > since
                )
            )
        ).one()
        if count >= limit:
            wait = math.ceil((oldest + timedelta(seconds=settings.patient_link_window_seconds) - now).total_seconds())
            raise ProblemError(
                429,
                "Too Many Requests",
                "too many wrong passwords for this link; try again later",
                headers={"Retry-After": str(max(wait, 1))},
            )


@router.get("/patient-links/{token}")
async def view_link(
    token: str,
    request: Request,
    session: Database,
    password: Annotated[str | None, Header(alias=PASSWORD_HEADER, max_length=128)] = None,
    client_address: Annotated[str, Header(alias=CLIENT_ADDRESS_HEADER, max_length=64)] = "unknown",
) -> JSONResponse:
    """What the patient sees: ``{case_id, doctor_id, patient: {initials}, doctor: {name}, setup, expires_at}`` (the
    gateway shows the patient all but the ids). 404 for an unknown, revoked or expired link; 401 when the link has a
    password and :data:`PASSWORD_HEADER` is missing or wrong (each wrong one counted); 429 past the limits.
    Only for the gateway's anonymous ``patient`` token."""
    if current_principal(request).role != "patient":
        raise HTTPException(403, "this route serves the public patient-link page")
    settings = _settings(request)
    link = (
        await session.execute(select(PatientLink).where(PatientLink.token_digest == digest(token)))
    ).scalar_one_or_none()
    now = utcnow()
    if link is None or link.revoked_at is not None or link.expires_at <= now:
        raise not_found("patient link")
    case = await session.get(Case, link.case_id)
    assert case is not None
    request.state.viewer = Viewer(current_principal(request), case_id=case.id, case_owner=case.doctor_id)
    await _throttled(session, settings, link, client_address)
    if link.password_hash is not None:
        right = password is not None and await asyncio.to_thread(verify_password, link.password_hash, password)
        if not right:
            if password is not None:
                session.add(PatientLinkFailure(link_id=link.id, client_address=client_address, at=now))
                await session.commit()
            detail = "this link needs its password" if password is None else "the password is wrong"
            raise ProblemError(
                401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Link-Password realm="patient link"'}
            )
    setup = await latest_setup(session, case)
    doctor = await session.get(Doctor, case.doctor_id)
    viewed = {"views": PatientLink.views + 1, "last_viewed_at": now}
    await session.execute(update(PatientLink).where(PatientLink.id == link.id).values(**viewed))  # type: ignore[arg-type]
    await session.commit()
    return JSONResponse(
        {
            "case_id": case.id,
            "doctor_id": case.doctor_id,
            "patient": {"initials": initials(case.patient_first_name, case.patient_last_name)},
            "doctor": {"name": f"Dr {doctor.first_name} {doctor.last_name}" if doctor else None},
            "setup": None
            if setup is None
            else {
                "version": setup.version,
                "published_at": rfc3339(setup.published_at),
                "state": setup.state,
                "steps_upper": setup.steps_upper,
                "steps_lower": setup.steps_lower,
            },
            "expires_at": rfc3339(link.expires_at),
        }
    )
