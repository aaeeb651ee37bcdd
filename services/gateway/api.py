"""HTTP routes of the gateway service, under ``/api/v1``."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["gateway"])
