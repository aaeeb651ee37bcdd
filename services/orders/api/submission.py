"""Route of submission: a complete draft becomes an order of the lab (API.md "Patients and orders").

The draft → submitted change is one conditional ``UPDATE orders ... WHERE status = 'draft' AND version = <read>``:
of two concurrent submissions exactly one changes a row and publishes ``order.submitted``; the other matches none
and answers 409, as does any later one. The version condition also makes sure the order submitted is the one that
was checked (a PATCH landing in between makes the submission answer 409 instead).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.api.common import (
    Database,
    DoctorId,
    find_order,
    linked_patient,
    lost_race,
    not_a_draft,
)
from services.orders.events import next_case_version, publish_submitted
from services.orders.models import Case, Order, Patient
from services.orders.schemas import SubmissionOut
from services.orders.validation import check_order, incomplete_sections, today_anywhere
from services.orders.views import order_body, patient_data
from shared.db import utcnow
from shared.problems import ProblemError, ProblemRoute, invalid
from shared.search import search_key

router = APIRouter(route_class=ProblemRoute)
CLOSED_CASE_STATUSES = ("expired", "cancelled")
MODIFIABLE_CASE_STATUSES = ("in_production", "shipped", "last_phase_delivered")
"""The case statuses from which a submitted modification order starts a new setup (DOMAIN.md "Case status")."""


@router.post("/orders/{order_id}/submit", status_code=202, response_model=SubmissionOut)
async def submit_order(order_id: str, doctor: DoctorId, session: Database) -> JSONResponse:
    """Check the whole order and submit it → 202 ``{order, case_id, case_status}`` (the status the cases service last
    announced: see ``SubmissionOut``); publishes
    ``order.submitted``. A new patient typed into the draft is created now. 422 problem with ``errors: [{field,
    message}]`` listing every missing or invalid field at once (and ``incomplete_sections``); 409 once submitted,
    when the case is expired or cancelled (a modification: unless the case is in production, shipped or its last
    phase delivered), or when the draft changed meanwhile; 404 when not the doctor's; 403 for staff.
    ``Idempotency-Key`` is not needed: a repeated submission is a 409."""
    order = await find_order(session, order_id, doctor)
    if order.status != "draft":
        raise not_a_draft(order, "submitted")
    await refuse_closed_case(session, order.case_id)
    if order.kind == "modification":
        await refuse_unmodifiable_case(session, order.case_id)
    patient = await linked_patient(session, order)
    person = patient_data(order, patient)
    problems = check_order(order.kind, order.body, person, today_anywhere())
    if problems:
        raise invalid(
            [{"field": problem.field, "message": problem.message} for problem in problems],
            title="The order is incomplete",
            incomplete_sections=incomplete_sections(order.kind, problems),
        )
    now = utcnow()
    body = {key: value for key, value in order.body.items() if key != "patient"}
    claimed = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "draft", Order.version == order.version)  # type: ignore[arg-type]
        .values(status="submitted", body=body, version=order.version + 1, submitted_at=now, updated_at=now)
    )
    if claimed.rowcount != 1:
        await session.rollback()
        raise await lost_race(session, order, "submitted")
    if patient is None:
        assert person is not None
        patient = await create_typed_patient(session, doctor, person)
        await session.execute(update(Order).where(Order.id == order.id).values(patient_id=patient.id))  # type: ignore[arg-type]
    order.status, order.body, order.patient_id = "submitted", body, patient.id
    order.version, order.submitted_at, order.updated_at = order.version + 1, now, now
    publish_submitted(
        session, order, patient, await first_order_of(session, order), await next_case_version(session, order.case_id)
    )
    await session.commit()
    shown = order_body(order, patient)
    known = (await session.execute(select(Case.status).where(Case.id == order.case_id))).scalar_one_or_none()
    answer = {"order": shown, "case_id": order.case_id, "case_status": known or "incomplete_submission"}
    return JSONResponse(answer, status_code=202)


async def refuse_closed_case(session: AsyncSession, case_id: str) -> None:
    """409 when the cases service has announced the case expired or cancelled."""
    status = (await session.execute(select(Case.status).where(Case.id == case_id))).scalar_one_or_none()
    if status in CLOSED_CASE_STATUSES:
        raise ProblemError(
            409, "Conflict", f"the case is {status}: it takes no more orders", case_status=status, allowed_actions=[]
        )


async def refuse_unmodifiable_case(session: AsyncSession, case_id: str) -> None:
    """409 unless the cases service has announced the case in production, shipped or with its last phase delivered:
    a modification changes treatment that has started (a case still before approval is changed by the setup
    review itself)."""
    status = (await session.execute(select(Case.status).where(Case.id == case_id))).scalar_one_or_none()
    if status not in MODIFIABLE_CASE_STATUSES:
        raise ProblemError(
            409,
            "Conflict",
            f"the case is {status or 'not yet submitted to the lab'}: a modification can be submitted once the case "
            "is in production, shipped or its last phase delivered",
            case_status=status,
            allowed_actions=["read", "change", "delete"],
        )


async def create_typed_patient(session: AsyncSession, doctor: str, person: dict[str, Any]) -> Patient:
    """Create the new patient typed into a draft (already checked by the submission rules)."""
    patient = Patient(
        doctor_id=doctor,
        first_name=person["first_name"].strip(),
        last_name=person["last_name"].strip(),
        date_of_birth=date.fromisoformat(person["date_of_birth"]),
        sex=person["sex"],
        search_key=search_key(person["first_name"], person["last_name"]),
    )
    session.add(patient)
    await session.flush()
    return patient


async def first_order_of(session: AsyncSession, order: Order) -> Order:
    """The order that opened ``order``'s case: ``order`` itself unless it is a modification."""
    if order.kind != "modification":
        return order
    query = (
        select(Order)
        .where(Order.case_id == order.case_id, Order.kind != "modification", Order.status == "submitted")  # type: ignore[arg-type]
        .order_by(Order.submitted_at)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none() or order
