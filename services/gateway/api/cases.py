"""Cases (API.md "Cases"): the orders list, the case page, setups, hold/resume/cancel, labels, comments, the
dashboard (its numbers from the cases service, its carousel from the notifications service), relayed with the
caller's internal token and collaborations.

What the gateway adds: the thumbnail URL of each case's main photo, the case page's parts other services own
(``documents``, null when the documents service does not answer), and the audit log (DOMAIN.md "Privacy"): every
read of a case and every approval is written, refused attempts on another doctor's case included, for that doctor to
read.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.cases.schemas import AnswerIn, ApproveIn, CommentIn, LabelAssign, LabelEdit, ReasonIn, ResumeIn
from services.gateway.api.documents import with_urls
from services.gateway.audit import record
from services.gateway.auth import Caller, CaseActor, CaseDoctor, Database
from services.gateway.composition import Part, compose
from services.gateway.downstream import relayed, send, service_path
from shared.http import CASE_OWNER_HEADER

router = APIRouter(tags=["cases"])


def thumbnail_url(document_id: str | None) -> str | None:
    """Where the thumbnail of a case's main photo is served (API.md "Records and documents")."""
    return f"/api/v1/documents/{document_id}/thumbnail" if document_id else None


def with_thumbnail(case: dict[str, Any]) -> dict[str, Any]:
    """A case of the cases service's answer with its ``photo_thumbnail_url``."""
    return {**case, "photo_thumbnail_url": thumbnail_url(case.get("main_photo_document_id"))}


async def audited(request: Request, caller: Caller, answer: httpx.Response, action: str, case_id: str) -> None:
    """Write ``action`` on case ``case_id`` to the owner's audit log: allowed when the cases service answered it,
    denied when it refused it (a case of another doctor's answers 404 to the caller)."""
    owner = answer.headers.get(CASE_OWNER_HEADER)
    if owner is None:
        return
    outcome = "allowed" if answer.is_success else "denied"
    await record(request, caller, action, "case", case_id, outcome, owner_doctor_id=owner, case_id=case_id)


async def relay(
    request: Request,
    caller: Caller,
    template: str,
    *ids: str,
    body: BaseModel | None = None,
    audit: str | None = None,
    sent: BaseModel | None = None,
) -> httpx.Response:
    """Send the request to the cases service at ``template`` (filled with ``ids``, the first being the case) with
    ``body`` (checked here against the cases service's own request model, so the API documents it), audit it as
    ``audit`` when named, and return the answer. ``sent`` is what the client's request amounts to when the gateway
    added to it (a retry under the same ``Idempotency-Key`` is matched against that)."""
    dumped = body.model_dump(mode="json", exclude_unset=True) if body is not None else None
    client = sent.model_dump(mode="json", exclude_unset=True) if sent is not None else None
    answer = await send(request, caller, "cases", service_path(template, *ids), dumped, sent=client)
    if audit is not None:
        await audited(request, caller, answer, audit, ids[0])
    return answer


def case_answer(answer: httpx.Response) -> Response:
    """The cases service's answer about one case, with its thumbnail URL when it succeeded."""
    if not answer.is_success:
        return relayed(answer)
    return JSONResponse(with_thumbnail(answer.json()), status_code=answer.status_code)


async def list_view(request: Request, caller: Caller, db: AsyncSession, path: str) -> Response:
    """A page of cases from the cases service's list at ``path`` (the request's filters, sorts and paging passed
    through), each with its thumbnail URL, within the views' deadline (503 with ``Retry-After`` past it), with the
    request's database session ``db`` given back first."""
    await db.close()
    part = Part("cases", "cases", path, required=True, params=list(request.query_params.multi_items()))
    answer = (await compose(request, caller, part)).required("cases")
    if not answer.is_success:
        return relayed(answer)
    page = answer.json()
    return JSONResponse({**page, "items": [with_thumbnail(item) for item in page["items"]]})


