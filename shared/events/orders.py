"""Events about orders and patients, published by the orders service.

Order events have the case as their aggregate: ``subject`` is the case id and ``aggregate_version`` a counter the
orders service keeps per case (1 for the draft that opened it, then one more per order event of that case), so the
cases service sees one ordered stream per case. ``patient.updated`` has the patient as its aggregate: ``subject`` is
the patient id and ``aggregate_version`` the patient's version (1 at creation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.events.catalogue import event

OrderKind = Literal["aligner", "retainer", "modification"]

PHOTO_SLOTS: tuple[str, ...] = (
    "photo.face_frontal",
    "photo.face_smiling",
    "photo.face_profile",
    "photo.intraoral_frontal",
    "photo.right_buccal",
    "photo.left_buccal",
    "photo.upper_occlusal",
    "photo.lower_occlusal",
)
"""The photos every aligner order needs (DOMAIN.md "Records checklist")."""

SCAN_SLOTS: tuple[str, ...] = ("scan.upper", "scan.lower")
"""The arch scans an order from digital or new scans needs."""


class DraftPatient(BaseModel):
    """What a draft knows of its patient: an existing patient has an id; a new one typed into the draft has none
    until the order is submitted, and may still lack its names."""

    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class PatientSummary(BaseModel):
    """A patient as other services show it in lists."""

    id: str
    first_name: str
    last_name: str


@event("order.draft_created", 1)
class OrderDraftCreated(BaseModel):
    """A doctor saved a new order draft. ``opens_case`` is true for aligner and retainer orders, whose draft opens a
    new case (status ``incomplete_submission``); a modification draft (false) is on a case that already exists."""

    order_id: str
    case_id: str
    order_number: str
    doctor_id: str
    kind: OrderKind
    opens_case: bool
    patient: DraftPatient | None = None


@event("order.submitted", 1)
class OrderSubmitted(BaseModel):
    """A doctor submitted a complete order: what the cases and documents services need to decide status and records.

    ``scans`` is the records choice of an aligner order (``digital`` or ``pvs_impressions``); ``source`` is where a
    retainer (``existing_step``, ``new_scans``, ``pvs_impressions``) or a modification (``new_scans``,
    ``existing_step``) comes from; ``step`` goes with ``existing_step``. ``required_slots`` are the record slots that
    must hold an accepted file (see :data:`PHOTO_SLOTS`, :data:`SCAN_SLOTS`); empty when no file is needed. A
    modification carries the arches and practice of the case's first order. ``collaborator_ids`` are the doctor's
    collaborators (ids of the gateway's) the case is shared with.
    """

    order_id: str
    case_id: str
    order_number: str
    doctor_id: str
    kind: OrderKind
    patient: PatientSummary
    practice_id: str | None = None
    arches: Literal["upper", "lower", "both"] | None = None
    scans: Literal["digital", "pvs_impressions"] | None = None
    source: Literal["existing_step", "new_scans", "pvs_impressions"] | None = None
    step: int | None = None
    required_slots: list[str]
    submitted_at: str
    collaborator_ids: list[str] = Field(default_factory=list)


@event("order.deleted", 1)
class OrderDeleted(BaseModel):
    """A doctor deleted an order draft. ``cancels_case`` is true when the draft was the one that opened its case (the
    case is then cancelled); false for a modification draft, whose case goes on."""

    order_id: str
    case_id: str
    order_number: str
    doctor_id: str
    kind: OrderKind
    cancels_case: bool


@event("patient.updated", 1)
class PatientUpdated(BaseModel):
    """A doctor changed a patient's identity; the whole identity as it is now. ``date_of_birth`` is ``YYYY-MM-DD``;
    ``sex`` is ``female``, ``male`` or ``other``."""

    patient_id: str
    doctor_id: str
    first_name: str
    last_name: str
    date_of_birth: str
    sex: Literal["female", "male", "other"]
