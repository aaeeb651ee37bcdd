"""Documents of a case (API.md "Records and documents"): upload, list, checklist, download, thumbnail, delete.

An upload's body is the file's bytes (``application/octet-stream``; the gateway took them out of the client's
multipart form as they arrived), its slot, name and order in the query. A doctor uploads records into their own
cases; the lab's staff upload the lab's files (a setup's viewer file). Objects are stored before the row and its
``document.uploaded`` event are committed; a failed commit removes them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import delete, select

from services.documents import checklist
from services.documents.access import Access, Caller, await_case, find_case, find_document
from services.documents.downloads import byte_range, clean_filename, content_disposition
from services.documents.models import CaseFile, Document, OrderChecklist, new_id
from services.documents.photos import ensure_thumbnail, make_later
from services.documents.schemas import checklist_out, document_out
from services.documents.settings import SERVICE, Settings
from services.documents.storage import Storage
from services.documents.unpacking import read_manifest, unpack
from services.documents.uploads import drain, file_chunks, receive
from shared.events.documents import RECORD_SLOTS, DocumentDeleted, DocumentUploaded
from shared.messaging.outbox import add_event
from shared.problems import CaseRoute, ProblemError, content_too_large, invalid, not_found
from shared.service import Runtime

router = APIRouter(route_class=CaseRoute)
LAB_SLOTS = ("setup",)
"""Slots the lab's staff upload into (a setup's viewer file)."""
CASE_WAIT_SECONDS = 3.0
"""How long a request about a case this service does not know yet waits for the draft event that opens it."""


def _runtime(request: Request) -> tuple[Runtime, Settings, Storage]:
    runtime: Runtime = request.app.state.runtime
    return runtime, runtime.settings, runtime.extensions["storage"]  # type: ignore[return-value]


def spool_dir(settings: Settings) -> Path:
    """Where uploads that must be read twice (archives) and photo copies wait, inside the data directory."""
    return settings.data_dir / "spool"


def _check_slot(slot: str, access: Access) -> None:
    if slot in LAB_SLOTS:
        access.require("staff")
    elif slot in RECORD_SLOTS:
        access.require("owner")
    else:
        raise invalid([{"field": "slot", "message": f"unknown slot; expected one of {', '.join(RECORD_SLOTS)}"}])


async def _order_of(session: Any, case: CaseFile, order_id: str | None) -> str:
    if order_id is None:
        return case.current_order_id
    order = await session.get(OrderChecklist, order_id)
    if order is None or order.case_id != case.id:
        raise invalid([{"field": "order_id", "message": "not an order of this case"}])
    return order_id


def _new_document(access: Access, caller: Caller, **values: Any) -> Document:
    return Document(
        case_id=access.case.id, doctor_id=access.case.doctor_id, uploaded_by=str(caller.principal.user_id), **values
    )


def _uploaded_event(document: Document) -> DocumentUploaded:
    return DocumentUploaded(
        document_id=document.id,
        case_id=document.case_id,
        doctor_id=document.doctor_id,
        order_id=document.order_id,
        slot=document.slot,
        filename=document.filename,
        content_type=document.content_type,
        size_bytes=document.size_bytes,
        sha256=document.sha256,
        uploaded_at=document.created_at,
    )


async def commit_documents(runtime: Runtime, case_id: str, documents: list[Document], **extra_events: Any) -> None:
    """Add ``documents`` (their objects already stored) with their ``document.uploaded`` events in one transaction
    that locks the case, then let the checklist see them; if the commit fails their objects are deleted."""
    storage: Storage = runtime.extensions["storage"]
    try:
        async with runtime.sessions() as session, session.begin():
            case = await session.get(CaseFile, case_id, with_for_update=True, populate_existing=True)
            assert case is not None
            for document in documents:
                session.add(document)
                await session.flush()
                add_event(session, _uploaded_event(document), source=SERVICE, subject=document.id, aggregate_version=1)
            for payload in extra_events.values():
                add_event(session, payload, source=SERVICE, subject=documents[0].id, aggregate_version=1)
            for order_id in {d.order_id for d in documents}:
                await checklist.after_upload(session, case, order_id)
    except BaseException:
        for document in documents:
            await storage.delete(document.storage_key)
        raise


@router.post("/cases/{case_id}/documents", status_code=201)
async def upload(
    case_id: str,
    request: Request,
    caller: Caller,
    slot: Annotated[str, Query(max_length=40)],
    filename: Annotated[str, Query(max_length=1000)],
    order_id: Annotated[str | None, Query(max_length=36)] = None,
) -> JSONResponse:
    """The request body is the file (streamed): 201 the document; a scanner export's ZIP also lists the documents
    unpacked from it in ``unpacked``. 413 past the upload limit, 415 when the slot does not take the file's type, 422
    for an empty or broken file or an unsafe archive, 404 for a case that is not the caller's."""
    runtime, settings, storage = _runtime(request)
    stream = request.stream()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.upload_max_bytes:
        await drain(stream)
        raise content_too_large(settings.upload_max_bytes)
    name = clean_filename(filename)
    if not name:
        await drain(stream)
        raise invalid(
            [{"field": "filename", "message": "the file name is empty once path and control characters are removed"}]
        )
    await await_case(runtime.sessions, case_id, CASE_WAIT_SECONDS)
    async with runtime.sessions() as session:
        try:
            access = await find_case(session, case_id, caller)
            _check_slot(slot, access)
            order = await _order_of(session, access.case, order_id)
        except BaseException:
            await drain(stream)
            raise
    document_id = new_id()
    key = f"cases/{case_id}/{document_id}"
    received = await receive(
        stream, storage, key, slot=slot, limit=settings.upload_max_bytes, spool_dir=spool_dir(settings)
    )
    unpacked = []
    try:
        if received.spooled is not None:
            export = read_manifest(received.spooled, settings.upload_max_bytes)
            if export is not None:
                unpacked = await unpack(received.spooled, export, storage, case_id, limit=settings.upload_max_bytes)
            try:
                await storage.put(key, file_chunks(received.spooled), content_type="application/zip")
            except BaseException:
                for done in unpacked:
                    await storage.delete(done.storage_key)
                raise
            if export is not None:
                received.content.facts.update({"scanner": export.scanner, "unpacked": len(unpacked)})
    finally:
        received.discard()
    document = _new_document(
        access,
        caller,
        id=document_id,
        order_id=order,
        slot=slot,
        filename=name,
        kind=received.content.kind,
        content_type=received.content.content_type,
        size_bytes=received.size_bytes,
        sha256=received.sha256,
        facts=dict(received.content.facts),
        storage_key=key,
    )
    children = [
        _new_document(
            access,
            caller,
            id=item.document_id,
            order_id=order,
            slot=item.slot,
            filename=clean_filename(item.filename) or item.slot,
            kind=item.content.kind,
            content_type=item.content.content_type,
            size_bytes=item.size_bytes,
            sha256=item.sha256,
            facts=dict(item.content.facts),
            storage_key=item.storage_key,
            source_document_id=document_id,
        )
        for item in unpacked
    ]
    await commit_documents(runtime, case_id, [document, *children])
    make_later(storage, runtime.sessions, [document, *children], spool_dir(settings))
    body = document_out(document)
    if received.content.kind == "zip":
        body["unpacked"] = [document_out(child) for child in children]
    return JSONResponse(body, status_code=201)


