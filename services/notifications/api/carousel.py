"""Routes of the doctor's carousel (API.md "Cases": ``/notifications``): list, read, dismiss."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.notifications.api.common import Database, DoctorId, Now
from services.notifications.carousel import active_page, mark
from services.notifications.schemas import NotificationOut, NotificationPage
from shared.paging import PageSize
from shared.problems import ProblemRoute, not_found

router = APIRouter(route_class=ProblemRoute)
MAX_CAROUSEL_PAGE = 50
CarouselPage = Annotated[int, Query(ge=1, le=MAX_CAROUSEL_PAGE, description="from 1")]


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    doctor: DoctorId, session: Database, now: Now, page: CarouselPage = 1, page_size: PageSize = 50
) -> dict[str, Any]:
    """The doctor's active notifications and the broadcasts reaching them, newest first: ``{items: [{id, kind,
    title, body, case_id, severity, created_at, expires_at, read}], page, page_size, total}``, worded in the
    doctor's language. An expired or dismissed one is never listed again. Pages go up to :data:`MAX_CAROUSEL_PAGE`
    (notifications expire: a carousel is never that long). 403 for callers other than doctors."""
    return await active_page(session, doctor, now, page, page_size)


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
async def read_notification(notification_id: str, doctor: DoctorId, session: Database, now: Now) -> dict[str, Any]:
    """Mark the notification read (again: no change) → 200 the notification; 404 when the doctor has no such
    active notification (expired, dismissed, another doctor's or none)."""
    async with session.begin():
        item = await mark(session, doctor, notification_id, now, dismiss=False)
    if item is None:
        raise not_found("active notification")
    return item


@router.post("/notifications/{notification_id}/dismiss", status_code=204)
async def dismiss_notification(notification_id: str, doctor: DoctorId, session: Database, now: Now) -> Response:
    """Dismiss the notification for good → 204 (again: 204); 404 when the doctor has no such notification, or it
    expired."""
    async with session.begin():
        item = await mark(session, doctor, notification_id, now, dismiss=True)
    if item is None:
        raise not_found("active notification")
    return Response(status_code=204)
