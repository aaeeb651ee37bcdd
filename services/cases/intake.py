"""Where a submitted order takes its case: decided from facts that may arrive in any order.

The facts of the case's last submitted order (its first order, or a modification) are kept on the case (``intake_*``:
the record slots it needs, whether PVS impressions are mailed, when the lab received them) and the documents
service's answers in ``records_results``. Whenever one of them arrives, :func:`advance` computes where the case
belongs (:func:`intake_target`) and moves it there if the table allows it. Because the decision reads only the
accumulated facts, ``order.submitted``, ``records.checked`` and ``records.completed`` give the same final status
whatever order they arrive in, and a duplicate changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.lifecycle import Actor, move, record
from services.cases.models import Case, RecordsResult
from services.cases.statuses import Action, targets


def intake_target(*, pvs: bool, impressions_received: bool, required: list[str], complete: bool | None) -> str | None:
    """The status a submitted order leads to: ``awaiting_records`` while PVS impressions are in the mail or a
    required record is missing, ``setup_in_progress`` once nothing is missing, None while the records check
    (``complete`` None: no answer yet) must still say (DOMAIN.md: PVS impressions go to ``awaiting_records`` at once;
    an order that needs no file goes straight on)."""
    if pvs and not impressions_received:
        return "awaiting_records"
    if not required:
        return "setup_in_progress"
    if complete is None:
        return "awaiting_records" if pvs else None
    return "setup_in_progress" if complete else "awaiting_records"


async def records_result(session: AsyncSession, case: Case) -> RecordsResult | None:
    """The documents service's last answer about the checklist of the case's intake order, if any."""
    if case.intake_order_id is None:
        return None
    return await session.get(RecordsResult, (case.id, case.intake_order_id))


async def advance(
    session: AsyncSession, case: Case, actor: Actor, at: datetime, cause_event_id: str | uuid.UUID | None
) -> None:
    """Move the case where its intake facts say it belongs, if anywhere: the submission's own move (``submit``, or
    ``modify`` for a modification) the first time the facts decide, then ``complete_records`` from
    ``awaiting_records``. A submission the case's status no longer takes (the case was cancelled meanwhile) is
    written to the history and changes nothing."""
    if case.intake_order_id is None:
        return
    result = await records_result(session, case)
    target = intake_target(
        pvs=case.intake_pvs,
        impressions_received=case.impressions_received_at is not None,
        required=list(case.intake_required_slots),
        complete=None if result is None else result.complete,
    )
    if target is None:
        return
    missing = list(result.missing) if result is not None and not result.complete else []
    if not case.intake_applied:
        case.intake_applied = True
        action = Action.MODIFY if case.intake_kind == "modification" else Action.SUBMIT
        if target not in targets(case.status, action, actor.table_role):
            record(
                session,
                case,
                "submission_not_applied",
                actor,
                f"Order submitted while the case is {case.status}: the case stays {case.status}",
                at=at,
                cause_event_id=cause_event_id,
            )
            return
        why = _waiting_for(case, missing) if target == "awaiting_records" else "records complete"
        summary = "Modification submitted" if action == Action.MODIFY else "Order submitted"
        move(
            session,
            case,
            action,
            target,
            actor,
            f"{summary}: {why}",
            at=at,
            slots=missing,
            cause_event_id=cause_event_id,
        )
    elif case.status == "awaiting_records" and target == "setup_in_progress":
        move(
            session,
            case,
            Action.COMPLETE_RECORDS,
            target,
            actor,
            "Every record received: the treatment setup starts",
            at=at,
            cause_event_id=cause_event_id,
        )


def _waiting_for(case: Case, missing: list[str]) -> str:
    parts = []
    if case.intake_pvs and case.impressions_received_at is None:
        parts.append("PVS impressions to be mailed")
    if missing:
        parts.append("records missing: " + ", ".join(missing))
    return "; ".join(parts) or "records check pending"
