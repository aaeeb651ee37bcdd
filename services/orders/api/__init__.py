"""HTTP routes of the orders service, under ``/v1`` (the gateway exposes them under ``/api/v1``): one module per
area. Every route needs the internal token (checked before routing); ownership is enforced here from its
``doctor_id``."""

from fastapi import APIRouter

from services.orders.api import modifications, orders, patients, submission
from shared.problems import ProblemRoute

router = APIRouter(prefix="/v1", tags=["orders"], route_class=ProblemRoute)
for area in (patients, orders, submission, modifications):
    router.include_router(area.router)
