"""The case lifecycle as data (DOMAIN.md "Case status"): every status with its label and bucket, and every allowed
move as one row of :data:`TRANSITIONS` (action, from, to, who). Nothing else in the service decides whether a move is
allowed: :func:`check` refuses whatever has no row, with the current status and the actions it does allow.

Rows whose target equals their source are actions allowed without a status change (a later phase made while the
case is in production, a non-final phase delivered, PVS impressions received while photos are still missing). The
target :data:`BEFORE_HOLD` stands for "the status the case had when it was put on hold". Actors: ``doctor`` (the
treating doctor; a collaborator never moves a case's status), ``staff`` (the lab) and ``system`` (the expiry job).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.problems import ProblemError


@dataclass(frozen=True)
class Status:
    """A status: its code (API and events), the label users read, and the dashboard bucket it counts in."""

    code: str
    label: str
    bucket: str


STATUSES: tuple[Status, ...] = (
    Status("incomplete_submission", "Incomplete submission", "action_required"),
    Status("setup_approval_pending", "Treatment setup approval pending", "action_required"),
    Status("awaiting_records", "Awaiting impressions / records", "action_required"),
    Status("submission_problem", "Problem with submission", "action_required"),
    Status("setup_in_progress", "Treatment setup in progress", "in_progress"),
    Status("in_production", "In production", "in_progress"),
    Status("shipped", "Shipping or delivered", "in_progress"),
    Status("on_hold", "On hold", "in_progress"),
    Status("last_phase_delivered", "Last phase delivered", "in_progress"),
    Status("expired", "Expired", "archive"),
    Status("cancelled", "Cancelled", "archive"),
)
"""Every status in DOMAIN.md's order, which is also the order the orders list sorts statuses in."""

BY_CODE: dict[str, Status] = {status.code: status for status in STATUSES}
RANK: dict[str, int] = {status.code: rank for rank, status in enumerate(STATUSES)}
BUCKETS: tuple[str, ...] = ("action_required", "in_progress", "archive")


class Action(StrEnum):
    """What can happen to a case; the API's ``allowed_actions`` are these values."""

    OPEN = "open"
    DELETE_DRAFT = "delete_draft"
    SUBMIT = "submit"
    COMPLETE_RECORDS = "complete_records"
    RECEIVE_IMPRESSIONS = "receive_impressions"
    RAISE_RECORDS_PROBLEM = "raise_records_problem"
    RESOLVE_RECORDS_PROBLEM = "resolve_records_problem"
    PUBLISH_SETUP = "publish_setup"
    REJECT_SETUP = "reject_setup"
    APPROVE_SETUP = "approve_setup"
    START_PHASE = "start_phase"
    SHIP_PHASE = "ship_phase"
    DELIVER_PHASE = "deliver_phase"
    HOLD = "hold"
    RESUME = "resume"
    MODIFY = "modify"
    CANCEL = "cancel"
    EXPIRE = "expire"


BEFORE_HOLD = "<status before the hold>"


@dataclass(frozen=True)
class Transition:
    """One row of DOMAIN.md's transitions table: ``action`` by one of ``actors`` moves ``source`` to ``target``
    (``source`` None: the case does not exist yet)."""

    action: Action
    source: str | None
    target: str
    actors: frozenset[str]


def _rows(action: Action, sources: tuple[str | None, ...], target: str, *actors: str) -> list[Transition]:
    return [Transition(action, source, target, frozenset(actors)) for source in sources]


BEFORE_PRODUCTION = (
    "incomplete_submission",
    "awaiting_records",
    "submission_problem",
    "setup_in_progress",
    "setup_approval_pending",
)
MODIFIABLE = ("in_production", "shipped", "last_phase_delivered")
EXPIRABLE = tuple(s.code for s in STATUSES if s.code not in ("incomplete_submission", "expired", "cancelled"))
"""Every status a case can be in after its approval (a modification brings it back to the setup statuses)."""

