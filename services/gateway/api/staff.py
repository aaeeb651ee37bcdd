"""The staff (lab) API (API.md "Staff (lab) API"), role ``staff`` (admins too): every case, setups published,
records problems, PVS impressions received, phases made, shipped and delivered, relayed to the cases service.
A lab member's read of a case is written to its doctor's audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from services.cases.schemas import DeliverIn, PhaseIn, RecordsProblemIn, SetupIn, ShipIn
from services.gateway.api.cases import case_answer, list_view, page_view, relay
from services.gateway.api.documents import store
from services.gateway.auth import Database, Staff
from services.gateway.downstream import downstream, relayed, service_path
from services.gateway.uploads import MultipartUpload, multipart_form
from shared.problems import ProblemError, ProblemRoute, invalid

router = APIRouter(prefix="/staff", tags=["staff"], route_class=ProblemRoute)


@router.get("/cases")
async def list_cases(request: Request, caller: Staff, db: Database) -> Response:
    """Every case, with the orders list's filters, sorts and paging, plus ``doctor_id``."""
    return await list_view(request, caller, db, "/v1/staff/cases")


@router.get("/cases/{case_id}")
async def read_case(case_id: str, request: Request, caller: Staff, db: Database) -> Response:
    """The case page as the lab sees it ``{case, action_required: [], documents, history, meta}``; audited."""
    return await page_view(request, caller, db, case_id, "/v1/staff/cases/{}")


@router.get("/cases/{case_id}/setups")
async def list_setups(case_id: str, request: Request, caller: Staff) -> Response:
    """Every setup version of the case; audited."""
    return relayed(await relay(request, caller, "/v1/staff/cases/{}/setups", case_id, audit="case.setups.read"))


SETUP_FORM = multipart_form(
    {
        "technician_comment": {"type": "string", "maxLength": 5000},
        "steps_upper": {"type": "integer", "minimum": 0},
        "steps_lower": {"type": "integer", "minimum": 0},
    },
    ["technician_comment", "steps_upper", "steps_lower"],
)


@router.post("/cases/{case_id}/setups", status_code=201, openapi_extra=SETUP_FORM)
async def publish_setup(case_id: str, request: Request, caller: Staff, db: Database) -> Response:
    """Form ``technician_comment``, ``steps_upper``, ``steps_lower``, then optionally ``file`` (the setup's
    viewer file, streamed to the documents service as a document of the case, slot ``setup``) → 201 ``{version,
    published_at, state, ...}``; the case goes to ``setup_approval_pending``. A setup the cases service refuses
    leaves no file behind, nor does a retry under the same ``Idempotency-Key`` (answered the first setup, with the
    first file). Without a file the form may be URL-encoded. No database connection is held while the
    file streams."""
    await db.close()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields = {key: str(value) for key, value in (await request.form()).items()}
        body = _setup(fields)
        return relayed(await relay(request, caller, "/v1/staff/cases/{}/setups", case_id, body=body))
    form = MultipartUpload(request, limit=request.app.state.runtime.settings.upload_max_bytes)
    fields = await form.fields()
    try:
        body = _setup(fields)
    except ProblemError:
        await form.drain()
        raise
    if not form.has_file:
        return relayed(await relay(request, caller, "/v1/staff/cases/{}/setups", case_id, body=body))
    stored = await store(request, caller, case_id, form, "setup")
    if stored.status_code != 201:
        return relayed(stored)
    document_id = stored.json()["id"]
    with_file = body.model_copy(update={"document_id": document_id})
    answer = await relay(request, caller, "/v1/staff/cases/{}/setups", case_id, body=with_file, sent=body)
    if not answer.is_success or answer.json().get("document_id") != document_id:  # refused, or a retry's replay
        await downstream(request).call(
            "documents", "DELETE", service_path("/v1/documents/{}", document_id), caller.principal
        )
    return relayed(answer)


def _setup(fields: dict[str, str]) -> SetupIn:
    """The setup the form's fields describe; 422 naming every field that is missing or wrong."""
    values: dict[str, object] = {"technician_comment": fields.get("technician_comment")}
    errors = []
    for name in ("steps_upper", "steps_lower"):
        try:
            values[name] = int(fields[name])
        except (KeyError, ValueError):
            errors.append({"field": name, "message": "a whole number of aligner steps is required"})
    if errors:
        raise invalid(errors)
    try:
        return SetupIn.model_validate(values)
    except ValidationError as exc:
        raise invalid([{"field": str(e["loc"][0]), "message": e["msg"]} for e in exc.errors()]) from exc


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
