"""What the documents service answers: documents and checklists as JSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from services.documents.checklist import SlotState, missing_of
from services.documents.models import Document, OrderChecklist
from services.documents.photos import has_thumbnail


def document_out(document: Document) -> dict[str, Any]:
    """A document as API.md shows it: ``{id, case_id, order_id, slot, filename, content_type, size_bytes, sha256,
    created_at}`` plus what its content showed (``kind``, ``facts``), whether it has a thumbnail, and its links to a
    scanner export it came from or a setup version it belongs to."""
    return {
        "id": document.id,
        "case_id": document.case_id,
        "order_id": document.order_id,
        "slot": document.slot,
        "filename": document.filename,
        "content_type": document.content_type,
        "kind": document.kind,
        "size_bytes": document.size_bytes,
        "sha256": document.sha256,
        "facts": document.facts,
        "created_at": document.created_at.isoformat(),
        "has_thumbnail": has_thumbnail(document),
        "source_document_id": document.source_document_id,
        "setup_version": document.setup_version,
    }


def checklist_out(case_id: str, order: OrderChecklist | None, states: list[SlotState]) -> dict[str, Any]:
    """The records checklist ``{case_id, order_id, order_number, submitted, slots: [{slot, required, document}],
    complete, missing, pvs, practice_id}`` of the case's current order."""
    missing = missing_of(states)
    return {
        "case_id": case_id,
        "order_id": order.order_id if order else None,
        "order_number": order.order_number if order else None,
        "submitted": bool(order and order.submitted_at),
        "slots": [
            {"slot": s.slot, "required": s.required, "document": document_out(s.document) if s.document else None}
            for s in states
        ],
        "complete": not missing,
        "missing": missing,
        "pvs": bool(order and order.pvs),
        "practice_id": order.practice_id if order else None,
    }


AddressLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ShippingLabelIn(BaseModel):
    """A shipping label for PVS impressions: the shipping ``method`` and the practice the parcel leaves from
    (``practice``: its address lines, the practice's name first; the gateway fills them in)."""

    method: Literal["standard", "express"]
    practice: list[AddressLine] = Field(min_length=2, max_length=8)
