"""HTTP routes of the notifications service, under ``/v1``."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["notifications"])
