"""The staff (lab) API (API.md "Staff (lab) API"), role ``staff`` (admins too): every case, setups published,
records problems, PVS impressions received, phases made, shipped and delivered, relayed to the cases service.
A lab member's read of a case is written to its doctor's audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from starlette.responses import Response

from services.cases.schemas import DeliverIn, PhaseIn, RecordsProblemIn, SetupIn, ShipIn
from services.gateway.api.cases import case_answer, list_answer, page_answer, relay
from services.gateway.auth import Staff
from services.gateway.downstream import relayed

router = APIRouter(prefix="/staff", tags=["staff"])


@router.get("/cases")
async def list_cases(request: Request, caller: Staff) -> Response:
    """Every case, with the orders list's filters, sorts and paging, plus ``doctor_id``."""
    return list_answer(await relay(request, caller, "/v1/staff/cases"))


@router.get("/cases/{case_id}")
async def read_case(case_id: str, request: Request, caller: Staff) -> Response:
    """The case page as the lab sees it ``{case, action_required: [], documents, history, meta}``; audited."""
    return page_answer(await relay(request, caller, "/v1/staff/cases/{}", case_id, audit="case.read"))


@router.get("/cases/{case_id}/setups")
async def list_setups(case_id: str, request: Request, caller: Staff) -> Response:
    """Every setup version of the case; audited."""
    return relayed(await relay(request, caller, "/v1/staff/cases/{}/setups", case_id, audit="case.setups.read"))


@router.post("/cases/{case_id}/setups", status_code=201)
async def publish_setup(
    case_id: str,
    request: Request,
    caller: Staff,
    technician_comment: Annotated[str, Form(max_length=5000)],
    steps_upper: Annotated[int, Form(ge=0, le=200)],
    steps_lower: Annotated[int, Form(ge=0, le=200)],
    file: Annotated[UploadFile | None, File(description="the setup's viewer file")] = None,
) -> Response:
    """Multipart ``technician_comment``, ``steps_upper``, ``steps_lower`` (and ``file``, the setup's viewer file) →
    201 ``{version, published_at, state, ...}``; the case goes to ``setup_approval_pending``. The documents
    service, which keeps files, does not take uploads yet: a request with a ``file`` is answered 501 and publishes
    nothing (publish without it)."""
    if file is not None:
        raise HTTPException(
            501, "setup files are kept by the documents service, which does not take uploads yet: publish without file"
        )
    body = SetupIn(technician_comment=technician_comment, steps_upper=steps_upper, steps_lower=steps_lower)
    answer = await relay(request, caller, "/v1/staff/cases/{}/setups", case_id, body=body)
    return relayed(answer)


@router.post("/cases/{case_id}/records-problem")
async def raise_records_problem(case_id: str, request: Request, caller: Staff, body: RecordsProblemIn) -> Response:
    """``{reason, slots?}``: quality control's problem with the records → 200 the case, ``submission_problem``."""
    return case_answer(await relay(request, caller, "/v1/staff/cases/{}/records-problem", case_id, body=body))


@router.post("/cases/{case_id}/impressions-received")
async def impressions_received(case_id: str, request: Request, caller: Staff) -> Response:
    """The PVS impressions box arrived → 200 the case (``setup_in_progress`` unless a record is still missing)."""
    return case_answer(await relay(request, caller, "/v1/staff/cases/{}/impressions-received", case_id))


@router.post("/cases/{case_id}/phases", status_code=201)
async def start_phase(case_id: str, request: Request, caller: Staff, body: PhaseIn) -> Response:
    """``{number, steps_from, steps_to}`` → 201 the phase; the case is ``in_production``."""
    return relayed(await relay(request, caller, "/v1/staff/cases/{}/phases", case_id, body=body))


@router.post("/cases/{case_id}/phases/{number}/ship")
async def ship_phase(case_id: str, number: int, request: Request, caller: Staff, body: ShipIn) -> Response:
    """``{carrier, tracking_number}`` → 200 the case, ``shipped`` (phase 1 sets the expiry date)."""
    template = "/v1/staff/cases/{}/phases/{}/ship"
    return case_answer(await relay(request, caller, template, case_id, str(number), body=body))


@router.post("/cases/{case_id}/phases/{number}/deliver")
async def deliver_phase(
    case_id: str, number: int, request: Request, caller: Staff, body: DeliverIn | None = None
) -> Response:
    """``{final}`` → 200 the case; ``last_phase_delivered`` when the phase was the last one."""
    template = "/v1/staff/cases/{}/phases/{}/deliver"
    return case_answer(await relay(request, caller, template, case_id, str(number), body=body))
