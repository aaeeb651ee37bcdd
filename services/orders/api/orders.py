"""Routes of order drafts: create, read, list, change (deep merge), delete (API.md "Patients and orders").

Orders are answered as ``services.orders.views.order_body`` builds them (``OrderOut`` documents the shape): a draft
shows exactly the keys it holds, so nothing is padded with nulls the client did not send.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.api.common import (
    Database,
    DoctorId,
    Scope,
    find_order,
    find_patient,
    linked_patient,
    lost_race,
    not_a_draft,
    patients_by_id,
)
from services.orders.drafts import merge_draft, read_changes, read_kind
from services.orders.events import next_case_version, publish_deleted, publish_draft_created
from services.orders.models import Case, Order, new_id
from services.orders.numbering import next_order_number
from services.orders.schemas import OrderOut, Page
from services.orders.views import order_body, patient_data
from shared.db import utcnow
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.paging import PageNumber, PageSize
from shared.problems import ProblemRoute

router = APIRouter(route_class=ProblemRoute)
DraftBody = Annotated[dict[str, Any], Body(description="API.md 'Order body': any subset of the order's fields")]


@router.post("/orders", status_code=201, response_model=OrderOut)
async def create_order(payload: DraftBody, request: Request, doctor: DoctorId, session: Database) -> JSONResponse:
    """Start an order ``{kind: aligner|retainer, patient_id? | patient?, ...sections}`` with any subset of its
    fields → 201 the draft with its ``id``, ``order_number``, a new ``case_id``, ``status: "draft"`` and its
    ``incomplete_sections``; publishes ``order.draft_created``. 422 for an unknown field, a field only the service
    sets (``id``, ``order_number``, ``case_id``, ``status``, ``doctor_id``) or a section that is not an object;
    404 when ``patient_id`` is not one of the doctor's patients; 403 for staff. ``Idempotency-Key`` makes a retry
    answer the first response and create nothing."""
    kind = read_kind(payload)
    changes = read_changes(kind, payload)

    async def create(db: AsyncSession) -> tuple[int, Any]:
        patient = None
        if changes.get("patient_id") is not None:
            patient = await find_patient(db, changes["patient_id"], doctor)
        body, patient_id = merge_draft({}, None, changes)
        number = await next_order_number(db, utcnow().year)
        now = utcnow()  # after the counter's lock: creation times follow the numbers
        order = Order(
            doctor_id=doctor,
            case_id=new_id(),
            order_number=number,
            kind=kind,
            patient_id=patient_id,
            body=body,
            created_at=now,
            updated_at=now,
        )
        db.add(Case(id=order.case_id, doctor_id=doctor, event_version=1, updated_at=now))
        db.add(order)
        await db.flush()
        publish_draft_created(db, order, patient_data(order, patient), version=1)
        return 201, order_body(order, patient)

    request_hash = fingerprint(request, payload)
    return await run_idempotent(session, doctor, key_of(request), request_hash, create)


@router.get("/orders", response_model=Page[OrderOut])
async def list_orders(
    scope: Scope,
    session: Database,
    case_id: str | None = None,
    status: Literal["draft", "submitted"] | None = None,
    kind: Literal["aligner", "retainer", "modification"] | None = None,
    patient_id: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> JSONResponse:
    """The caller's orders (every order for staff), newest first, filtered by ``case_id``, ``status``, ``kind`` and
    ``patient_id`` when given: ``{items: [order], page, page_size, total}``."""
    condition = [] if scope is None else [Order.doctor_id == scope]
    for column, value in ((Order.case_id, case_id), (Order.status, status), (Order.kind, kind)):
        if value is not None:
            condition.append(column == value)
    if patient_id is not None:
        condition.append(Order.patient_id == patient_id)
    total = (await session.execute(select(func.count()).select_from(Order).where(*condition))).scalar_one()
    query = (
        select(Order)
        .where(*condition)
        .order_by(Order.created_at.desc(), Order.id)  # type: ignore[attr-defined]
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    orders = list((await session.execute(query)).scalars())
    patients = await patients_by_id(session, orders)
    items = [order_body(order, patients.get(order.patient_id or "")) for order in orders]
    return JSONResponse({"items": items, "page": page, "page_size": page_size, "total": total})


@router.get("/orders/{order_id}", response_model=OrderOut)
async def read_order(order_id: str, scope: Scope, session: Database) -> JSONResponse:
    """One order, draft or submitted; 404 when it does not exist or is another doctor's."""
    order = await find_order(session, order_id, scope)
    return JSONResponse(order_body(order, await linked_patient(session, order)))


@router.patch("/orders/{order_id}", response_model=OrderOut)
async def update_order(order_id: str, payload: DraftBody, doctor: DoctorId, session: Database) -> JSONResponse:
    """Merge ``payload`` into the draft and answer the merged draft: objects merge key by key, lists and scalars
    replace, ``null`` removes a key; ``patient_id`` links an existing patient, ``patient`` edits the new one.
    409 once submitted (or when another change landed meanwhile); 422 as for creation (``kind`` cannot change);
    404 when the order or the ``patient_id`` is not the doctor's; 403 for staff."""
    order = await find_order(session, order_id, doctor)
    if order.status != "draft":
        raise not_a_draft(order, "changed")
    changes = read_changes(order.kind, payload)
    if changes.get("patient_id") is not None:
        await find_patient(session, changes["patient_id"], doctor)
    body, patient_id = merge_draft(order.body, order.patient_id, changes)
    now = utcnow()
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "draft", Order.version == order.version)  # type: ignore[arg-type]
        .values(body=body, patient_id=patient_id, version=order.version + 1, updated_at=now)
    )
    if result.rowcount != 1:
        await session.rollback()
        raise await lost_race(session, order, "changed")
    await session.commit()
    order.body, order.patient_id, order.version, order.updated_at = body, patient_id, order.version + 1, now
    return JSONResponse(order_body(order, await linked_patient(session, order)))


@router.delete("/orders/{order_id}", status_code=204)
async def delete_order(order_id: str, doctor: DoctorId, session: Database) -> Response:
    """Delete a draft → 204; publishes ``order.deleted`` (a deleted aligner or retainer draft cancels its case).
    409 once submitted; 404 when not the doctor's; 403 for staff."""
    order = await find_order(session, order_id, doctor)
    if order.status != "draft":
        raise not_a_draft(order, "deleted")
    result = await session.execute(delete(Order).where(Order.id == order.id, Order.status == "draft"))  # type: ignore[arg-type]
    if result.rowcount != 1:
        await session.rollback()
        raise await lost_race(session, order, "deleted")
    publish_deleted(session, order, await next_case_version(session, order.case_id))
    await session.commit()
    return Response(status_code=204)