@router.get("/cases/{case_id}/documents")
async def list_documents(case_id: str, request: Request, caller: Caller) -> JSONResponse:
    """Every document of the case, oldest first: ``{items: [document]}``."""
    runtime, _, _ = _runtime(request)
    await await_case(runtime.sessions, case_id, CASE_WAIT_SECONDS)
    async with runtime.sessions() as session:
        await find_case(session, case_id, caller)
        found = await session.execute(
            select(Document).where(Document.case_id == case_id).order_by(Document.created_at, Document.id)
        )
        documents = list(found.scalars())
    return JSONResponse({"items": [document_out(d) for d in documents]})


@router.get("/cases/{case_id}/records")
async def records(case_id: str, request: Request, caller: Caller) -> JSONResponse:
    """The records checklist of the case's current order (:func:`~services.documents.schemas.checklist_out`)."""
    runtime, _, _ = _runtime(request)
    await await_case(runtime.sessions, case_id, CASE_WAIT_SECONDS)
    async with runtime.sessions() as session:
        access = await find_case(session, case_id, caller)
        order, states = await checklist.slot_states(session, access.case)
    return JSONResponse(checklist_out(case_id, order, states))


@router.get("/documents/{document_id}")
async def read_document(document_id: str, request: Request, caller: Caller) -> JSONResponse:
    """One document's metadata."""
    runtime, _, _ = _runtime(request)
    async with runtime.sessions() as session:
        document, _ = await find_document(session, document_id, caller)
    return JSONResponse(document_out(document))


