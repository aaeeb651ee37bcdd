"""Records and documents (API.md "Records and documents"), relayed to the documents service.

Uploads are read from the client's multipart form as they arrive and streamed on (:mod:`services.gateway.uploads`);
downloads and thumbnails stream back the same way, ``Range`` passed through; nothing holds a whole file. Each document
gets its ``content_url`` (and ``thumbnail_url`` for photos). Uploads, downloads and deletions are written to the case
owner's audit log (DOMAIN.md "Privacy"), refusals on another doctor's case included. A shipping label's sender is the
practice the order named (the gateway keeps practices), else the doctor's first practice.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from starlette.responses import Response

from services.gateway.audit import record
from services.gateway.auth import Caller, CaseActor, CaseDoctor, Database
from services.gateway.downstream import downstream, relayed, send, service_path, streamed
from services.gateway.models import Practice
from services.gateway.uploads import MultipartUpload, multipart_form
from shared.http import CASE_ID_HEADER, CASE_OWNER_HEADER
from shared.problems import ProblemError, ProblemRoute, invalid

router = APIRouter(tags=["documents"], route_class=ProblemRoute)


def with_urls(document: dict[str, Any]) -> dict[str, Any]:
    """A document of the documents service's answer with where its bytes (and thumbnail) are served."""
    base = f"/api/v1/documents/{document['id']}"
    thumbnail = f"{base}/thumbnail" if document.get("has_thumbnail") else None
    return {**document, "content_url": f"{base}/content", "thumbnail_url": thumbnail}


async def _audit(request: Request, caller: Caller, answer: httpx.Response, action: str, object_id: str) -> None:
    owner, case_id = answer.headers.get(CASE_OWNER_HEADER), answer.headers.get(CASE_ID_HEADER)
    if owner is None:
        return
    outcome = "allowed" if answer.status_code < 400 else "denied"
    await record(request, caller, action, "document", object_id, outcome, owner_doctor_id=owner, case_id=case_id)


def _json_answer(answer: httpx.Response, shape: Any) -> Response:
    if not answer.is_success:
        return relayed(answer)
    return JSONResponse(shape(answer.json()), status_code=answer.status_code)


