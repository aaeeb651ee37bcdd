"""HTTP routes of the cases service, under ``/v1`` (the gateway exposes them under ``/api/v1``): one module per area.
Every route needs the internal token (checked before routing); who may see and do what is ``access``'s."""

from fastapi import APIRouter

from services.cases.api import cases, dashboard, lab, labels, patient_links, setups
from shared.problems import CaseRoute

router = APIRouter(prefix="/v1", tags=["cases"], route_class=CaseRoute)
for area in (cases, setups, lab, labels, patient_links, dashboard):
    router.include_router(area.router)