@router.get("/documents/{document_id}/content", response_model=None)
async def content(document_id: str, request: Request, caller: Caller) -> Response:
    """The document's bytes, streamed, with its original name in ``Content-Disposition`` and ``ETag`` its SHA-256;
    one ``Range`` is honoured (206, or 416 past the end). On the S3 backend: 307 to a short-lived signed URL."""
    runtime, _, storage = _runtime(request)
    async with runtime.sessions() as session:
        document, _ = await find_document(session, document_id, caller)
    disposition = content_disposition(document.filename)
    signed = storage.signed_url(
        document.storage_key, content_disposition=disposition, content_type=document.content_type
    )
    if signed is not None:
        return RedirectResponse(signed, status_code=307, headers={"Cache-Control": "no-store"})
    headers = {
        "Content-Disposition": disposition,
        "Accept-Ranges": "bytes",
        "ETag": f'"{document.sha256}"',
        "Cache-Control": "private, no-store",
    }
    wanted = byte_range(request.headers.get("range"), document.size_bytes)
    if wanted is None:
        headers["Content-Length"] = str(document.size_bytes)
        body = storage.read(document.storage_key)
        return StreamingResponse(body, media_type=document.content_type, headers=headers)
    start, length = wanted
    headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{document.size_bytes}"
    headers["Content-Length"] = str(length)
    body = storage.read(document.storage_key, start, length)
    return StreamingResponse(body, status_code=206, media_type=document.content_type, headers=headers)


@router.get("/documents/{document_id}/thumbnail", response_model=None)
async def thumbnail(document_id: str, request: Request, caller: Caller) -> Response:
    """The photo's thumbnail (JPEG, longest side 320 px, upright), made now if it is not ready; 404 for a document
    that is not a photo."""
    runtime, settings, storage = _runtime(request)
    async with runtime.sessions() as session:
        await find_document(session, document_id, caller)
    key = await ensure_thumbnail(storage, runtime.sessions, document_id, spool_dir(settings))
    if key is None:
        raise ProblemError(404, "Not Found", "this document has no thumbnail: thumbnails are made of photos")
    headers = {"Cache-Control": "private, max-age=86400"}
    return StreamingResponse(storage.read(key), media_type="image/jpeg", headers=headers)


@router.delete("/documents/{document_id}", status_code=204, response_model=None)
async def delete_document(document_id: str, request: Request, caller: Caller) -> Response:
    """Delete a document: by the treating doctor (the lab's staff for the lab's files), only while its order is a
    draft or its slot is one the records check found missing (409 otherwise)."""
    runtime, _, storage = _runtime(request)
    async with runtime.sessions() as session, session.begin():
        document, access = await find_document(session, document_id, caller)
        access.require("staff" if document.slot in LAB_SLOTS else "owner")
        await session.get(CaseFile, access.case.id, with_for_update=True)
        order = await session.get(OrderChecklist, document.order_id) if document.order_id else None
        if document.slot in RECORD_SLOTS and not checklist.deletable(document, order):
            raise ProblemError(
                409,
                "Conflict",
                "records of a submitted order may only be deleted while their slot is marked missing",
                slot=document.slot,
            )
        payload = DocumentDeleted(
            document_id=document.id, case_id=document.case_id, doctor_id=document.doctor_id, slot=document.slot
        )
        gone = await session.execute(delete(Document).where(Document.id == document.id))
        if gone.rowcount != 1:  # a concurrent request deleted it first
            raise not_found("document")
        add_event(session, payload, source=SERVICE, subject=document.id, aggregate_version=2)
    for key in (document.storage_key, document.thumbnail_key):
        if key:
            await storage.delete(key)
    return Response(status_code=204)
