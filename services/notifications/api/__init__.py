"""HTTP routes of the notifications service, under ``/v1``: the doctor's carousel and the staff's broadcasts."""

from fastapi import APIRouter

from services.notifications.api import broadcasts, carousel

router = APIRouter(prefix="/v1", tags=["notifications"])
router.include_router(carousel.router)
router.include_router(broadcasts.router)
