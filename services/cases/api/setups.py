"""Routes of treatment setups: the lab publishes version N, the treating doctor approves it (choosing the case
package) or rejects it with a reason, a collaborator evaluates it (API.md "Cases", "Staff (lab) API"; DOMAIN.md
"Collaborator status", "Treatment setup column").

Only the version the doctor is waiting on (the latest, still ``pending``) can be decided; any other is a 409 naming
the one that is. A collaborator never approves (403) and never moves the case's status: their reject sends the
collaborator status back to ``setup_pending`` until a new version is published.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.api.access import Access, Caller, Database, StaffCaller, Viewer, find_case
from services.cases.api.pages import case_answer, latest_setup, phases_of
from services.cases.expiry import expiry_of
from services.cases.lifecycle import identity, move, publish, record
from services.cases.models import Case, CaseCollaborator, Setup
from services.cases.schemas import ApproveIn, ReasonIn, SetupIn
from services.cases.statuses import COLLABORATOR_MOVES, Action, TransitionRefused
from services.cases.views import setup_body
from shared.db import utcnow
from shared.events.cases import CollaboratorStatusChanged, SetupApproved, SetupPublished, SetupRejected
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.problems import CaseRoute, ProblemError, invalid, not_found

router = APIRouter(route_class=CaseRoute)
Version = Annotated[int, Path(ge=1, le=1000)]


async def _setups(session: AsyncSession, access: Access, page: int, page_size: int) -> JSONResponse:
    condition = Setup.case_id == access.case.id
    total = (await session.execute(select(func.count()).select_from(Setup).where(condition))).scalar_one()
    query = select(Setup).where(condition).order_by(Setup.version).offset((page - 1) * page_size).limit(page_size)  # type: ignore[arg-type]
    items = [setup_body(setup) for setup in (await session.execute(query)).scalars()]
    return JSONResponse({"items": items, "page": page, "page_size": page_size, "total": total})


@router.get("/cases/{case_id}/setups")
async def list_setups(
    case_id: str, viewer: Caller, session: Database, page: int = 1, page_size: int = 50
) -> JSONResponse:
    """Every setup version of the case, oldest first, with the technician's comments and its state."""
    return await _setups(session, await find_case(session, case_id, viewer), page, page_size)


@router.get("/staff/cases/{case_id}/setups")
async def staff_list_setups(
    case_id: str, viewer: StaffCaller, session: Database, page: int = 1, page_size: int = 50
) -> JSONResponse:
    """Every setup version of the case, for the lab."""
    return await _setups(session, await find_case(session, case_id, viewer), page, page_size)


async def _shared(session: AsyncSession, case: Case) -> bool:
    query = select(CaseCollaborator.case_id).where(CaseCollaborator.case_id == case.id).limit(1)
    return (await session.execute(query)).first() is not None


def _collaborator_status(
    session: AsyncSession, case: Case, status: str, version: int, collaborator_id: str | None = None
) -> None:
    """Set the shared case's collaborator status and announce it (nothing when it does not change)."""
    previous = case.collaborator_status
    if previous == status:
        return
    case.collaborator_status = status
    changed = CollaboratorStatusChanged(
        **identity(case),
        collaborator_status=status,  # type: ignore[arg-type]
        previous_collaborator_status=previous,  # type: ignore[arg-type]
        setup_version=version,
        collaborator_id=collaborator_id,
    )
    publish(session, case, changed)