async def store(
    request: Request, caller: Caller, case_id: str, form: MultipartUpload, slot: str, order_id: str | None = None
) -> httpx.Response:
    """Stream the file part of ``form`` to the documents service as a document of ``slot`` and return its (read)
    answer."""
    params = {"slot": slot, "filename": form.filename or slot}
    if order_id:
        params["order_id"] = order_id
    answer = await downstream(request).open(
        "documents",
        "POST",
        service_path("/v1/cases/{}/documents", case_id),
        caller.principal,
        params=params,
        content=form.file_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    try:
        await answer.aread()
    finally:
        await answer.aclose()
    return answer


UPLOAD_FORM = multipart_form(
    {"slot": {"type": "string", "description": "a record slot (DOMAIN.md)"}, "order_id": {"type": "string"}},
    ["slot", "file"],
)


@router.post("/cases/{case_id}/documents", status_code=201, openapi_extra=UPLOAD_FORM)
async def upload(case_id: str, request: Request, caller: CaseDoctor, db: Database) -> Response:
    """Multipart ``slot`` (and optional ``order_id``) then ``file``, streamed → 201 the document; 413 past the
    upload limit, 415 when the slot does not take the file's type, 422 for an empty or broken file, 408 when the
    client stops sending for a minute; audited. No database connection is held while the file streams."""
    await db.close()
    form = MultipartUpload(request, limit=request.app.state.runtime.settings.upload_max_bytes)
    fields = await form.fields()
    missing = [
        {"field": name, "message": f"send the {name} (the fields before the file)"}
        for name, present in (("slot", bool(fields.get("slot"))), ("file", form.has_file))
        if not present
    ]
    if missing:
        await form.drain()
        raise invalid(missing)
    answer = await store(request, caller, case_id, form, fields["slot"], fields.get("order_id"))
    document_id = answer.json().get("id") if answer.status_code == 201 else None
    await _audit(request, caller, answer, "document.upload", document_id or case_id)

    def shape(body: dict[str, Any]) -> dict[str, Any]:
        if "unpacked" in body:
            body["unpacked"] = [with_urls(item) for item in body["unpacked"]]
        return with_urls(body)

    return _json_answer(answer, shape)


@router.get("/cases/{case_id}/documents")
async def list_documents(case_id: str, request: Request, caller: CaseActor) -> Response:
    """Every document of the case ``{items: [document]}``, oldest first."""
    answer = await send(request, caller, "documents", service_path("/v1/cases/{}/documents", case_id))
    return _json_answer(answer, lambda body: {"items": [with_urls(d) for d in body["items"]]})


def checklist_with_urls(body: dict[str, Any]) -> dict[str, Any]:
    """A checklist of the documents service with each slot's document's URLs."""
    slots = [{**s, "document": with_urls(s["document"]) if s["document"] else None} for s in body["slots"]]
    return {**body, "slots": slots}


@router.get("/cases/{case_id}/records")
async def records(case_id: str, request: Request, caller: CaseActor) -> Response:
    """The records checklist: each slot, required or not, the document in it, ``complete``, ``missing``."""
    answer = await send(request, caller, "documents", service_path("/v1/cases/{}/records", case_id))
    return _json_answer(answer, checklist_with_urls)


async def _open(request: Request, caller: Caller, path: str) -> httpx.Response:
    headers = {"Range": request.headers["range"]} if "range" in request.headers else None
    return await downstream(request).open("documents", "GET", path, caller.principal, headers=headers)


@router.get("/documents/{document_id}/content", response_model=None)
async def content(document_id: str, request: Request, caller: CaseActor) -> Response:
    """The bytes (``Range`` supported), or 307 to a short-lived signed URL on the S3 backend; audited."""
    answer = await _open(request, caller, service_path("/v1/documents/{}/content", document_id))
    await _audit(request, caller, answer, "document.download", document_id)
    return streamed(answer)


@router.get("/documents/{document_id}/thumbnail", response_model=None)
async def thumbnail(document_id: str, request: Request, caller: CaseActor) -> Response:
    """A photo's thumbnail: JPEG, longest side 320 px, upright."""
    return streamed(await _open(request, caller, service_path("/v1/documents/{}/thumbnail", document_id)))


@router.delete("/documents/{document_id}", status_code=204, response_model=None)
async def delete_document(document_id: str, request: Request, caller: CaseDoctor) -> Response:
    """Delete a document while its order is a draft or its slot is marked missing (409 otherwise); audited."""
    answer = await send(request, caller, "documents", service_path("/v1/documents/{}", document_id))
    await _audit(request, caller, answer, "document.delete", document_id)
    return relayed(answer)


class ShippingLabelRequest(BaseModel):
    """``{method}``: how the PVS impressions travel."""

    method: Literal["standard", "express"]


def address_lines(practice: Practice) -> list[str]:
    """A practice's postal address, its name first."""
    city = " ".join(part for part in (practice.postal_code, practice.city) if part)
    lines = [practice.name, practice.line1, practice.line2, city, practice.region, practice.country]
    return [line for line in lines if line]


@router.post("/cases/{case_id}/shipping-labels", status_code=201)
async def create_shipping_label(
    case_id: str, request: Request, caller: CaseDoctor, db: Database, body: ShippingLabelRequest
) -> Response:
    """``{method}`` for PVS impressions → 201 the label document (a PDF with barcode and tracking number); 409 when
    the case's order mails no impressions or the doctor has no practice to send from; audited."""
    records_path = service_path("/v1/cases/{}/records", case_id)
    checklist = await downstream(request).call("documents", "GET", records_path, caller.principal)
    if not checklist.is_success:
        return relayed(checklist)
    practice_id = checklist.json().get("practice_id")
    practice = await db.get(Practice, practice_id) if practice_id else None
    if practice is None or practice.doctor_id != caller.doctor_id:
        first = await db.execute(
            select(Practice).where(Practice.doctor_id == caller.doctor_id).order_by(Practice.created_at).limit(1)
        )
        practice = first.scalar_one_or_none()
    if practice is None:
        raise ProblemError(409, "Conflict", "add a practice to your account first: the label needs its address")
    sent = {"method": body.method, "practice": address_lines(practice)}
    answer = await downstream(request).call(
        "documents", "POST", service_path("/v1/cases/{}/shipping-labels", case_id), caller.principal, json=sent
    )
    await _audit(request, caller, answer, "shipping_label.create", case_id)
    return _json_answer(answer, with_urls)
