"""How patients and orders are shown: the JSON bodies of the API (``services.orders.schemas`` documents them)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.orders.models import Order, Patient
from services.orders.schemas import PatientOut
from services.orders.validation import check_order, incomplete_sections, today_anywhere

SECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "aligner": ("general", "records", "treatment_approach", "additional"),
    "retainer": ("general", "retainer", "additional"),
    "modification": (),
}
MODIFICATION_FIELDS = ("reason", "source", "step", "instructions")


def patient_body(patient: Patient) -> dict[str, Any]:
    """``{id, first_name, last_name, date_of_birth, sex, created_at, updated_at}`` as JSON values."""
    return PatientOut.model_validate(patient, from_attributes=True).model_dump(mode="json")


def patient_data(order: Order, patient: Patient | None) -> dict[str, Any] | None:
    """The order's patient as data: the linked patient's identity (with ``id``), the new patient typed into the
    draft (``id`` null), or None when the order has neither."""
    if patient is not None:
        return {
            "id": patient.id,
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "sex": patient.sex,
        }
    typed = order.body.get("patient")
    return {"id": None, **typed} if isinstance(typed, dict) else None


def order_body(order: Order, patient: Patient | None, today: date | None = None) -> dict[str, Any]:
    """The order as the API shows it (see ``OrderOut``), with its ``incomplete_sections`` as of ``today``
    (default: :func:`~services.orders.validation.today_anywhere`). ``patient`` is the linked patient, if any."""
    person = patient_data(order, patient)
    problems = check_order(order.kind, order.body, person, today or today_anywhere())
    shown: dict[str, Any] = {
        "id": order.id,
        "order_number": order.order_number,
        "case_id": order.case_id,
        "kind": order.kind,
        "status": order.status,
        "patient_id": order.patient_id,
        "patient": person,
    }
    for section in SECTION_FIELDS[order.kind]:
        shown[section] = order.body.get(section) or {}
    if order.kind == "modification":
        shown.update({field: order.body.get(field) for field in MODIFICATION_FIELDS})
    else:
        shown["terms_accepted"] = order.body.get("terms_accepted", False)
    shown["incomplete_sections"] = incomplete_sections(order.kind, problems)
    shown["created_at"] = rfc3339(order.created_at)
    shown["updated_at"] = rfc3339(order.updated_at)
    shown["submitted_at"] = rfc3339(order.submitted_at) if order.submitted_at else None
    return shown


def rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 text in UTC, ``Z`` suffixed (as the other bodies show times)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
