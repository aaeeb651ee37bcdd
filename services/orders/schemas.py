"""Request and response bodies of the orders service's HTTP API (API.md "Patients and orders", "Order body").

Every request model forbids unknown fields (422). Patients are checked strictly when written. Order drafts are
checked only for their shape when saved (known sections and fields, objects where objects belong); their values may
be anything until submission, when ``services.orders.validation`` checks every rule at once.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from services.orders.validation import birth_date_problem, today_anywhere

T = TypeVar("T")
Sex = Literal["female", "male", "other"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Input(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


def _calendar_date(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BirthDate = Annotated[date, BeforeValidator(_calendar_date)]
"""A calendar date written ``YYYY-MM-DD``: a number, a timestamp or a date-time is refused rather than read as one."""


def _birth_date(value: date | None) -> date | None:
    if value is not None and (message := birth_date_problem(value, today_anywhere())) is not None:
        raise ValueError(message)
    return value


class PatientIn(Input):
    """A new patient: ``{first_name, last_name, date_of_birth: "YYYY-MM-DD", sex: female|male|other}``; the date of
    birth from 1900-01-01 up to today."""

    first_name: Name
    last_name: Name
    date_of_birth: BirthDate
    sex: Sex

    _check_birth_date = field_validator("date_of_birth")(_birth_date)


class PatientPatch(Input):
    """Changes to a patient: any of the fields of :class:`PatientIn`; none may be cleared (null is refused)."""

    first_name: Name = None  # type: ignore[assignment]  # omitted: unchanged; null: refused (defaults not validated)
    last_name: Name = None  # type: ignore[assignment]
    date_of_birth: BirthDate = None  # type: ignore[assignment]
    sex: Sex = None  # type: ignore[assignment]

    _check_birth_date = field_validator("date_of_birth")(_birth_date)


class PatientOut(BaseModel):
    """A patient as the API shows it."""

    id: str
    first_name: str
    last_name: str
    date_of_birth: BirthDate
    sex: Sex
    created_at: datetime
    updated_at: datetime


class Page(BaseModel, Generic[T]):
    """One page of a list: ``page`` from 1, ``page_size`` up to 200, ``total`` items in all."""

    items: list[T]
    page: int
    page_size: int
    total: int


def _any(description: str) -> Any:
    return Field(None, description=description)


class DraftPatient(Input):
    """A new patient typed into a draft; created when the order is submitted."""

    first_name: Any = _any("text")
    last_name: Any = _any("text")
    date_of_birth: Any = _any("YYYY-MM-DD, not in the future, not before 1900")
    sex: Any = _any("female | male | other")


class Duration(Input):
    mode: Any = _any("recommend | limit")
    max_steps: Any = _any("1-100, with mode limit")


class AlignerGeneral(Input):
    practice_id: Any = _any("the ship-to practice (the gateway fills the doctor's first one)")
    arches: Any = _any("upper | lower | both")
    chief_concern: Any = _any("text")
    duration: Duration | None = None
    wear_schedule_days: Any = _any("7 | 10 | 14 | 21")


class Records(Input):
    scans: Any = _any("digital | pvs_impressions")
    scanner: Any = _any("scanner name, with digital scans")


class ApRelationship(Input):
    right: Any = _any("maintain | improve | correct")
    left: Any = _any("maintain | improve | correct")


class Crossbite(Input):
    anterior: Any = _any("maintain | correct")
    posterior: Any = _any("maintain | correct")


class Crowding(Input):
    upper: Any = _any("list of expand | procline | ipr | distalise")
    lower: Any = _any("list of expand | procline | ipr | distalise")


class TreatmentApproach(Input):
    dentition: Any = _any("permanent | mixed")
    ap_relationship: ApRelationship | None = None
    overjet: Any = _any("maintain | improve")
    overbite: Any = _any("maintain | improve")
    midline: Any = _any("maintain | move_upper | move_lower")
    crossbite: Crossbite | None = None
    crowding: Crowding | None = None
    spacing: Any = _any("close | leave_for_restoration")
    ipr_allowed: Any = _any("true | false")
    attachments_allowed: Any = _any("true | false")
    extractions: Any = _any("FDI tooth numbers (ISO 3950)")
    teeth_not_to_move: Any = _any("FDI tooth numbers (ISO 3950)")


class Additional(Input):
    instructions: Any = _any("free text to the technician")
    collaborator_ids: Any = _any("collaborators to share the case with")


class RetainerGeneral(Input):
    practice_id: Any = _any("the ship-to practice")
    arches: Any = _any("upper | lower | both")


class RetainerSection(Input):
    source: Any = _any("existing_step | new_scans | pvs_impressions")
    step: Any = _any("the step to copy, with existing_step")
    sets: Any = _any("1-10")
    shipping_method: Any = _any("standard | express")


class NewOrderDraft(Input):
    """What every aligner and retainer draft may carry about its patient: ``patient_id`` (an existing patient of
    the doctor's) or ``patient`` (a new one), not both."""

    patient_id: uuid.UUID | None = None
    patient: DraftPatient | None = None


class AlignerDraft(NewOrderDraft):
    """An aligner order, any subset of it (API.md "Order body")."""

    general: AlignerGeneral | None = None
    records: Records | None = None
    treatment_approach: TreatmentApproach | None = None
    additional: Additional | None = None
    terms_accepted: Any = _any("must be true to submit")


class RetainerDraft(NewOrderDraft):
    """A retainer order, any subset of it: ``records`` and ``treatment_approach`` are replaced by ``retainer``."""

    general: RetainerGeneral | None = None
    retainer: RetainerSection | None = None
    additional: Additional | None = None
    terms_accepted: Any = _any("must be true to submit")


class ModificationDraft(Input):
    """A modification of an existing case, any subset of it."""

    reason: Any = _any("text")
    source: Any = _any("new_scans | existing_step")
    step: Any = _any("the step to start from, with existing_step")
    instructions: Any = _any("text")


DRAFT_MODELS: dict[str, type[Input]] = {
    "aligner": AlignerDraft,
    "retainer": RetainerDraft,
    "modification": ModificationDraft,
}


class OrderPatient(BaseModel):
    """An order's patient: an existing patient (with ``id``) or a new one typed into a draft (``id`` null)."""

    id: str | None = None
    first_name: Any = None
    last_name: Any = None
    date_of_birth: Any = None
    sex: Any = None


class OrderOut(BaseModel):
    """An order as the API shows it. Aligner orders carry ``general``, ``records``, ``treatment_approach``,
    ``additional``, ``terms_accepted``; retainer orders ``general``, ``retainer``, ``additional``,
    ``terms_accepted``; modification orders ``reason``, ``source``, ``step``, ``instructions``.
    ``incomplete_sections`` lists, in form order, the sections that still have a missing or invalid field."""

    id: str
    order_number: str
    case_id: str
    kind: Literal["aligner", "retainer", "modification"]
    status: Literal["draft", "submitted"]
    patient_id: str | None
    patient: OrderPatient | None
    general: dict[str, Any] | None = None
    records: dict[str, Any] | None = None
    treatment_approach: dict[str, Any] | None = None
    retainer: dict[str, Any] | None = None
    additional: dict[str, Any] | None = None
    terms_accepted: Any = None
    reason: Any = None
    source: Any = None
    step: Any = None
    instructions: Any = None
    incomplete_sections: list[str]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None


class SubmissionOut(BaseModel):
    """The answer to a submission: the submitted order, its case, and the case's status as the cases service last
    announced it (``incomplete_submission`` for a new case: the cases service moves it on from ``order.submitted``
    and its records, a moment later; ``GET /cases/{id}`` follows it)."""

    order: OrderOut
    case_id: str
    case_status: str
