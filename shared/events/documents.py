"""Events about record files and checklists, published by the documents service.

``document.*`` have the document as their aggregate (``subject`` = document id; version 1 when uploaded, 2 when
deleted); so has ``shipping_label.created`` (version 1). ``records.*`` have the case as their aggregate
(``subject`` = case id) and the case's checklist version as ``aggregate_version``. A checklist belongs to one
submitted order (``order_id``): the required slots come from that order's ``order.submitted`` (DOMAIN.md "Records
checklist").
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from shared.events.catalogue import event
from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS

RECORD_SLOTS: tuple[str, ...] = (
    *PHOTO_SLOTS,
    *SCAN_SLOTS,
    "scan.bite",
    "xray.panoramic",
    "xray.cephalometric",
    "other",
)
"""Every slot of DOMAIN.md's records checklist, in its order."""


@event("document.uploaded", 1)
class DocumentUploaded(BaseModel):
    """A file of a case was stored in ``slot`` (a record slot, or a slot of the lab's such as a setup file), its type
    checked from its content. ``order_id`` is the order it was sent with, when the client named one."""

    document_id: str
    case_id: str
    doctor_id: str
    order_id: str | None = None
    slot: str
    filename: str
    content_type: str
    size_bytes: int = Field(ge=0)
    sha256: str
    uploaded_at: AwareDatetime


@event("document.deleted", 1)
class DocumentDeleted(BaseModel):
    """A file of a case was deleted (allowed while its order is a draft or its slot is marked missing)."""

    document_id: str
    case_id: str
    doctor_id: str
    slot: str


@event("records.checked", 1)
class RecordsChecked(BaseModel):
    """The answer to ``order.submitted``: the order's checklist as it stood at submission. ``complete`` when every
    slot of ``required`` holds an accepted file; otherwise ``missing`` lists the empty ones."""

    case_id: str
    order_id: str
    doctor_id: str
    required: list[str]
    missing: list[str]
    complete: bool


@event("records.completed", 1)
class RecordsCompleted(BaseModel):
    """An upload filled the last missing slot of the order's checklist, which ``records.checked`` had found
    incomplete."""

    case_id: str
    order_id: str
    doctor_id: str
    required: list[str]


@event("shipping_label.created", 1)
class ShippingLabelCreated(BaseModel):
    """A doctor printed a shipping label for the PVS impressions of the case's order: the label is document
    ``document_id`` (a PDF); the parcel travels ``method`` (``standard`` or ``express``) under ``tracking_number``."""

    document_id: str
    case_id: str
    doctor_id: str
    order_id: str
    tracking_number: str
    method: str
    created_at: AwareDatetime
