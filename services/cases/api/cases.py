"""Routes of the orders list and the case page, and the moves doctors and staff make on a case: hold, resume,
cancel, answer a records problem (API.md "Cases", "Staff (lab) API")."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from services.cases.api.access import Caller, Database, StaffCaller, Viewer, find_case
from services.cases.api.pages import active_link, case_answer, case_history, case_page, latest_setup
from services.cases.lifecycle import clear_records_problem, move
from services.cases.listing import SORT_KEYS, ListQuery, list_cases
from services.cases.schemas import AnswerIn, ReasonIn, ResumeIn
from services.cases.statuses import BEFORE_HOLD, BUCKETS, Action
from services.cases.views import case_item
from shared.db import utcnow
from shared.events.cases import CasePackage, CaseStatus, CollaboratorStatus
from shared.paging import PageNumber, PageSize
from shared.problems import CaseRoute

router = APIRouter(route_class=CaseRoute)


Statuses = Annotated[list[CaseStatus] | None, Query(description="repeatable: cases in any of these statuses")]
Bucket = Annotated[Literal[BUCKETS] | None, Query()]  # type: ignore[valid-type]
Sort = Annotated[Literal[SORT_KEYS], Query(description="a column, '-' first for descending")]  # type: ignore[valid-type]


def list_request(
    status: Statuses = None,
    bucket: Bucket = None,
    label_id: Annotated[str | None, Query(max_length=36)] = None,
    package: Annotated[CasePackage | None, Query()] = None,
    collaborator_status: Annotated[CollaboratorStatus | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="order number or patient name, any accents")] = None,
    sort: Sort = "-created_at",
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> ListQuery:
    """The orders list's query parameters (API.md "Cases" ``GET /cases``; 422 for a value out of its range)."""
    return ListQuery(
        statuses=tuple(status or ()),
        bucket=bucket,
        label_id=label_id,
        package=package,
        collaborator_status=collaborator_status,
        q=q,
        sort=sort,
        page=page,
        page_size=page_size,
    )


ListRequest = Annotated[ListQuery, Depends(list_request)]


async def _page(session: Database, viewer: Viewer, request: ListQuery) -> JSONResponse:
    mine = replace(request, extra=(viewer.visible(),), viewer_doctor_id=viewer.doctor_id)
    rows, total = await list_cases(session, mine)
    today = utcnow().date()
    items = [case_item(case, label, today, owner=case.doctor_id == viewer.doctor_id) for case, label in rows]
    return JSONResponse({"items": items, "page": request.page, "page_size": request.page_size, "total": total})


@router.get("/cases")
async def orders_list(viewer: Caller, session: Database, request: ListRequest) -> JSONResponse:
    """The orders list: the caller's cases and those shared with them (every case for staff), filtered, searched,
    sorted and paged: ``{items: [case], page, page_size, total}``."""
    return await _page(session, viewer, request)


@router.get("/staff/cases")
async def staff_list(
    viewer: StaffCaller,
    session: Database,
    request: ListRequest,
    doctor_id: Annotated[str | None, Query(max_length=36)] = None,
) -> JSONResponse:
    """Every case, for the lab: the orders list's filters plus ``doctor_id``."""
    return await _page(session, viewer, replace(request, doctor_id=doctor_id))


WithHistory = Annotated[bool, Query(description="false: leave the history out (ask /history apart)")]


@router.get("/cases/{case_id}")
async def read_case(case_id: str, viewer: Caller, session: Database, history: WithHistory = True) -> JSONResponse:
    """The case page: ``{case, action_required, history}`` (without ``history`` when asked); 404 when the caller
    may not see the case."""
    return JSONResponse(await case_page(session, await find_case(session, case_id, viewer), history))


@router.get("/staff/cases/{case_id}")
async def staff_read_case(
    case_id: str, viewer: StaffCaller, session: Database, history: WithHistory = True
) -> JSONResponse:
    """The case page as the lab sees it (no action required of the lab is listed)."""
    return JSONResponse(await case_page(session, await find_case(session, case_id, viewer), history))


@router.get("/cases/{case_id}/history")
async def read_history(case_id: str, viewer: Caller, session: Database) -> JSONResponse:
    """The case's history ``{items: [{at, kind, actor, summary, details}]}``, oldest first; 404 as the page."""
    return JSONResponse({"items": await case_history(session, (await find_case(session, case_id, viewer)).case)})


@router.get("/staff/cases/{case_id}/history")
async def staff_read_history(case_id: str, viewer: StaffCaller, session: Database) -> JSONResponse:
    """The case's history as the lab sees it."""
    return JSONResponse({"items": await case_history(session, (await find_case(session, case_id, viewer)).case)})


@router.post("/cases/{case_id}/hold")
async def hold(case_id: str, body: ReasonIn, viewer: Caller, session: Database) -> JSONResponse:
    """Put a case in production or shipped on hold, with a reason → 200 the case; by its doctor or the lab. 409
    from any other status."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner", "staff")
    move(session, access.case, Action.HOLD, "on_hold", access.actor(viewer), "Case put on hold", reason=body.reason)
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/cases/{case_id}/resume")
async def resume(case_id: str, viewer: Caller, session: Database, body: ResumeIn | None = None) -> JSONResponse:
    """Resume a case on hold: back to the status it had before → 200 the case; by its doctor or the lab."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner", "staff")
    reason = body.reason if body else None
    move(session, access.case, Action.RESUME, BEFORE_HOLD, access.actor(viewer), "Case resumed", reason=reason)
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/cases/{case_id}/cancel")
async def cancel(case_id: str, body: ReasonIn, viewer: Caller, session: Database) -> JSONResponse:
    """Cancel a case before production, with a reason → 200 the case; by its doctor (before approval) or the lab
    (before production). A setup still awaiting the doctor is withdrawn and the patient link stops working. 409 once
    in production."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner", "staff")
    case = access.case
    move(session, case, Action.CANCEL, "cancelled", access.actor(viewer), "Case cancelled", reason=body.reason)
    pending = await latest_setup(session, case)
    if pending is not None and pending.state == "pending":
        pending.state = case.setup_state = "withdrawn"
    link = await active_link(session, case)
    if link is not None:
        link.revoked_at = utcnow()
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/cases/{case_id}/records-problem/answer")
async def answer_records_problem(case_id: str, body: AnswerIn, viewer: Caller, session: Database) -> JSONResponse:
    """The doctor answers the lab's records problem (a question, or records sent another way) → 200 the case, back to
    ``setup_in_progress``. 409 unless the case has a records problem."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner")
    case = access.case
    move(
        session,
        case,
        Action.RESOLVE_RECORDS_PROBLEM,
        "setup_in_progress",
        access.actor(viewer),
        "Records problem answered",
        reason=body.answer,
    )
    clear_records_problem(case)
    await session.commit()
    return JSONResponse(await case_answer(session, access))
