"""The doctor's notifications and the staff's broadcasts (API.md ``/notifications``, ``/staff/notifications``),
relayed to the notifications service with the caller's internal token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from services.gateway.auth import Database, Doctor, Staff
from services.gateway.downstream import forward, service_path
from services.gateway.models import Account
from services.gateway.paging import Paging
from services.notifications.schemas import BroadcastIn, BroadcastOut, BroadcastPage, NotificationOut, NotificationPage
from shared.problems import ProblemRoute, invalid

router = APIRouter(tags=["notifications"], route_class=ProblemRoute)
NOT_FOUND = {404: {"description": "no such active notification of the doctor's"}}


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(request: Request, caller: Doctor, _paging: Paging) -> Response:
    """The doctor's active notifications and the staff broadcasts reaching them, newest first: ``{items: [{id, kind,
    title, body, case_id?, severity, created_at, expires_at, read}], page, page_size, total}``. An expired or
    dismissed notification is never listed again; ``page`` up to 50."""
    return await forward(request, caller, "notifications", "/v1/notifications")


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut, responses=NOT_FOUND)
async def read_notification(notification_id: str, request: Request, caller: Doctor) -> Response:
    """Mark the notification read → 200 the notification; 404 when the doctor has no such active notification."""
    return await forward(request, caller, "notifications", service_path("/v1/notifications/{}/read", notification_id))


@router.post("/notifications/{notification_id}/dismiss", status_code=204, responses=NOT_FOUND)
async def dismiss_notification(notification_id: str, request: Request, caller: Doctor) -> Response:
    """Dismiss the notification for good → 204 (again: 204); 404 when the doctor has no such notification."""
    path = service_path("/v1/notifications/{}/dismiss", notification_id)
    return await forward(request, caller, "notifications", path)


@router.post("/staff/notifications", status_code=201, tags=["staff"], response_model=BroadcastOut)
async def send_broadcast(request: Request, caller: Staff, body: BroadcastIn, db: Database) -> Response:
    """``{title, body, audience: "all" | [doctor id, ...], expires_at, severity?}`` → 201 the broadcast, in the
    carousel of each doctor it reaches until it expires or is withdrawn; 422 names an ``expires_at`` not in the
    future and each id that is not a doctor's account. Accepts an ``Idempotency-Key``."""
    if isinstance(body.audience, list):
        named = [str(doctor_id) for doctor_id in body.audience]
        doctors = select(Account.id).where(Account.id.in_(named), Account.role == "doctor")  # type: ignore[attr-defined]
        known = set((await db.execute(doctors)).scalars())
        unknown = [index for index, doctor_id in enumerate(named) if doctor_id not in known]
        if unknown:
            raise invalid([{"field": f"audience.{index}", "message": "no doctor with this id"} for index in unknown])
    await db.close()
    return await forward(request, caller, "notifications", "/v1/staff/notifications", body.model_dump(mode="json"))


@router.get("/staff/notifications", tags=["staff"], response_model=BroadcastPage)
async def list_broadcasts(request: Request, caller: Staff, _paging: Paging) -> Response:
    """Every broadcast, newest first, withdrawn and expired ones included: ``{items, page, page_size, total}``."""
    return await forward(request, caller, "notifications", "/v1/staff/notifications")


@router.delete("/staff/notifications/{broadcast_id}", status_code=204, tags=["staff"])
async def withdraw_broadcast(broadcast_id: str, request: Request, caller: Staff) -> Response:
    """Withdraw the broadcast from every carousel now → 204; 404 when there is none."""
    return await forward(request, caller, "notifications", service_path("/v1/staff/notifications/{}", broadcast_id))
