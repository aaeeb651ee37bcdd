"""A doctor's collaborators: colleagues invited by e-mail to work on the cases the doctor shares with them
(API.md "Identity and account", DOMAIN.md "collaborator"). Only doctors have collaborators."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.gateway.api.practices import own_rows
from services.gateway.audit import owned
from services.gateway.auth import Database, Doctor
from services.gateway.models import Account, Collaborator
from services.gateway.paging import Paging, paged
from services.gateway.schemas import CollaboratorIn, CollaboratorOut, Page
from services.gateway.settings import SERVICE
from shared.events.doctors import CollaboratorInvited
from shared.messaging.outbox import add_event

router = APIRouter(tags=["account"])


async def _registered(db: Database, emails: list[str]) -> set[str]:
    """Those of ``emails`` that belong to a doctor account (only a doctor account can act as a collaborator)."""
    if not emails:
        return set()
    found = await db.execute(select(Account.email).where(Account.email.in_(emails), Account.role == "doctor"))
    return set(found.scalars())


def _out(collaborator: Collaborator, registered: set[str]) -> CollaboratorOut:
    return CollaboratorOut(
        id=collaborator.id,
        email=collaborator.email,
        permissions=list(collaborator.permissions),
        created_at=collaborator.created_at,
        registered=collaborator.email in registered,
    )


@router.get("/account/collaborators", response_model=Page[CollaboratorOut])
async def list_collaborators(caller: Doctor, db: Database, paging: Paging) -> Page[CollaboratorOut]:
    """The caller's collaborators, oldest invitation first."""
    page = await paged(db, own_rows(Collaborator, caller), paging)
    registered = await _registered(db, [row.email for row in page.items])
    page.items = [_out(row, registered) for row in page.items]
    return page


@router.post("/account/collaborators", status_code=201, response_model=CollaboratorOut)
async def invite_collaborator(body: CollaboratorIn, caller: Doctor, db: Database) -> CollaboratorOut:
    """Invite a colleague by e-mail and publish ``collaborator.invited`` with the change; 422 when the e-mail is the
    caller's own, 409 when that e-mail is already a collaborator of the caller."""
    email = body.email.lower()
    if email == caller.account.email.lower():
        raise HTTPException(422, "you cannot invite yourself as a collaborator")
    taken = select(Collaborator.id).where(Collaborator.doctor_id == caller.doctor_id, Collaborator.email == email)
    if (await db.execute(taken)).first() is not None:
        raise HTTPException(409, "this e-mail is already one of your collaborators")
    collaborator = Collaborator(doctor_id=caller.doctor_id, email=email, permissions=list(body.permissions))
    db.add(collaborator)
    invited = CollaboratorInvited(
        doctor_id=caller.doctor_id, collaborator_id=collaborator.id, email=email, permissions=collaborator.permissions
    )
    add_event(db, invited, source=SERVICE, subject=collaborator.id, aggregate_version=1)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "this e-mail is already one of your collaborators") from None
    return _out(collaborator, await _registered(db, [email]))


@router.delete("/account/collaborators/{collaborator_id}", status_code=204)
async def remove_collaborator(collaborator_id: str, request: Request, caller: Doctor, db: Database) -> None:
    """Remove one of the caller's collaborators; 404 when there is no such collaborator of the caller's (an
    attempt on another doctor's collaborator is written to that doctor's audit log)."""
    collaborator = await owned(request, db, Collaborator, collaborator_id, caller)
    await db.delete(collaborator)
    await db.commit()