async def page_view(request: Request, caller: Caller, db: AsyncSession, case_id: str, template: str) -> Response:
    """The case page: the cases service's ``{case, action_required}`` at ``template`` (required), and its
    ``history`` and the documents service's ``documents`` and records checklist of the case (optional: null, and
    named in ``meta``, when they do not answer in time), asked at once, with the request's database session ``db``
    given back first (the audit writes in its own); the read is audited."""
    await db.close()
    composed = await compose(
        request,
        caller,
        Part("case", "cases", service_path(template, case_id), required=True, params={"history": "false"}),
        Part("history", "cases", service_path(template + "/history", case_id)),
        Part("documents", "documents", service_path("/v1/cases/{}/documents", case_id)),
        Part("records", "documents", service_path("/v1/cases/{}/records", case_id)),
    )
    answer = composed.required("case")
    await audited(request, caller, answer, "case.read", case_id)
    if not answer.is_success:
        return relayed(answer)
    page = with_checklist(answer.json(), composed.json("records"))
    listed, history = composed.json("documents"), composed.json("history")
    documents = [with_urls(d) for d in listed["items"]] if listed is not None else None
    body = {
        **page,
        "case": with_thumbnail(page["case"]),
        "documents": documents,
        "history": history["items"] if history is not None else None,
        "meta": composed.meta,
    }
    return JSONResponse(body)


def with_checklist(page: dict[str, Any], checklist: dict[str, Any] | None) -> dict[str, Any]:
    """The cases service's page with the slots still missing as the documents service's checklist of the same order
    has them now (the cases service knows the records check's answer, not the uploads since); unchanged without a
    checklist of that order."""
    records = page["case"].get("records") or {}
    if checklist is None or records.get("missing") is None or checklist["order_id"] != records.get("order_id"):
        return page
    missing = checklist["missing"]
    actions = [
        {**action, "missing": missing} if action["kind"] == "upload_records" else action
        for action in page["action_required"]
        if not (action["kind"] == "upload_records" and not missing)
    ]
    case = {**page["case"], "records": {**records, "missing": missing, "complete": not missing}}
    return {**page, "case": case, "action_required": actions}


@router.get("/cases")
async def list_cases(request: Request, caller: CaseDoctor, db: Database) -> Response:
    """The orders list: the doctor's cases and those shared with them; filters ``status`` (repeatable), ``bucket``,
    ``label_id``, ``package``, ``collaborator_status``, ``q``; ``sort`` by any column (``-`` for descending);
    ``page``, ``page_size``."""
    return await list_view(request, caller, db, "/v1/cases")


@router.get("/cases/{case_id}")
async def read_case(case_id: str, request: Request, caller: CaseDoctor, db: Database) -> Response:
    """The case page ``{case, action_required, documents, history, meta}``; audited."""
    return await page_view(request, caller, db, case_id, "/v1/cases/{}")


@router.get("/cases/{case_id}/setups")
async def list_setups(case_id: str, request: Request, caller: CaseDoctor) -> Response:
    """Every setup version with its technician comments and state; audited."""
    return relayed(await relay(request, caller, "/v1/cases/{}/setups", case_id, audit="case.setups.read"))


@router.post("/cases/{case_id}/setups/{version}/approve")
async def approve_setup(case_id: str, version: int, request: Request, caller: CaseDoctor, body: ApproveIn) -> Response:
    """``{package}`` → 200 the case, in production; only the treating doctor (403 for a collaborator); audited."""
    template = "/v1/cases/{}/setups/{}/approve"
    return case_answer(await relay(request, caller, template, case_id, str(version), body=body, audit="setup.approve"))


@router.post("/cases/{case_id}/setups/{version}/reject")
async def reject_setup(case_id: str, version: int, request: Request, caller: CaseDoctor, body: ReasonIn) -> Response:
    """``{reason}`` (required) → 200 the case; by the doctor, or a collaborator allowed to evaluate setups."""
    template = "/v1/cases/{}/setups/{}/reject"
    return case_answer(await relay(request, caller, template, case_id, str(version), body=body, audit="setup.reject"))