@router.post("/staff/cases/{case_id}/setups", status_code=201)
async def publish_setup(
    case_id: str, body: SetupIn, request: Request, viewer: StaffCaller, session: Database
) -> JSONResponse:
    """Publish the next setup version with the technician's comment and step counts → 201 the setup; the case goes
    to ``setup_approval_pending`` (409 from any status but ``setup_in_progress``); 422 when neither arch has steps.
    ``Idempotency-Key`` makes a retry answer the first response and publish nothing more."""
    if body.steps_upper + body.steps_lower == 0:
        raise invalid([{"field": "steps_upper", "message": "a setup has aligner steps on at least one arch"}])

    async def work(db: AsyncSession) -> tuple[int, Any]:
        access = await find_case(db, case_id, viewer, lock=True)
        case, now = access.case, utcnow()
        latest = await latest_setup(db, case)
        version = (latest.version if latest else 0) + 1
        summary = f"Setup v{version} published ({body.steps_upper} upper, {body.steps_lower} lower steps)"
        move(
            db,
            case,
            Action.PUBLISH_SETUP,
            "setup_approval_pending",
            access.actor(viewer),
            summary,
            number=version,
            details={"technician_comment": body.technician_comment},
        )
        setup = Setup(
            case_id=case.id,
            version=version,
            technician_comment=body.technician_comment,
            steps_upper=body.steps_upper,
            steps_lower=body.steps_lower,
            document_id=body.document_id,
            published_at=now,
            published_by=str(viewer.principal.user_id),
        )
        db.add(setup)
        case.setup_version, case.setup_published_at, case.setup_state = version, now, "pending"
        publish(
            db,
            case,
            SetupPublished(
                **identity(case),
                version=version,
                published_at=now,
                technician_comment=body.technician_comment,
                steps_upper=body.steps_upper,
                steps_lower=body.steps_lower,
                document_id=body.document_id,
            ),
        )
        if await _shared(db, case):
            _collaborator_status(db, case, "setup_pending", version)
        return 201, setup_body(setup)

    owner = str(viewer.principal.user_id)
    return await run_idempotent(
        session, owner, key_of(request), fingerprint(request, body.model_dump(mode="json")), work
    )


async def _pending(session: AsyncSession, access: Access, viewer: Viewer, version: int, action: Action) -> Setup:
    """Setup ``version`` of the case if it is the one awaiting a decision: 409 when the case awaits none (the table
    does not allow ``action`` from its status), 404 when there is no such version, 409 naming the pending one
    otherwise."""
    if access.case.status != "setup_approval_pending":
        raise TransitionRefused(access.case.status, action, access.actor(viewer).table_role)
    setup = (
        await session.execute(select(Setup).where(Setup.case_id == access.case.id, Setup.version == version))
    ).scalar_one_or_none()
    if setup is None:
        raise not_found("setup version")
    if setup.state != "pending":
        latest = await latest_setup(session, access.case)
        waiting = f"v{latest.version} is" if latest and latest.state == "pending" else "no setup is"
        raise access.conflict(
            viewer, f"setup v{version} is {setup.state}: {waiting} awaiting a decision", setup_state=setup.state
        )
    return setup


@router.post("/cases/{case_id}/setups/{version}/approve")
async def approve_setup(
    case_id: str, version: Version, body: ApproveIn, viewer: Caller, session: Database
) -> JSONResponse:
    """The treating doctor approves the pending setup and chooses the case package → 200 the case, now
    ``in_production``. 403 for a collaborator or the lab; 409 when this version is not the pending one."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner")
    setup = await _pending(session, access, viewer, version, Action.APPROVE_SETUP)
    case, now = access.case, utcnow()
    move(
        session,
        case,
        Action.APPROVE_SETUP,
        "in_production",
        access.actor(viewer),
        f"Setup v{version} approved with the {body.package} package",
        number=version,
        details={"package": body.package},
    )
    setup.state, setup.decided_at, setup.decided_by, setup.package = (
        "approved",
        now,
        str(viewer.principal.user_id),
        body.package,
    )
    case.setup_state, case.package, case.approved_at = "approved", body.package, now
    phases = await phases_of(session, case)
    if phases and phases[0].shipped_at is not None:  # a modification approved again: the package may have changed
        case.expires_at = expiry_of(body.package, phases[0].shipped_at)
    publish(session, case, SetupApproved(**identity(case), version=version, package=body.package, approved_at=now))
    if case.collaborator_status is not None:
        _collaborator_status(session, case, "approved", version)
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/cases/{case_id}/setups/{version}/reject")
async def reject_setup(
    case_id: str, version: Version, body: ReasonIn, viewer: Caller, session: Database
) -> JSONResponse:
    """Reject the pending setup with a reason → 200 the case. By the treating doctor: the lab makes a new version
    (``setup_in_progress``). By a collaborator allowed to evaluate setups: the collaborator status goes back to
    ``setup_pending`` and the case's status stays."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner", "collaborator", permission="evaluate_setups")
    setup = await _pending(session, access, viewer, version, Action.REJECT_SETUP)
    case, actor = access.case, access.actor(viewer)
    if access.relation == "collaborator":
        _evaluation(session, access, viewer, setup, "reject", body.reason)
    else:
        move(
            session,
            case,
            Action.REJECT_SETUP,
            "setup_in_progress",
            actor,
            f"Setup v{version} rejected",
            reason=body.reason,
            number=version,
        )
        setup.state, setup.decided_at, setup.decided_by = "rejected", utcnow(), actor.id
        setup.decision_reason = body.reason
        case.setup_state = "rejected"
    publish(
        session,
        case,
        SetupRejected(
            **identity(case),
            version=version,
            reason=body.reason,
            by="collaborator" if access.relation == "collaborator" else "doctor",
        ),
    )
    await session.commit()
    return JSONResponse(await case_answer(session, access))


