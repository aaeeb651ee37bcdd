"""Shipping labels for PVS impressions (API.md ``POST /cases/{id}/shipping-labels``).

A doctor whose submitted order mails PVS impressions prints a label: a PDF addressed to the lab (``lab_address``
setting) from the practice (given by the gateway, which keeps practices), with the order number, a new tracking
number and its Code 128 barcode, stored as a document of the case in slot ``shipping_label``; events
``document.uploaded`` and ``shipping_label.created``.
"""

from __future__ import annotations

import hashlib

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.documents.access import Caller, find_case
from services.documents.api.documents import commit_documents
from services.documents.models import Document, OrderChecklist, new_id
from services.documents.schemas import ShippingLabelIn, document_out
from services.documents.shipping_labels import Address, new_tracking_number, render_label
from services.documents.storage import Storage
from services.documents.uploads import one_chunk
from shared.db import utcnow
from shared.events.documents import ShippingLabelCreated
from shared.problems import CaseRoute, ProblemError
from shared.service import Runtime

router = APIRouter(route_class=CaseRoute)


@router.post("/cases/{case_id}/shipping-labels", status_code=201)
async def create_label(case_id: str, request: Request, caller: Caller, body: ShippingLabelIn) -> JSONResponse:
    """201 the label document (``facts``: ``tracking_number``, ``method``); 409 unless the case's last submitted
    order mails PVS impressions; only the treating doctor."""
    runtime: Runtime = request.app.state.runtime
    storage: Storage = runtime.extensions["storage"]
    async with runtime.sessions() as session:
        access = await find_case(session, case_id, caller)
        access.require("owner")
        latest = await session.execute(
            select(OrderChecklist)
            .where(OrderChecklist.case_id == case_id, OrderChecklist.submitted_at.is_not(None))  # type: ignore[union-attr]
            .order_by(OrderChecklist.submitted_at.desc())  # type: ignore[union-attr]
            .limit(1)
        )
        order = latest.scalar_one_or_none()
    if order is None or not order.pvs:
        raise ProblemError(409, "Conflict", "shipping labels are for submitted orders that mail PVS impressions")
    tracking, now = new_tracking_number(), utcnow()
    pdf = await anyio.to_thread.run_sync(
        lambda: render_label(
            lab=Address(tuple(runtime.settings.lab_address)),  # type: ignore[attr-defined]
            practice=Address(tuple(body.practice)),
            order_number=order.order_number,
            tracking_number=tracking,
            method=body.method,
            created_at=now,
        )
    )
    document_id = new_id()
    key = f"cases/{case_id}/{document_id}"
    await storage.put(key, one_chunk(pdf), content_type="application/pdf")
    document = Document(
        id=document_id,
        case_id=case_id,
        order_id=order.order_id,
        doctor_id=access.case.doctor_id,
        slot="shipping_label",
        filename=f"shipping-label-{order.order_number}.pdf",
        kind="pdf",
        content_type="application/pdf",
        size_bytes=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
        facts={"tracking_number": tracking, "method": body.method},
        storage_key=key,
        uploaded_by=str(caller.principal.user_id),
        created_at=now,
    )
    created = ShippingLabelCreated(
        document_id=document_id,
        case_id=case_id,
        doctor_id=access.case.doctor_id,
        order_id=order.order_id,
        tracking_number=tracking,
        method=body.method,
        created_at=now,
    )
    await commit_documents(runtime, case_id, [document], label=created)
    return JSONResponse(document_out(document), status_code=201)
