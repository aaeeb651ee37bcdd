"""Records checklists (DOMAIN.md "Records checklist"): which slots an order needs, what fills them, and the answers.

A checklist belongs to one submitted order: its required slots come from that order's ``order.submitted`` (PVS
impressions replace the scan slots there). A slot is filled by a document of that order in that slot; the latest
upload is the one shown. :func:`check` answers the submission with ``records.checked``; :func:`after_upload` sends
``records.completed`` when an upload fills the last slot the check found missing. Both count on the case's
``records_version`` (the ``aggregate_version`` of its ``records.*`` events).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.documents.models import CaseFile, Document, OrderChecklist
from services.documents.settings import SERVICE
from shared.db import utcnow
from shared.events.documents import RECORD_SLOTS, RecordsChecked, RecordsCompleted
from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS
from shared.messaging.outbox import add_event


@dataclass(frozen=True)
class SlotState:
    """One slot of a checklist: required or not, and the latest document in it (None when empty)."""

    slot: str
    required: bool
    document: Document | None


async def latest_by_slot(session: AsyncSession, case_id: str, order_id: str | None) -> dict[str, Document]:
    """The latest document of each slot of ``case_id``, counting only the order ``order_id``'s when given."""
    query = select(Document).where(Document.case_id == case_id).order_by(Document.created_at, Document.id)
    if order_id is not None:
        query = query.where(Document.order_id == order_id)
    return {document.slot: document for document in (await session.execute(query)).scalars()}


DRAFT_REQUIRED: dict[str, tuple[str, ...]] = {"aligner": (*PHOTO_SLOTS, *SCAN_SLOTS)}
"""What a draft is shown to need before its submission says (DOMAIN.md: an aligner order needs the photos and, with
the default digital records, the arch scans; a retainer or modification says at submission)."""


async def slot_states(session: AsyncSession, case: CaseFile) -> tuple[OrderChecklist | None, list[SlotState]]:
    """The checklist of the case's current order: every record slot in DOMAIN.md's order, whether the order requires
    it (:data:`DRAFT_REQUIRED` before submission) and its latest document of that order."""
    order = await session.get(OrderChecklist, case.current_order_id)
    filled = await latest_by_slot(session, case.id, case.current_order_id)
    if order is not None and order.submitted_at is not None:
        required = set(order.required_slots)
    else:
        required = set(DRAFT_REQUIRED.get(order.kind if order else "aligner", ()))
    return order, [SlotState(slot, slot in required, filled.get(slot)) for slot in RECORD_SLOTS]


def missing_of(states: list[SlotState]) -> list[str]:
    """The required slots that hold no document, in DOMAIN.md's order."""
    return [state.slot for state in states if state.required and state.document is None]


async def _missing(session: AsyncSession, order: OrderChecklist) -> list[str]:
    filled = await latest_by_slot(session, order.case_id, order.order_id)
    return [slot for slot in RECORD_SLOTS if slot in order.required_slots and slot not in filled]


def _next_version(case: CaseFile) -> int:
    case.records_version += 1
    return case.records_version


async def check(session: AsyncSession, case: CaseFile, order: OrderChecklist, cause_event_id: Any) -> None:
    """Answer the order's submission: ``records.checked`` with the slots still empty (complete when none)."""
    missing = await _missing(session, order)
    order.missing_slots = missing
    order.completed_at = None if missing else utcnow()
    payload = RecordsChecked(
        case_id=case.id,
        order_id=order.order_id,
        doctor_id=case.doctor_id,
        required=list(order.required_slots),
        missing=missing,
        complete=not missing,
    )
    add_event(
        session,
        payload,
        source=SERVICE,
        subject=case.id,
        aggregate_version=_next_version(case),
        causation_id=cause_event_id,
    )


async def after_upload(session: AsyncSession, case: CaseFile, order_id: str | None) -> None:
    """After documents of ``order_id`` were stored: when the order's records check had found slots missing and none
    is missing now, send ``records.completed`` (once)."""
    order = await session.get(OrderChecklist, order_id) if order_id else None
    if order is None or order.submitted_at is None or order.completed_at is not None or not order.missing_slots:
        return
    if await _missing(session, order):
        return
    order.completed_at = utcnow()
    payload = RecordsCompleted(
        case_id=case.id, order_id=order.order_id, doctor_id=case.doctor_id, required=list(order.required_slots)
    )
    add_event(session, payload, source=SERVICE, subject=case.id, aggregate_version=_next_version(case))


def deletable(document: Document, order: OrderChecklist | None) -> bool:
    """API.md: a document may be deleted only while its order is a draft, or while its slot is one the records check
    found missing and the checklist is not complete yet (the doctor replaces a wrong file before the lab starts)."""
    if order is None or order.submitted_at is None:
        return True
    return order.completed_at is None and document.slot in order.missing_slots
