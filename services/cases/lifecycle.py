"""Changing a case: moving it through :mod:`services.cases.statuses`, writing its history, publishing its events.

Every change goes through :func:`move` (a status transition, checked against the table) or :func:`record` (a dated
fact without a status change), inside the caller's transaction; events are written to the outbox in that same
transaction with :func:`publish`, each one counting up the case's ``version`` (its ``aggregate_version``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Case, HistoryEntry
from services.cases.settings import SERVICE
from services.cases.statuses import BEFORE_HOLD, BY_CODE, RANK, Action, check
from shared.db import utcnow
from shared.events.cases import CaseStatusChanged
from shared.events.envelope import Envelope
from shared.internal_token import STAFF_ROLES
from shared.messaging.outbox import add_event
from shared.search import normalise, search_key


@dataclass(frozen=True)
class Actor:
    """Who does something to a case: ``role`` is ``doctor`` (the treating doctor), ``collaborator``, ``staff`` or
    ``system``; ``id`` is the user (None for the system)."""

    role: str
    id: str | None = None

    @property
    def table_role(self) -> str:
        """The actor column of the transitions table this actor acts as (admins act as staff)."""
        return "staff" if self.role in STAFF_ROLES else self.role


SYSTEM = Actor("system")


def patient_name(case: Case) -> str | None:
    """ "First Last" as the doctor typed it, or None while the case has no name yet."""
    names = [name for name in (case.patient_first_name, case.patient_last_name) if name]
    return " ".join(names) or None


def identity(case: Case) -> dict[str, Any]:
    """The fields every case event starts with (:class:`~shared.events.cases.CaseEvent`)."""
    return {
        "case_id": case.id,
        "doctor_id": case.doctor_id,
        "order_number": case.order_number,
        "patient_name": patient_name(case),
    }


def set_patient(case: Case, patient_id: str | None, first_name: str | None, last_name: str | None) -> None:
    """Give the case its patient (names may be None while a draft lacks them) and refresh what search and sorting
    read."""
    if patient_id is not None:
        case.patient_id = patient_id
    case.patient_first_name, case.patient_last_name = first_name, last_name
    refresh_search(case)


def refresh_search(case: Case) -> None:
    """Recompute ``search_text`` (order number and name) and ``patient_sort_key`` ("last first") of the case."""
    case.patient_sort_key = search_key(case.patient_first_name or "", case.patient_last_name or "")
    case.search_text = normalise(f"{case.order_number or ''} {case.patient_sort_key}")[:240]


def clear_records_problem(case: Case) -> None:
    """Forget the records problem the case had (it was answered, or its slots were sent again)."""
    case.problem_slots, case.problem_reason, case.problem_raised_at = [], None, None


def set_status(case: Case, status: str) -> None:
    """Set the status and what derives from it (bucket, sort rank)."""
    case.status, case.bucket, case.status_rank = status, BY_CODE[status].bucket, RANK[status]


def publish(session: AsyncSession, case: Case, payload: BaseModel, cause_event_id: str | None = None) -> Envelope:
    """Write an event about ``case`` to the outbox at the case's next version."""
    case.version += 1
    case.updated_at = utcnow()
    return add_event(
        session, payload, source=SERVICE, subject=case.id, aggregate_version=case.version, causation_id=cause_event_id
    )


def record(
    session: AsyncSession,
    case: Case,
    kind: str,
    actor: Actor,
    summary: str,
    *,
    at: datetime | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    number: int | None = None,
    status_from: str | None = None,
    status_to: str | None = None,
    cause_event_id: str | uuid.UUID | None = None,
    event_id: str | uuid.UUID | None = None,
) -> HistoryEntry:
    """Append a dated entry to the case's history (``at`` defaults to now)."""
    entry = HistoryEntry(
        case_id=case.id,
        doctor_id=case.doctor_id,
        at=at or utcnow(),
        kind=kind,
        actor=actor.table_role,
        actor_id=actor.id,
        summary=summary[:300],
        reason=reason,
        details=details or {},
        number=number,
        status_from=status_from,
        status_to=status_to,
        cause_event_id=str(cause_event_id) if cause_event_id else None,
        event_id=str(event_id) if event_id else None,
    )
    session.add(entry)
    return entry


def move(
    session: AsyncSession,
    case: Case,
    action: Action,
    target: str,
    actor: Actor,
    summary: str,
    *,
    at: datetime | None = None,
    reason: str | None = None,
    slots: list[str] | None = None,
    details: dict[str, Any] | None = None,
    number: int | None = None,
    cause_event_id: str | uuid.UUID | None = None,
) -> str:
    """Do ``action`` to ``case`` towards ``target`` (:data:`~services.cases.statuses.BEFORE_HOLD` for a resume):
    check the transition, set the status, write the history entry and, when the status changed, publish
    ``case.status_changed``. Returns the new status; raises
    :class:`~services.cases.statuses.TransitionRefused` (409) when the table does not allow it."""
    status = check(case.status, action, target, actor.table_role)
    if status == BEFORE_HOLD:
        status = case.held_from or "in_production"
    previous = case.status
    if action == Action.HOLD:
        case.held_from = previous
    elif action == Action.RESUME:
        case.held_from = None
    event_id = None
    if status != previous:
        set_status(case, status)
        changed = CaseStatusChanged(
            **identity(case),
            status=status,  # type: ignore[arg-type]
            previous_status=previous,  # type: ignore[arg-type]
            reason=reason,
            actor=actor.table_role,
            slots=slots or [],
        )
        event_id = publish(session, case, changed, str(cause_event_id) if cause_event_id else None).id
    record(
        session,
        case,
        action.value,
        actor,
        summary,
        at=at,
        reason=reason,
        details={**(details or {}), **({"slots": slots} if slots else {})},
        number=number,
        status_from=previous,
        status_to=status if status != previous else None,
        cause_event_id=cause_event_id,
        event_id=event_id,
    )
    return status


def open_case(
    session: AsyncSession, case_id: str, doctor_id: str, at: datetime, actor: Actor, cause_event_id: str | uuid.UUID
) -> Case:
    """A new case in ``incomplete_submission`` (the table's ``open`` row), added to the session, with its history
    entry and ``case.status_changed`` (``previous_status`` None)."""
    case = Case(id=case_id, doctor_id=doctor_id, status="", status_rank=0, bucket="", created_at=at, version=0)
    case.status = None  # type: ignore[assignment]  # not opened yet: the table's "(none)" source
    move(
        session, case, Action.OPEN, "incomplete_submission", actor, "Case opened", at=at, cause_event_id=cause_event_id
    )
    session.add(case)
    return case
