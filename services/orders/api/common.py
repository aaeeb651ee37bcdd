"""What the routes share: who may do what, finding a caller's own rows, paging, problem responses.

A doctor (role ``doctor`` with a ``doctor_id``) reads and changes their own patients and orders only; everything
else is 404, as if it did not exist. Staff and admins read every patient and order but change none (403); other
callers (e.g. a collaborator) read what their token's ``doctor_id`` owns and change nothing.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.models import Order, Patient
from shared.http import current_principal
from shared.internal_token import STAFF_ROLES
from shared.problems import ProblemError, not_found
from shared.service import db_session

Owned = TypeVar("Owned", Order, Patient)

Database = Annotated[AsyncSession, Depends(db_session)]


def reading_scope(request: Request) -> str | None:
    """The doctor whose rows the caller may read; None for staff and admins (every row). 403 for a token that has
    neither a staff role nor a doctor id."""
    principal = current_principal(request)
    if principal.role in STAFF_ROLES:
        return None
    if principal.doctor_id is None:
        raise HTTPException(403, "this token acts for no doctor")
    return str(principal.doctor_id)


def writing_doctor(request: Request) -> str:
    """The doctor a changing request acts for; 403 unless the caller is a doctor (staff read orders but never create
    or change a doctor's ones)."""
    principal = current_principal(request)
    if principal.role != "doctor" or principal.doctor_id is None:
        raise HTTPException(403, "only the doctor who owns them may create or change patients and orders")
    return str(principal.doctor_id)


Scope = Annotated[str | None, Depends(reading_scope)]
DoctorId = Annotated[str, Depends(writing_doctor)]


async def find_owned(session: AsyncSession, model: type[Owned], object_id: str, scope: str | None) -> Owned:
    """The ``model`` row ``object_id`` (a patient or an order) if the scope's doctor owns it (any row for ``None``);
    404 otherwise. The row is detached: changing it writes nothing, changes go through explicit statements."""
    query = select(model).where(model.id == object_id)  # type: ignore[attr-defined]
    if scope is not None:
        query = query.where(model.doctor_id == scope)  # type: ignore[attr-defined]
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found(model.__name__.lower())
    session.expunge(row)
    return row


async def find_patient(session: AsyncSession, patient_id: str, scope: str | None) -> Patient:
    """The scope's patient ``patient_id`` (see :func:`find_owned`)."""
    return await find_owned(session, Patient, patient_id, scope)


async def find_order(session: AsyncSession, order_id: str, scope: str | None) -> Order:
    """The scope's order ``order_id`` (see :func:`find_owned`)."""
    return await find_owned(session, Order, order_id, scope)


async def linked_patient(session: AsyncSession, order: Order) -> Patient | None:
    """The existing patient an order is linked to, if any (same doctor by construction)."""
    if order.patient_id is None:
        return None
    return await find_patient(session, order.patient_id, order.doctor_id)


async def patients_by_id(session: AsyncSession, orders: list[Order]) -> dict[str, Patient]:
    """The linked patients of ``orders``, by id, in one query."""
    ids = {order.patient_id for order in orders if order.patient_id}
    if not ids:
        return {}
    rows = (await session.execute(select(Patient).where(Patient.id.in_(ids)))).scalars()  # type: ignore[attr-defined]
    return {patient.id: patient for patient in rows}


def not_a_draft(order: Order, action: str) -> ProblemError:
    """409 for changing an order that is no longer a draft; the body names its status and what may still be done."""
    return ProblemError(
        409,
        "Conflict",
        f"order {order.order_number} is {order.status}: it can no longer be {action}",
        order_status=order.status,
        allowed_actions=["read"],
    )


async def lost_race(session: AsyncSession, order: Order, action: str) -> ProblemError:
    """The problem for a conditional write that matched no row: the order was submitted, deleted or changed by a
    concurrent request."""
    current = (await session.execute(select(Order).where(Order.id == order.id))).scalar_one_or_none()
    if current is None:
        return ProblemError(404, "Not Found", "no order with this id")
    if current.status != "draft":
        return not_a_draft(current, action)
    return ProblemError(409, "Conflict", "the draft was changed by another request meanwhile; read it and try again")
