"""HTTP routes of the cases service, under ``/v1``."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["cases"])