TRANSITIONS: tuple[Transition, ...] = (
    *_rows(Action.OPEN, (None,), "incomplete_submission", "doctor"),
    *_rows(Action.DELETE_DRAFT, ("incomplete_submission",), "cancelled", "doctor"),
    *_rows(Action.SUBMIT, ("incomplete_submission",), "awaiting_records", "doctor"),
    *_rows(Action.SUBMIT, ("incomplete_submission",), "setup_in_progress", "doctor"),
    *_rows(Action.COMPLETE_RECORDS, ("awaiting_records",), "setup_in_progress", "doctor"),
    *_rows(Action.RECEIVE_IMPRESSIONS, ("awaiting_records",), "setup_in_progress", "staff"),
    *_rows(Action.RECEIVE_IMPRESSIONS, ("awaiting_records",), "awaiting_records", "staff"),
    *_rows(Action.RAISE_RECORDS_PROBLEM, ("setup_in_progress",), "submission_problem", "staff"),
    *_rows(Action.RESOLVE_RECORDS_PROBLEM, ("submission_problem",), "setup_in_progress", "doctor"),
    *_rows(Action.PUBLISH_SETUP, ("setup_in_progress",), "setup_approval_pending", "staff"),
    *_rows(Action.REJECT_SETUP, ("setup_approval_pending",), "setup_in_progress", "doctor"),
    *_rows(Action.APPROVE_SETUP, ("setup_approval_pending",), "in_production", "doctor"),
    *_rows(Action.START_PHASE, ("in_production",), "in_production", "staff"),
    *_rows(Action.START_PHASE, ("shipped",), "in_production", "staff", "system"),
    *_rows(Action.SHIP_PHASE, ("in_production",), "shipped", "staff"),
    *_rows(Action.DELIVER_PHASE, ("shipped",), "last_phase_delivered", "staff"),
    *_rows(Action.DELIVER_PHASE, ("shipped",), "shipped", "staff"),
    *_rows(Action.DELIVER_PHASE, ("in_production",), "in_production", "staff"),
    *_rows(Action.DELIVER_PHASE, ("on_hold",), "on_hold", "staff"),
    *_rows(Action.HOLD, ("in_production", "shipped"), "on_hold", "doctor", "staff"),
    *_rows(Action.RESUME, ("on_hold",), BEFORE_HOLD, "doctor", "staff"),
    *_rows(Action.MODIFY, MODIFIABLE, "setup_in_progress", "doctor"),
    *_rows(Action.MODIFY, MODIFIABLE, "awaiting_records", "doctor"),
    *_rows(Action.CANCEL, BEFORE_PRODUCTION, "cancelled", "doctor", "staff"),
    *_rows(Action.EXPIRE, EXPIRABLE, "expired", "system"),
)
"""DOMAIN.md's transitions table, one row per (action, from, to)."""


def targets(status: str | None, action: Action, actor: str) -> set[str]:
    """The statuses ``action`` by ``actor`` may lead to from ``status`` (empty when it is not allowed)."""
    rows = (row for row in TRANSITIONS if row.source == status and row.action == action and actor in row.actors)
    return {row.target for row in rows}


EVENT_ACTIONS = frozenset({Action.OPEN, Action.COMPLETE_RECORDS, Action.EXPIRE})
"""Actions that happen to a case (an order's draft, an upload completing the records, the expiry job) and that
nobody asks for: never offered as an allowed action."""


def allowed_actions(status: str | None, actor: str) -> list[str]:
    """The actions ``actor`` (``doctor``, ``staff``, ``collaborator``) may ask for from ``status``, in the table's
    order (none for a collaborator: a collaborator never moves a case's status)."""
    found: list[str] = []
    for row in TRANSITIONS:
        if row.source == status and actor in row.actors and row.action not in EVENT_ACTIONS:
            if row.action.value not in found:
                found.append(row.action.value)
    return found


class TransitionRefused(ProblemError):
    """409: ``action`` is not allowed from the case's current status (or not to the wanted status); the body names
    the current status and the actions ``actor`` may ask for instead (API.md "Conventions")."""

    def __init__(self, status: str | None, action: Action, actor: str, detail: str | None = None) -> None:
        label = BY_CODE[status].label if status in BY_CODE else "not opened yet"
        super().__init__(
            409,
            "Conflict",
            detail or f"{action.value} is not allowed while the case is {status} ({label})",
            case_status=status,
            allowed_actions=allowed_actions(status, actor),
        )
        self.action = action


def check(status: str | None, action: Action, target: str, actor: str) -> str:
    """The status the case moves to when ``actor`` does ``action`` from ``status`` towards ``target`` (which is
    :data:`BEFORE_HOLD` for a resume); raises :class:`TransitionRefused` when the table has no such row."""
    allowed = targets(status, action, actor)
    if target not in allowed:
        detail = f"{action.value} from {status} cannot make the case {target}" if allowed else None
        raise TransitionRefused(status, action, actor, detail)
    return target


COLLABORATOR_MOVES: dict[str, dict[str, str]] = {
    "evaluate": {"setup_pending": "setup_evaluation", "setup_evaluation": "setup_evaluation"},
    "ready": {"setup_pending": "ready_for_approval", "setup_evaluation": "ready_for_approval"},
    "reject": {
        "setup_pending": "setup_pending",
        "setup_evaluation": "setup_pending",
        "ready_for_approval": "setup_pending",
    },
}
"""DOMAIN.md "Collaborator status": what a collaborator's action on the pending setup does to the collaborator status
(a new version sets ``setup_pending``, the doctor's approval ``approved``). Opening a setup again changes nothing."""
