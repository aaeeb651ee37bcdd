"""Events the documents service consumes: its queues ``documents.<purpose>`` and their handlers.

- ``documents.order-events``: ``order.draft_created`` makes the service's copy of a new case (or points a case at its
  modification draft: new uploads belong to it); ``order.submitted`` keeps the order's required slots and
  collaborators and answers with ``records.checked``; ``order.deleted`` of a modification draft points the case back
  at its last submitted order.
- ``documents.setup-events``: ``setup.published`` marks the setup's viewer file with its version.

Every handler only adds facts, so none skips older versions. A handler and an upload about one case lock the case's
row, so a check and an upload decide one after the other.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.documents import checklist
from services.documents.models import CaseFile, Document, OrderChecklist
from services.documents.settings import SERVICE
from shared.db import utcnow
from shared.events.cases import SetupPublished
from shared.events.envelope import Envelope
from shared.events.orders import OrderDeleted, OrderDraftCreated, OrderSubmitted
from shared.messaging.consumer import Consumer

order_events = Consumer(SERVICE, "order-events")
setup_events = Consumer(SERVICE, "setup-events")
consumers: list[Consumer] = [order_events, setup_events]


async def _case(session: AsyncSession, case_id: str, doctor_id: str, order_id: str, order_number: str) -> CaseFile:
    """The case ``case_id``, locked for the transaction, made now if this is the first event about it."""
    case = await session.get(CaseFile, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        case = CaseFile(id=case_id, doctor_id=doctor_id, order_number=order_number, current_order_id=order_id)
        session.add(case)
        await session.flush()
    return case


async def _order(session: AsyncSession, case_id: str, order_id: str, order_number: str, kind: str) -> OrderChecklist:
    order = await session.get(OrderChecklist, order_id)
    if order is None:
        order = OrderChecklist(order_id=order_id, case_id=case_id, order_number=order_number, kind=kind)
        session.add(order)
    return order


@order_events.on(OrderDraftCreated, skip_stale=False)
async def draft_created(session: AsyncSession, envelope: Envelope, payload: OrderDraftCreated) -> None:
    """A new draft: the case it opened, or the case's modification draft, which new uploads now belong to."""
    case = await _case(session, payload.case_id, payload.doctor_id, payload.order_id, payload.order_number)
    case.current_order_id = payload.order_id
    await _order(session, case.id, payload.order_id, payload.order_number, payload.kind)


@order_events.on(OrderSubmitted, skip_stale=False)
async def submitted(session: AsyncSession, envelope: Envelope, payload: OrderSubmitted) -> None:
    """The order was submitted: keep its checklist's facts and answer with ``records.checked``."""
    case = await _case(session, payload.case_id, payload.doctor_id, payload.order_id, payload.order_number)
    order = await _order(session, case.id, payload.order_id, payload.order_number, payload.kind)
    if order.submitted_at is not None:
        return
    case.current_order_id = payload.order_id
    case.collaborator_ids = sorted(set(case.collaborator_ids) | set(payload.collaborator_ids))
    order.submitted_at = utcnow()
    order.required_slots = list(payload.required_slots)
    order.pvs = payload.scans == "pvs_impressions" or payload.source == "pvs_impressions"
    order.practice_id = payload.practice_id
    await session.flush()
    await checklist.check(session, case, order, envelope.id)


@order_events.on(OrderDeleted, skip_stale=False)
async def deleted(session: AsyncSession, envelope: Envelope, payload: OrderDeleted) -> None:
    """A draft was deleted: a case whose modification draft it was goes back to its last submitted order."""
    case = await session.get(CaseFile, payload.case_id, with_for_update=True)
    if case is None or case.current_order_id != payload.order_id:
        return
    last = await session.execute(
        select(OrderChecklist.order_id)
        .where(OrderChecklist.case_id == case.id, OrderChecklist.submitted_at.is_not(None))  # type: ignore[union-attr]
        .order_by(OrderChecklist.submitted_at.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    previous = last.scalar_one_or_none()
    if previous is not None:
        case.current_order_id = previous


@setup_events.on(SetupPublished, skip_stale=False)
async def setup_published(session: AsyncSession, envelope: Envelope, payload: SetupPublished) -> None:
    """The lab published a setup with a viewer file: the file is that setup version's."""
    if payload.document_id is None:
        return
    document = await session.get(Document, payload.document_id)
    if document is not None and document.case_id == payload.case_id:
        document.setup_version = payload.version
