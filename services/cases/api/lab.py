"""Routes the lab drives a case with after the order: records problems, PVS impressions received, phases made,
shipped and delivered (API.md "Staff (lab) API"; DOMAIN.md "phase", "Expiration").

Phases are numbered 1, 2, ... in order; a phase is made only once the previous one has shipped, covers steps of the
approved setup, ships with a carrier and tracking number, and is delivered once shipped. Phase 1's shipment starts
the expiry clock.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.api.access import Database, StaffCaller, find_case
from services.cases.api.pages import case_answer, latest_setup, phases_of
from services.cases.expiry import expiry_of
from services.cases.intake import intake_target, records_result
from services.cases.lifecycle import identity, move, publish
from services.cases.models import Phase
from services.cases.schemas import DeliverIn, PhaseIn, RecordsProblemIn, ShipIn
from services.cases.statuses import Action, check
from services.cases.views import phase_body
from shared.db import utcnow
from shared.events.cases import PhaseDelivered, PhaseShipped
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.problems import CaseRoute, invalid, not_found

router = APIRouter(route_class=CaseRoute)
Number = Annotated[int, Path(ge=1, le=1000)]


@router.post("/staff/cases/{case_id}/records-problem")
async def raise_records_problem(
    case_id: str, body: RecordsProblemIn, viewer: StaffCaller, session: Database
) -> JSONResponse:
    """Quality control rejects the records with a reason (and the slots to send again) → 200 the case,
    ``submission_problem``; 409 unless the setup is in progress."""
    access = await find_case(session, case_id, viewer, lock=True)
    case = access.case
    slots = list(dict.fromkeys(body.slots))
    summary = "Problem with the records" + (": " + ", ".join(slots) if slots else "")
    move(
        session,
        case,
        Action.RAISE_RECORDS_PROBLEM,
        "submission_problem",
        access.actor(viewer),
        summary,
        reason=body.reason,
        slots=slots,
    )
    case.problem_slots, case.problem_reason, case.problem_raised_at = slots, body.reason, utcnow()
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/staff/cases/{case_id}/impressions-received")
async def impressions_received(case_id: str, viewer: StaffCaller, session: Database) -> JSONResponse:
    """The PVS impressions box arrived → 200 the case: ``setup_in_progress``, or still ``awaiting_records`` while a
    required photo is missing. 409 for a case without PVS impressions, or whose box already arrived."""
    access = await find_case(session, case_id, viewer, lock=True)
    case = access.case
    if case.status == "awaiting_records" and (not case.intake_pvs or case.impressions_received_at is not None):
        why = (
            "its impressions already arrived" if case.intake_pvs else "its order has digital scans, not PVS impressions"
        )
        raise access.conflict(viewer, f"the case waits for no PVS impressions: {why}")
    case.impressions_received_at = utcnow()
    result = await records_result(session, case)
    target = (
        intake_target(
            pvs=True,
            impressions_received=True,
            required=list(case.intake_required_slots),
            complete=None if result is None else result.complete,
        )
        or "awaiting_records"
    )
    summary = "PVS impressions received" + ("" if target == "setup_in_progress" else "; records still missing")
    move(session, case, Action.RECEIVE_IMPRESSIONS, target, access.actor(viewer), summary)
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/staff/cases/{case_id}/phases", status_code=201)
async def start_phase(
    case_id: str, body: PhaseIn, request: Request, viewer: StaffCaller, session: Database
) -> JSONResponse:
    """Put phase ``number`` (aligner steps ``steps_from`` to ``steps_to``) into production → 201 the phase; the case
    is ``in_production``. 409 when the case is not in production or shipped, or the previous phase has not shipped;
    422 when the number is not the next one, or the steps are outside the approved setup or already made in a
    phase of it (a setup approved again after a modification starts its steps anew)."""
    if body.steps_to < body.steps_from:
        raise invalid([{"field": "steps_to", "message": "must not be below steps_from"}])

    async def work(db: AsyncSession) -> tuple[int, Any]:
        access = await find_case(db, case_id, viewer, lock=True)
        case = access.case
        check(case.status, Action.START_PHASE, "in_production", "staff")
        phases = await phases_of(db, case)
        if phases and phases[-1].shipped_at is None:
            raise access.conflict(viewer, f"phase {phases[-1].number} has not shipped yet")
        following = (phases[-1].number if phases else 0) + 1
        if body.number != following:
            raise invalid([{"field": "number", "message": f"the next phase of this case is {following}"}])
        setup = await latest_setup(db, case)
        most = max(setup.steps_upper, setup.steps_lower) if setup and setup.state == "approved" else None
        if most is not None and body.steps_to > most:
            raise invalid([{"field": "steps_to", "message": f"the approved setup has {most} steps"}])
        of_this_setup = [p for p in phases if case.approved_at is None or p.created_at >= case.approved_at]
        if of_this_setup and body.steps_from <= of_this_setup[-1].steps_to:
            made = of_this_setup[-1]
            message = f"steps up to {made.steps_to} are made in phase {made.number}: start at {made.steps_to + 1}"
            raise invalid([{"field": "steps_from", "message": message}])
        summary = f"Phase {body.number} in production (steps {body.steps_from} to {body.steps_to})"
        move(db, case, Action.START_PHASE, "in_production", access.actor(viewer), summary, number=body.number)
        phase = Phase(
            case_id=case.id, number=body.number, steps_from=body.steps_from, steps_to=body.steps_to, created_at=utcnow()
        )
        db.add(phase)
        return 201, phase_body(phase)

    owner = str(viewer.principal.user_id)
    return await run_idempotent(session, owner, key_of(request), fingerprint(request, body.model_dump()), work)


async def _phase(session: AsyncSession, case_id: str, number: int) -> Phase:
    phase = await session.get(Phase, (case_id, number))
    if phase is None:
        raise not_found("phase")
    return phase


@router.post("/staff/cases/{case_id}/phases/{number}/ship")
async def ship_phase(
    case_id: str, number: Number, body: ShipIn, viewer: StaffCaller, session: Database
) -> JSONResponse:
    """Phase ``number`` left the lab with ``carrier`` and ``tracking_number`` → 200 the case, ``shipped``. Phase 1's
    shipment sets the expiry date (the package's months later; none for FLEX). 409 when already shipped or the case
    is not in production."""
    access = await find_case(session, case_id, viewer, lock=True)
    check(access.case.status, Action.SHIP_PHASE, "shipped", "staff")
    case, phase = access.case, await _phase(session, case_id, number)
    if phase.shipped_at is not None:
        raise access.conflict(viewer, f"phase {number} already shipped")
    now = utcnow()
    summary = f"Phase {number} shipped with {body.carrier}, tracking {body.tracking_number}"
    move(
        session,
        case,
        Action.SHIP_PHASE,
        "shipped",
        access.actor(viewer),
        summary,
        number=number,
        details={"carrier": body.carrier, "tracking_number": body.tracking_number},
    )
    phase.shipped_at, phase.carrier, phase.tracking_number = now, body.carrier, body.tracking_number
    if number == 1:
        case.expires_at = expiry_of(case.package, now)
    publish(
        session,
        case,
        PhaseShipped(
            **identity(case),
            number=number,
            steps_from=phase.steps_from,
            steps_to=phase.steps_to,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            shipped_at=now,
            expires_at=case.expires_at,
        ),
    )
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/staff/cases/{case_id}/phases/{number}/deliver")
async def deliver_phase(
    case_id: str, number: Number, viewer: StaffCaller, session: Database, body: DeliverIn | None = None
) -> JSONResponse:
    """Phase ``number`` reached the practice → 200 the case; with ``final`` it was the last phase:
    ``last_phase_delivered`` (the case must be ``shipped``). 409 when the phase has not shipped or was delivered."""
    final = bool(body and body.final)
    access = await find_case(session, case_id, viewer, lock=True)
    target = "last_phase_delivered" if final else access.case.status
    check(access.case.status, Action.DELIVER_PHASE, target, "staff")
    case, phase = access.case, await _phase(session, case_id, number)
    if phase.shipped_at is None or phase.delivered_at is not None:
        state = "has not shipped yet" if phase.shipped_at is None else "was already delivered"
        raise access.conflict(viewer, f"phase {number} {state}")
    phases = await phases_of(session, case)
    if final and phases[-1].number != number:
        raise invalid([{"field": "final", "message": f"phase {phases[-1].number} comes after phase {number}"}])
    now = utcnow()
    summary = f"Phase {number} delivered" + (" (last phase)" if final else "")
    move(session, case, Action.DELIVER_PHASE, target, access.actor(viewer), summary, number=number)
    phase.delivered_at, phase.final = now, final
    publish(session, case, PhaseDelivered(**identity(case), number=number, final=final, delivered_at=now))
    await session.commit()
    return JSONResponse(await case_answer(session, access))
