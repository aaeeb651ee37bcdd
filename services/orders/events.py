"""Events of the orders service: what it publishes (through the outbox, in the caller's transaction) and what it
consumes (its queues ``orders.<purpose>``).

Published (payloads in ``shared.events.orders``): ``order.draft_created``, ``order.submitted``, ``order.deleted``
with the case id as subject and the case's event counter as aggregate version (:func:`next_case_version`), and
``patient.updated`` with the patient id as subject and the patient's version.

Consumed: ``case.status_changed`` on ``orders.case-events``, to keep a copy of each case's status (a modification
is refused once its case is expired or cancelled). Stale or duplicate deliveries are skipped by the inbox.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.models import Case, Order, Patient
from services.orders.records import required_slots
from services.orders.settings import SERVICE
from services.orders.views import rfc3339
from shared.db import upsert, utcnow
from shared.events.cases import CaseStatusChanged
from shared.events.envelope import Envelope
from shared.events.orders import (
    DraftPatient,
    OrderDeleted,
    OrderDraftCreated,
    OrderSubmitted,
    PatientSummary,
    PatientUpdated,
)
from shared.messaging.consumer import Consumer
from shared.messaging.outbox import add_event

case_events = Consumer(SERVICE, "case-events")
consumers: list[Consumer] = [case_events]


@case_events.on(CaseStatusChanged)
async def remember_case_status(session: AsyncSession, envelope: Envelope, payload: CaseStatusChanged) -> None:
    """Keep the case's latest status (the inbox has already skipped older versions of the case)."""
    now = utcnow()
    statement = upsert(session, Case.__table__).values(
        id=payload.case_id, doctor_id=payload.doctor_id, event_version=0, status=payload.status, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["id"], set_={"status": payload.status, "updated_at": now}
    )
    await session.execute(statement)


async def next_case_version(session: AsyncSession, case_id: str) -> int:
    """Bump the case's order-event counter inside the transaction and return it (the row stays locked until the
    transaction ends, so the events of one case get increasing versions in commit order)."""
    statement = (
        update(Case)
        .where(Case.id == case_id)  # type: ignore[arg-type]
        .values(event_version=Case.event_version + 1, updated_at=utcnow())
        .returning(Case.event_version)
    )
    return (await session.execute(statement)).scalar_one()


def order_identity(order: Order) -> dict[str, Any]:
    """The fields every order event starts with: order, case, order number, doctor and kind."""
    return {
        "order_id": order.id,
        "case_id": order.case_id,
        "order_number": order.order_number,
        "doctor_id": order.doctor_id,
        "kind": order.kind,
    }


def publish_draft_created(session: AsyncSession, order: Order, patient: dict[str, Any] | None, version: int) -> None:
    """Write ``order.draft_created`` for a new draft; ``patient`` is what the draft knows of its patient."""
    names = {key: (patient or {}).get(key) for key in ("id", "first_name", "last_name")}
    payload = OrderDraftCreated(
        **order_identity(order),
        opens_case=order.kind != "modification",
        patient=DraftPatient(**{key: value if isinstance(value, str) else None for key, value in names.items()})
        if patient
        else None,
    )
    add_event(session, payload, source=SERVICE, subject=order.case_id, aggregate_version=version)


def publish_submitted(session: AsyncSession, order: Order, patient: Patient, first_order: Order, version: int) -> None:
    """Write ``order.submitted`` for a submitted order; ``first_order`` is the order that opened the case (the order
    itself unless it is a modification), which gives a modification its practice, arches and collaborators."""
    general = first_order.body.get("general") or {}
    if order.kind == "aligner":
        scans, source, step = (order.body.get("records") or {}).get("scans"), None, None
    elif order.kind == "retainer":
        retainer = order.body.get("retainer") or {}
        scans, source, step = None, retainer.get("source"), retainer.get("step")
    else:
        scans, source, step = None, order.body.get("source"), order.body.get("step")
    payload = OrderSubmitted(
        **order_identity(order),
        patient=PatientSummary(id=patient.id, first_name=patient.first_name, last_name=patient.last_name),
        practice_id=general.get("practice_id"),
        arches=general.get("arches"),
        scans=scans,
        source=source,
        step=step if source == "existing_step" else None,
        required_slots=required_slots(order.kind, order.body),
        submitted_at=rfc3339(order.submitted_at or utcnow()),
        collaborator_ids=list((first_order.body.get("additional") or {}).get("collaborator_ids") or []),
    )
    add_event(session, payload, source=SERVICE, subject=order.case_id, aggregate_version=version)


def publish_deleted(session: AsyncSession, order: Order, version: int) -> None:
    """Write ``order.deleted`` for a deleted draft (``cancels_case`` unless it was a modification)."""
    payload = OrderDeleted(
        **order_identity(order),
        cancels_case=order.kind != "modification",
    )
    add_event(session, payload, source=SERVICE, subject=order.case_id, aggregate_version=version)


def publish_patient_updated(session: AsyncSession, patient: Patient) -> None:
    """Write ``patient.updated`` with the patient's identity as it is now, at the patient's version."""
    payload = PatientUpdated(
        patient_id=patient.id,
        doctor_id=patient.doctor_id,
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth.isoformat(),
        sex=patient.sex,  # type: ignore[arg-type]
    )
    add_event(session, payload, source=SERVICE, subject=patient.id, aggregate_version=patient.version)