@router.post("/cases/{case_id}/setups/{version}/evaluate")
async def evaluate_setup(case_id: str, version: int, request: Request, caller: CaseDoctor) -> Response:
    """A collaborator opens the pending setup for evaluation → 200 the case (collaborator status
    ``setup_evaluation``)."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/setups/{}/evaluate", case_id, str(version)))


@router.post("/cases/{case_id}/setups/{version}/ready")
async def mark_setup_ready(case_id: str, version: int, request: Request, caller: CaseDoctor) -> Response:
    """A collaborator marks the pending setup ready for the doctor's approval → 200 the case."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/setups/{}/ready", case_id, str(version)))


@router.post("/cases/{case_id}/hold")
async def hold(case_id: str, request: Request, caller: CaseActor, body: ReasonIn) -> Response:
    """``{reason}`` → 200 the case, on hold; by its doctor or the lab; 409 unless in production or shipped."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/hold", case_id, body=body))


@router.post("/cases/{case_id}/resume")
async def resume(case_id: str, request: Request, caller: CaseActor, body: ResumeIn | None = None) -> Response:
    """``{reason?}`` → 200 the case, back to the status before the hold; 409 unless on hold."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/resume", case_id, body=body))


@router.post("/cases/{case_id}/cancel")
async def cancel(case_id: str, request: Request, caller: CaseActor, body: ReasonIn) -> Response:
    """``{reason}`` → 200 the case, cancelled; 409 once in production."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/cancel", case_id, body=body))


@router.post("/cases/{case_id}/records-problem/answer")
async def answer_records_problem(case_id: str, request: Request, caller: CaseDoctor, body: AnswerIn) -> Response:
    """``{answer}``: the doctor answers the lab's problem with the records → 200 the case, its setup in progress
    again; 409 unless the case has a records problem."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/records-problem/answer", case_id, body=body))


@router.put("/cases/{case_id}/label")
async def set_label(case_id: str, request: Request, caller: CaseDoctor, body: LabelAssign) -> Response:
    """``{label_id}``: one of the doctor's labels → 200 the case."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/label", case_id, body=body))


@router.delete("/cases/{case_id}/label", status_code=204)
async def remove_label(case_id: str, request: Request, caller: CaseDoctor) -> Response:
    """Take the label off the case → 204."""
    return relayed(await relay(request, caller, "/v1/cases/{}/label", case_id))


@router.put("/cases/{case_id}/comment")
async def set_comment(case_id: str, request: Request, caller: CaseDoctor, body: CommentIn) -> Response:
    """``{text}`` (2,000 characters at most; empty removes it) → 200 the case."""
    return case_answer(await relay(request, caller, "/v1/cases/{}/comment", case_id, body=body))


@router.get("/labels")
async def read_labels(request: Request, caller: CaseDoctor) -> Response:
    """The doctor's palette ``[{id, color, name}]``."""
    return relayed(await send(request, caller, "cases", "/v1/labels"))


@router.put("/labels")
async def rename_labels(request: Request, caller: CaseDoctor, body: list[LabelEdit]) -> Response:
    """``[{id, name}]``: rename colours of the palette → 200 the palette."""
    edits = [edit.model_dump(mode="json", exclude_unset=True) for edit in body]
    return relayed(await send(request, caller, "cases", "/v1/labels", edits))


@router.get("/dashboard")
async def dashboard(request: Request, caller: CaseDoctor, db: Database) -> Response:
    """``period=mtd|qtd|ytd|all``: ``{notifications, counts, insights, meta}``. The counts and insights (with the
    previous period and the change) come from the cases service (required), the carousel's newest
    :data:`CAROUSEL_SIZE` notifications from the notifications service (optional: null, and named in
    ``meta.degraded``, when it does not answer in time), asked at once; no database connection is held meanwhile."""
    await db.close()
    composed = await compose(
        request,
        caller,
        Part("counts", "cases", "/v1/dashboard", required=True, params=list(request.query_params.multi_items())),
        Part("notifications", "notifications", "/v1/notifications", params={"page_size": CAROUSEL_SIZE}),
    )
    answer = composed.required("counts")
    if not answer.is_success:
        return relayed(answer)
    carousel = composed.json("notifications")
    notifications = carousel["items"] if carousel is not None else None
    return JSONResponse({"notifications": notifications, **answer.json(), "meta": composed.meta})


CAROUSEL_SIZE = 50
"""Notifications the dashboard shows (the newest)."""
