"""HTTP routes of the orders service, under ``/v1``."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["orders"])
