"""Drafts: reading a draft body sent by a client, and merging it into the stored draft (pure functions, no I/O).

A draft body is checked for its shape only (``services.orders.schemas``): the fields of its kind, objects where
objects belong. A PATCH is a deep merge (in the spirit of RFC 7396 JSON Merge Patch): objects are merged key by key,
lists and scalars replace what was there, ``null`` removes a key. The patient of an aligner or retainer draft is
either ``patient_id`` (an existing patient, kept as a column) or ``patient`` (a new one, kept in the body until the
order is submitted); setting one removes the other.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.orders.schemas import DRAFT_MODELS

SERVICE_FIELDS = ("id", "order_number", "case_id", "status", "doctor_id")
"""Fields only the service sets: a body naming one is refused."""
NEW_ORDER_KINDS = ("aligner", "retainer")


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``patch`` merged in. Where both hold an object the objects are merged the same way;
    otherwise the patch's value replaces the base's; a ``None`` in the patch removes the key. ``base`` is unchanged."""
    merged = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = deep_merge({}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _error(location: tuple[str | int, ...], message: str) -> dict[str, Any]:
    return {"loc": ("body", *location), "msg": message, "type": "value_error"}


def read_kind(payload: Mapping[str, Any]) -> str:
    """The ``kind`` of a new order's body: ``aligner`` or ``retainer``; 422 (``RequestValidationError``) otherwise."""
    kind = payload.get("kind")
    if kind not in NEW_ORDER_KINDS:
        message = "required" if kind is None else "must be aligner or retainer"
        raise RequestValidationError([_error(("kind",), message)])
    return kind


def read_changes(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a body sets on a draft of ``kind``, as JSON values, explicit nulls kept (they remove a key).

    ``kind`` in the body is accepted when it is the draft's own. Raises ``RequestValidationError`` (422) listing
    every field the service sets (``id``, ``order_number``, ...), a changed kind, every unknown field, every section
    that is not an object, and ``patient_id`` with ``patient`` together.
    """
    errors = [
        _error((field,), "is set by the service and cannot be given") for field in SERVICE_FIELDS if field in payload
    ]
    if "kind" in payload and payload["kind"] != kind:
        errors.append(_error(("kind",), f"this is a {kind} order; the kind of an order cannot be changed"))
    rest = {key: value for key, value in payload.items() if key not in (*SERVICE_FIELDS, "kind")}
    changes: dict[str, Any] = {}
    try:
        changes = DRAFT_MODELS[kind].model_validate(rest).model_dump(mode="json", exclude_unset=True)
    except ValidationError as exc:
        errors.extend(_error(tuple(error["loc"]), error["msg"]) for error in exc.errors())
    if changes.get("patient_id") is not None and changes.get("patient") is not None:
        errors.append(_error(("patient",), "give patient_id (an existing patient) or patient (a new one), not both"))
    if errors:
        raise RequestValidationError(errors)
    return changes


def merge_draft(
    body: Mapping[str, Any], patient_id: str | None, changes: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The draft's new ``(body, patient_id)`` once ``changes`` (from :func:`read_changes`) are merged in.

    ``patient_id`` given links that patient (the caller has checked it is the doctor's) and drops a new patient
    from the body; ``patient_id: null`` unlinks. ``patient`` merges into the new patient of the body; it is refused
    (``RequestValidationError``) while the draft stays linked to an existing patient, whose identity is changed
    through ``PATCH /v1/patients/{id}`` instead.
    """
    changes = dict(changes)
    if "patient_id" in changes:
        patient_id = changes.pop("patient_id")
        if patient_id is not None:
            body = {key: value for key, value in body.items() if key != "patient"}
    if changes.get("patient") is not None and patient_id is not None:
        raise RequestValidationError(
            [
                _error(
                    ("patient",),
                    "this order is for an existing patient (patient_id): change them with PATCH /patients/{id}, "
                    "or send patient_id: null to enter a new patient instead",
                )
            ]
        )
    return deep_merge(body, changes), patient_id