def _evaluation(
    session: AsyncSession, access: Access, viewer: Viewer, setup: Setup, action: str, reason: str | None = None
) -> None:
    """A collaborator's action on the pending setup (``evaluate``, ``ready`` or ``reject``): the collaborator status
    moves as :data:`~services.cases.statuses.COLLABORATOR_MOVES` says, and a verdict (ready, rejected) is kept on
    the setup and in the history; 409 when the status does not allow the action or a verdict was already given."""
    case = access.case
    target = COLLABORATOR_MOVES[action].get(case.collaborator_status or "")
    if target is None or setup.collaborator_verdict is not None:
        said = f"setup v{setup.version} was already marked {setup.collaborator_verdict}"
        detail = (
            said
            if setup.collaborator_verdict
            else f"{action} is not allowed while the collaborator status is {case.collaborator_status}"
        )
        allowed = (
            []
            if setup.collaborator_verdict
            else [name for name, moves in COLLABORATOR_MOVES.items() if (case.collaborator_status or "") in moves]
        )
        raise ProblemError(
            409,
            "Conflict",
            detail,
            case_status=case.status,
            collaborator_status=case.collaborator_status,
            allowed_actions=allowed,
        )
    collaborator_id = access.collaboration.collaborator_id if access.collaboration else None
    if action != "evaluate":
        setup.collaborator_verdict, setup.collaborator_reason = ("rejected" if action == "reject" else "ready"), reason
        said = "marked ready for approval" if action == "ready" else "rejected by the collaborator"
        record(
            session,
            case,
            f"collaborator_{action}",
            access.actor(viewer),
            f"Setup v{setup.version} {said}",
            reason=reason,
            number=setup.version,
        )
    _collaborator_status(session, case, target, setup.version, collaborator_id)


async def _collaborator_action(
    case_id: str, version: int, viewer: Viewer, session: AsyncSession, action: str
) -> JSONResponse:
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("collaborator", permission="evaluate_setups")
    if access.case.status != "setup_approval_pending":
        detail = f"no setup awaits evaluation while the case is {access.case.status}"
        raise TransitionRefused(access.case.status, Action.APPROVE_SETUP, "collaborator", detail)
    setup = await _pending(session, access, viewer, version, Action.APPROVE_SETUP)
    _evaluation(session, access, viewer, setup, action)
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.post("/cases/{case_id}/setups/{version}/evaluate")
async def evaluate_setup(case_id: str, version: Version, viewer: Caller, session: Database) -> JSONResponse:
    """A collaborator allowed to evaluate setups opens the pending setup → 200 the case, collaborator status
    ``setup_evaluation``. 403 for anyone else."""
    return await _collaborator_action(case_id, version, viewer, session, "evaluate")


@router.post("/cases/{case_id}/setups/{version}/ready")
async def mark_setup_ready(case_id: str, version: Version, viewer: Caller, session: Database) -> JSONResponse:
    """A collaborator allowed to evaluate setups marks the pending setup ready for the doctor's approval → 200 the
    case, collaborator status ``ready_for_approval`` (announced as ``case.collaborator_status_changed``)."""
    return await _collaborator_action(case_id, version, viewer, session, "ready")
