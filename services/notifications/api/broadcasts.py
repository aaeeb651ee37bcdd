"""Routes of the staff's broadcasts (API.md "Staff (lab) API": ``/staff/notifications``): send, list, withdraw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.api.common import Database, Now, StaffId
from services.notifications.kinds import BROADCAST
from services.notifications.models import Broadcast, BroadcastRecipient
from services.notifications.schemas import BroadcastIn, BroadcastOut, BroadcastPage
from services.notifications.settings import SERVICE
from shared.events.notifications import NotificationCreated
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.messaging.outbox import add_event
from shared.paging import PageNumber, PageSize
from shared.problems import ProblemRoute, invalid, not_found

router = APIRouter(route_class=ProblemRoute)


async def _out(session: AsyncSession, broadcast: Broadcast) -> dict[str, Any]:
    audience: Any = "all"
    if not broadcast.audience_all:
        listed = select(BroadcastRecipient.doctor_id).where(BroadcastRecipient.broadcast_id == broadcast.id)
        audience = sorted((await session.execute(listed)).scalars())
    return BroadcastOut.model_validate({**broadcast.model_dump(), "audience": audience}).model_dump(mode="json")


def _check_expiry(body: BroadcastIn, now: datetime) -> None:
    if body.expires_at <= now:
        raise invalid([{"field": "expires_at", "message": "must be in the future"}])


@router.post("/staff/notifications", status_code=201, response_model=BroadcastOut)
async def send_broadcast(body: BroadcastIn, request: Request, staff: StaffId, session: Database, now: Now) -> Response:
    """``{title, body, audience: "all" | [doctor id, ...], expires_at, severity?}`` → 201 the broadcast; it is in
    the carousel of every doctor it reaches (doctors who register later included, for ``"all"``) until it expires
    or is withdrawn; 422 for an ``expires_at`` not in the future. The doctor ids are the gateway's to check (it
    keeps the accounts; this service may not have heard of a doctor who registered a moment ago). Accepts an
    ``Idempotency-Key``. 403 for callers other than staff and admins."""
    key = key_of(request)
    _check_expiry(body, now)

    async def create(session: AsyncSession) -> tuple[int, Any]:
        broadcast = Broadcast(
            title=body.title,
            body=body.body,
            severity=body.severity,
            audience_all=body.audience == "all",
            created_by=staff,
            created_at=now,
            expires_at=body.expires_at,
        )
        session.add(broadcast)
        recipients = [] if body.audience == "all" else [str(doctor_id) for doctor_id in body.audience]
        session.add_all(BroadcastRecipient(broadcast_id=broadcast.id, doctor_id=doctor_id) for doctor_id in recipients)
        announced = NotificationCreated(
            notification_id=broadcast.id,
            kind=BROADCAST,
            doctor_id=None,
            audience="all" if body.audience == "all" else recipients,
            severity=body.severity,
            title=body.title,
            created_at=now,
            expires_at=body.expires_at,
        )
        add_event(session, announced, source=SERVICE, subject=broadcast.id, aggregate_version=1)
        await session.flush()
        return 201, await _out(session, broadcast)

    return await run_idempotent(session, staff, key, fingerprint(request, body.model_dump(mode="json")), create)


@router.get("/staff/notifications", response_model=BroadcastPage)
async def list_broadcasts(
    _staff: StaffId, session: Database, page: PageNumber = 1, page_size: PageSize = 50
) -> dict[str, Any]:
    """Every broadcast, newest first, withdrawn and expired ones included: ``{items, page, page_size, total}``."""
    total = (await session.execute(select(func.count()).select_from(Broadcast))).scalar_one()
    newest = (Broadcast.created_at.desc(), Broadcast.id.desc())  # type: ignore[attr-defined]
    found = await session.execute(select(Broadcast).order_by(*newest).offset((page - 1) * page_size).limit(page_size))
    items = [await _out(session, broadcast) for broadcast in found.scalars()]
    return {"items": items, "page": page, "page_size": page_size, "total": total}


@router.delete("/staff/notifications/{broadcast_id}", status_code=204)
async def withdraw_broadcast(broadcast_id: str, _staff: StaffId, session: Database, now: Now) -> Response:
    """Withdraw the broadcast from every carousel now → 204 (again: no change); 404 when there is none."""
    async with session.begin():
        broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
        if broadcast is None:
            raise not_found("broadcast")
        broadcast.withdrawn_at = broadcast.withdrawn_at or now
    return Response(status_code=204)
