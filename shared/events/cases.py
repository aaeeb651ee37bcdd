"""Events about cases, published by the cases service (the aggregate is the case: ``subject`` is the case id and
``aggregate_version`` the case's version after the change)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from shared.events.catalogue import event

CaseStatus = Literal[
    "incomplete_submission",
    "setup_approval_pending",
    "awaiting_records",
    "submission_problem",
    "setup_in_progress",
    "in_production",
    "shipped",
    "on_hold",
    "last_phase_delivered",
    "expired",
    "cancelled",
]
"""Every case status code (DOMAIN.md "Case status")."""


@event("case.status_changed", 1)
class CaseStatusChanged(BaseModel):
    """A case moved from ``previous_status`` (None for the first status of a new case) to ``status``, with the reason
    given (hold, reject, cancel, ...) and who moved it (``actor``: the actor's role or id, or ``system``)."""

    case_id: str
    doctor_id: str
    status: CaseStatus
    previous_status: CaseStatus | None
    reason: str | None = None
    actor: str | None = None
