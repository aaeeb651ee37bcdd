"""Patients and orders (API.md "Patients and orders"): relayed to the orders service with the caller's internal
token. A new order gets the doctor's defaults where the body leaves them out: the first practice as ship-to and the
clinical preferences of the account (``/account/preferences``)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from starlette.responses import Response

from services.gateway.api.preferences import preferences_of
from services.gateway.auth import Caller, CurrentCaller, Database
from services.gateway.downstream import downstream, relayed
from services.gateway.models import Account, Practice
from shared.http import FINGERPRINT_HEADER, request_fingerprint

router = APIRouter(tags=["patients and orders"])
JsonBody = Annotated[dict[str, Any], Body(description="see API.md 'Order body'")]


def finite(body: Any) -> Any:
    """``body`` unchanged when every number in it is finite; 422 otherwise (JSON has no NaN or infinity, and a
    number such as ``1e400`` overflows to infinity)."""
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "numbers must be finite (no NaN, no infinity)", "type": "value_error"}]
        ) from None
    return body


def service_path(template: str, *ids: str) -> str:
    """``template`` with each ``{}`` replaced by an id, percent-encoded so it stays one path segment."""
    return template.format(*(quote(value, safe="") for value in ids))


async def forward(request: Request, caller: Caller, path: str, body: Any = None, sent: Any = None) -> Response:
    """Send the request's method, query and JSON ``body`` to the orders service, with its ``Idempotency-Key`` and the
    fingerprint of what the client ``sent`` (when the gateway completed it, the client's retry must still match)."""
    headers = {}
    if "idempotency-key" in request.headers:
        headers["Idempotency-Key"] = request.headers["idempotency-key"]
        client_body = body if sent is None else sent
        headers[FINGERPRINT_HEADER] = request_fingerprint(request.method, request.url.path, client_body)
    answer = await downstream(request).call(
        "orders",
        request.method,
        path,
        caller,
        params=list(request.query_params.multi_items()),
        json=finite(body),
        headers=headers,
    )
    return relayed(answer)


async def check_practice(db: Database, caller: Caller, body: dict[str, Any]) -> None:
    """422 when ``general.practice_id`` names a practice that is not the doctor's (the orders service cannot know:
    practices live here)."""
    general = body.get("general")
    practice_id = general.get("practice_id") if isinstance(general, dict) else None
    if practice_id is None:
        return
    practice = await db.get(Practice, practice_id) if isinstance(practice_id, str) else None
    if practice is None or practice.doctor_id != caller.account.id:
        raise RequestValidationError(
            [{"loc": ("body", "general", "practice_id"), "msg": "not one of your practices", "type": "value_error"}]
        )


async def with_defaults(db: Database, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the doctor's defaults filled in wherever it leaves a field out (never overriding one)."""
    if account.role != "doctor" or not isinstance(body.get("general", {}), dict):
        return body
    general = dict(body.get("general") or {})
    first = await db.scalar(
        select(Practice.id).where(Practice.doctor_id == account.id).order_by(Practice.created_at).limit(1)
    )
    if first:
        general.setdefault("practice_id", first)
    preferences = preferences_of(account)
    general.setdefault("arches", preferences.arches)
    filled = {**body, "general": general}
    if body.get("kind", "aligner") != "aligner":
        return filled
    general.setdefault("wear_schedule_days", preferences.wear_schedule_days)
    duration = {"mode": preferences.duration_mode}
    if preferences.max_steps is not None:
        duration["max_steps"] = preferences.max_steps
    general.setdefault("duration", duration)
    for section, defaults in (
        (
            "treatment_approach",
            {
                "dentition": preferences.dentition,
                "ipr_allowed": preferences.ipr_allowed,
                "attachments_allowed": preferences.attachments_allowed,
            },
        ),
        ("additional", {"instructions": preferences.instructions} if preferences.instructions else {}),
    ):
        if isinstance(body.get(section, {}), dict) and defaults:
            filled[section] = {**defaults, **(body.get(section) or {})}
    return filled


@router.get("/patients")
async def list_patients(request: Request, caller: CurrentCaller) -> Response:
    """The doctor's patients, searched by name (``q``, accent- and case-insensitive), paged."""
    return await forward(request, caller, "/v1/patients")


@router.post("/patients", status_code=201)
async def create_patient(request: Request, caller: CurrentCaller, body: JsonBody) -> Response:
    """A new patient ``{first_name, last_name, date_of_birth, sex}`` → 201."""
    return await forward(request, caller, "/v1/patients", body)


@router.get("/patients/{patient_id}")
async def read_patient(patient_id: str, request: Request, caller: CurrentCaller) -> Response:
    """One of the doctor's patients; 404 when it is not theirs."""
    return await forward(request, caller, service_path("/v1/patients/{}", patient_id))


@router.patch("/patients/{patient_id}")
async def update_patient(patient_id: str, request: Request, caller: CurrentCaller, body: JsonBody) -> Response:
    """Change a patient's identity fields."""
    return await forward(request, caller, service_path("/v1/patients/{}", patient_id), body)


@router.post("/orders", status_code=201)
async def create_order(request: Request, caller: CurrentCaller, db: Database, body: JsonBody) -> Response:
    """A new draft ``{kind, patient_id? | patient?, ...sections}`` → 201 with ``id``, ``order_number``, ``case_id``,
    ``status: "draft"``; the doctor's defaults fill what the body leaves out; 422 for another doctor's practice."""
    await check_practice(db, caller, body)
    return await forward(request, caller, "/v1/orders", await with_defaults(db, caller.account, body), sent=body)


@router.get("/orders")
async def list_orders(request: Request, caller: CurrentCaller) -> Response:
    """The doctor's orders (``case_id``, ``status`` filters), paged."""
    return await forward(request, caller, "/v1/orders")


@router.get("/orders/{order_id}")
async def read_order(order_id: str, request: Request, caller: CurrentCaller) -> Response:
    """An order with its ``incomplete_sections``."""
    return await forward(request, caller, service_path("/v1/orders/{}", order_id))


@router.patch("/orders/{order_id}")
async def update_order(
    order_id: str, request: Request, caller: CurrentCaller, db: Database, body: JsonBody
) -> Response:
    """Deep-merge ``body`` into a draft; 409 once submitted; 422 for another doctor's practice."""
    await check_practice(db, caller, body)
    return await forward(request, caller, service_path("/v1/orders/{}", order_id), body)


@router.delete("/orders/{order_id}", status_code=204)
async def delete_order(order_id: str, request: Request, caller: CurrentCaller) -> Response:
    """Delete a draft (its case is then cancelled); 409 once submitted."""
    return await forward(request, caller, service_path("/v1/orders/{}", order_id))


@router.post("/orders/{order_id}/submit", status_code=202)
async def submit_order(order_id: str, request: Request, caller: CurrentCaller, db: Database) -> Response:
    """Validate the whole order (422 listing every problem) and submit it → 202 ``{order, case_id, case_status}``;
    422 when its ship-to practice was deleted since the draft named it."""
    draft = await downstream(request).call("orders", "GET", service_path("/v1/orders/{}", order_id), caller)
    if draft.status_code == 200 and draft.json().get("status") == "draft":
        await check_practice(db, caller, draft.json())
    return await forward(request, caller, service_path("/v1/orders/{}/submit", order_id))


@router.post("/cases/{case_id}/modifications", status_code=201)
async def start_modification(case_id: str, request: Request, caller: CurrentCaller, body: JsonBody) -> Response:
    """A modification draft ``{reason, source, step?, instructions}`` on an existing case; 409 once expired or
    cancelled."""
    return await forward(request, caller, service_path("/v1/cases/{}/modifications", case_id), body)
