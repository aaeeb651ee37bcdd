"""The gateway's public HTTP API under ``/api/v1``: one module per area of API.md."""

from fastapi import APIRouter

from services.gateway.api import account, auth

router = APIRouter(prefix="/api/v1")
for area in (auth, account):
    router.include_router(area.router)
