"""The gateway's public HTTP API under ``/api/v1``: one module per area of API.md."""

from fastapi import APIRouter

from services.gateway.api import (
    account,
    admin,
    api_keys,
    audit_log,
    auth,
    cases,
    collaborators,
    documents,
    notifications,
    orders,
    patient_links,
    phones,
    practices,
    preferences,
    staff,
)

router = APIRouter(prefix="/api/v1")
for area in (
    auth,
    account,
    practices,
    phones,
    preferences,
    api_keys,
    collaborators,
    audit_log,
    admin,
    orders,
    cases,
    documents,
    notifications,
    patient_links,
    staff,
):
    router.include_router(area.router)
