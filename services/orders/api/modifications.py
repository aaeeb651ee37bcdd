"""Route of modification orders: a new draft on an existing case (API.md "Patients and orders")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.api.common import Database, DoctorId, linked_patient
from services.orders.api.orders import DraftBody
from services.orders.api.submission import refuse_closed_case
from services.orders.drafts import deep_merge, read_changes
from services.orders.events import next_case_version, publish_draft_created
from services.orders.models import Order
from services.orders.numbering import next_order_number
from services.orders.schemas import OrderOut
from services.orders.views import order_body, patient_data
from shared.db import utcnow
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.problems import ProblemRoute, not_found

router = APIRouter(route_class=ProblemRoute)


@router.post("/cases/{case_id}/modifications", status_code=201, response_model=OrderOut)
async def create_modification(
    case_id: str, payload: DraftBody, request: Request, doctor: DoctorId, session: Database
) -> JSONResponse:
    """Start a modification of a case ``{reason, source: new_scans|existing_step, step?, instructions}`` (any subset)
    → 201 the draft (``kind: "modification"``, the case's patient, a new order number); publishes
    ``order.draft_created`` with ``opens_case: false``. 404 unless the case has a submitted order of the doctor's;
    409 when the case is expired or cancelled; 422 for an unknown field; 403 for staff. ``Idempotency-Key`` makes a
    retry answer the first response and create nothing."""
    changes = read_changes("modification", payload)

    async def create(db: AsyncSession) -> tuple[int, Any]:
        query = (
            select(Order)
            .where(Order.case_id == case_id, Order.doctor_id == doctor, Order.status == "submitted")  # type: ignore[arg-type]
            .order_by(Order.submitted_at)
            .limit(1)
        )
        first = (await db.execute(query)).scalar_one_or_none()
        if first is None:
            raise not_found("case")
        await refuse_closed_case(db, case_id)
        number = await next_order_number(db, utcnow().year)
        now = utcnow()  # after the counter's lock: creation times follow the numbers
        order = Order(
            doctor_id=doctor,
            case_id=case_id,
            order_number=number,
            kind="modification",
            patient_id=first.patient_id,
            body=deep_merge({}, changes),
            created_at=now,
            updated_at=now,
        )
        db.add(order)
        await db.flush()
        patient = await linked_patient(db, order)
        publish_draft_created(db, order, patient_data(order, patient), await next_case_version(db, case_id))
        return 201, order_body(order, patient)

    request_hash = fingerprint(request, payload)
    return await run_idempotent(session, doctor, key_of(request), request_hash, create)
