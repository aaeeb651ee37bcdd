"""Patients and orders (API.md "Patients and orders"): relayed to the orders service with the caller's internal
token. A new order gets the doctor's defaults where the body leaves them out: the first practice as ship-to and the
clinical preferences of the account (``/account/preferences``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from starlette.responses import Response

from services.gateway.api.preferences import preferences_of
from services.gateway.auth import Caller, CurrentCaller, Database
from services.gateway.downstream import downstream, forward, service_path
from services.gateway.models import Account, Collaborator, Practice

router = APIRouter(tags=["patients and orders"])
JsonBody = Annotated[dict[str, Any], Body(description="see API.md 'Order body'")]


async def check_references(db: Database, caller: Caller, body: dict[str, Any]) -> None:
    """422 naming every field that refers to something that is not the doctor's: ``general.practice_id`` (practices
    live here, the orders service cannot know) and each of ``additional.collaborator_ids`` (the doctor's
    collaborators, ``/account/collaborators``)."""
    errors: list[dict[str, Any]] = []
    general = body.get("general")
    practice_id = general.get("practice_id") if isinstance(general, dict) else None
    if practice_id is not None:
        practice = await db.get(Practice, practice_id) if isinstance(practice_id, str) else None
        if practice is None or practice.doctor_id != caller.account.id:
            errors.append({"loc": ("body", "general", "practice_id"), "msg": "not one of your practices"})
    additional = body.get("additional")
    collaborator_ids = additional.get("collaborator_ids") if isinstance(additional, dict) else None
    if isinstance(collaborator_ids, list):
        wanted = [item for item in collaborator_ids if isinstance(item, str)]
        found = await db.execute(
            select(Collaborator.id).where(Collaborator.id.in_(wanted), Collaborator.doctor_id == caller.account.id)
        )
        mine = set(found.scalars())
        for index, item in enumerate(collaborator_ids):
            if isinstance(item, str) and item not in mine:
                loc = ("body", "additional", f"collaborator_ids[{index}]")
                errors.append({"loc": loc, "msg": "not one of your collaborators"})
    if errors:
        raise RequestValidationError([{**error, "type": "value_error"} for error in errors])


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
    return await forward(request, caller, "orders", "/v1/patients")


@router.post("/patients", status_code=201)
async def create_patient(request: Request, caller: CurrentCaller, body: JsonBody) -> Response:
    """A new patient ``{first_name, last_name, date_of_birth, sex}`` → 201."""
    return await forward(request, caller, "orders", "/v1/patients", body)


@router.get("/patients/{patient_id}")
async def read_patient(patient_id: str, request: Request, caller: CurrentCaller) -> Response:
    """One of the doctor's patients; 404 when it is not theirs."""
    return await forward(request, caller, "orders", service_path("/v1/patients/{}", patient_id))


@router.patch("/patients/{patient_id}")
async def update_patient(patient_id: str, request: Request, caller: CurrentCaller, body: JsonBody) -> Response:
    """Change a patient's identity fields."""
    return await forward(request, caller, "orders", service_path("/v1/patients/{}", patient_id), body)


@router.post("/orders", status_code=201)
async def create_order(request: Request, caller: CurrentCaller, db: Database, body: JsonBody) -> Response:
    """A new draft ``{kind, patient_id? | patient?, ...sections}`` → 201 with ``id``, ``order_number``, ``case_id``,
    ``status: "draft"``; the doctor's defaults fill what the body leaves out; 422 for another doctor's practice or
    collaborator."""
    await check_references(db, caller, body)
    return await forward(
        request, caller, "orders", "/v1/orders", await with_defaults(db, caller.account, body), sent=body
    )


@router.get("/orders")
async def list_orders(request: Request, caller: CurrentCaller) -> Response:
    """The doctor's orders (``case_id``, ``status`` filters), paged."""
    return await forward(request, caller, "orders", "/v1/orders")


@router.get("/orders/{order_id}")
async def read_order(order_id: str, request: Request, caller: CurrentCaller) -> Response:
    """An order with its ``incomplete_sections``."""
    return await forward(request, caller, "orders", service_path("/v1/orders/{}", order_id))


@router.patch("/orders/{order_id}")
async def update_order(
    order_id: str, request: Request, caller: CurrentCaller, db: Database, body: JsonBody
) -> Response:
    """Deep-merge ``body`` into a draft; 409 once submitted; 422 for another doctor's practice or collaborator."""
    await check_references(db, caller, body)
    return await forward(request, caller, "orders", service_path("/v1/orders/{}", order_id), body)


@router.delete("/orders/{order_id}", status_code=204)
async def delete_order(order_id: str, request: Request, caller: CurrentCaller) -> Response:
    """Delete a draft (its case is then cancelled); 409 once submitted."""
    return await forward(request, caller, "orders", service_path("/v1/orders/{}", order_id))


@router.post("/orders/{order_id}/submit", status_code=202)
async def submit_order(order_id: str, request: Request, caller: CurrentCaller, db: Database) -> Response:
    """Validate the whole order (422 listing every problem) and submit it → 202 ``{order, case_id, case_status}``;
    422 when its ship-to practice or a collaborator was deleted since the draft named it."""
    path = service_path("/v1/orders/{}", order_id)
    draft = await downstream(request).call("orders", "GET", path, caller.principal)
    if draft.status_code == 200 and draft.json().get("status") == "draft":
        await check_references(db, caller, draft.json())
    return await forward(request, caller, "orders", service_path("/v1/orders/{}/submit", order_id))


@router.post("/cases/{case_id}/modifications", status_code=201)
async def start_modification(case_id: str, request: Request, caller: CurrentCaller, body: JsonBody) -> Response:
    """A modification draft ``{reason, source, step?, instructions}`` on an existing case; 409 once expired or
    cancelled."""
    return await forward(request, caller, "orders", service_path("/v1/cases/{}/modifications", case_id), body)
