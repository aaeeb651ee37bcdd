"""HTTP routes of the documents service, under ``/v1``; every route needs the internal token."""

from fastapi import APIRouter

from services.documents.api import documents, labels
from shared.problems import CaseRoute

router = APIRouter(prefix="/v1", tags=["documents"], route_class=CaseRoute)
for area in (documents, labels):
    router.include_router(area.router)
