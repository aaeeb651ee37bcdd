"""Events about cases, published by the cases service.

The aggregate is the case: ``subject`` is the case id and ``aggregate_version`` counts the case's events, one more
for each event (two events written by one change get two versions, so a consumer that skips stale versions never
drops the second one). Every payload starts with the case's identity (:class:`CaseEvent`) so that a consumer can
word a message without asking anyone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

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

CasePackage = Literal["FLEX", "MINI", "ONE", "TWO", "UNLIMITED3", "UNLIMITED5"]
"""The case packages of DOMAIN.md; each gives the case a number of months from phase 1 shipment (FLEX: none)."""

CollaboratorStatus = Literal["setup_pending", "setup_evaluation", "ready_for_approval", "approved"]
"""Where a shared case's setup stands with the collaborator (DOMAIN.md "Collaborator status")."""


class CaseEvent(BaseModel):
    """What every case event carries: the case, its doctor, its order number and the patient's name as the doctor
    typed it (None while a draft has no order number or name yet)."""

    case_id: str
    doctor_id: str
    order_number: str | None = None
    patient_name: str | None = None


@event("case.status_changed", 1)
class CaseStatusChanged(CaseEvent):
    """A case moved from ``previous_status`` (None for the first status of a new case) to ``status``, with the reason
    given (hold, reject, cancel, records problem, ...) and who moved it (``actor``: ``doctor``, ``staff``,
    ``collaborator`` or ``system``). ``slots`` names the record slots concerned: those still missing when the case
    waits for records, those quality control rejected for a submission problem."""

    status: CaseStatus
    previous_status: CaseStatus | None
    reason: str | None = None
    actor: str | None = None
    slots: list[str] = Field(default_factory=list)


@event("setup.published", 1)
class SetupPublished(CaseEvent):
    """The lab published treatment setup ``version`` (1, 2, ...) for the doctor to approve, with the technician's
    comment and the number of aligner steps per arch (0 for an arch not treated). ``document_id`` is the setup's
    viewer file, when one was stored."""

    version: int = Field(ge=1)
    published_at: AwareDatetime
    technician_comment: str
    steps_upper: int = Field(ge=0)
    steps_lower: int = Field(ge=0)
    document_id: str | None = None


@event("setup.approved", 1)
class SetupApproved(CaseEvent):
    """The treating doctor approved setup ``version`` and chose the case ``package``; production starts."""

    version: int = Field(ge=1)
    package: CasePackage
    approved_at: AwareDatetime


@event("setup.rejected", 1)
class SetupRejected(CaseEvent):
    """Setup ``version`` was rejected with ``reason``: by the doctor (``by: doctor``, the lab makes a new version) or
    by a collaborator evaluating it (``by: collaborator``, the case's status does not change)."""

    version: int = Field(ge=1)
    reason: str
    by: Literal["doctor", "collaborator"]


@event("case.collaborator_status_changed", 1)
class CollaboratorStatusChanged(CaseEvent):
    """The collaborator status of a shared case moved to ``collaborator_status`` for setup ``setup_version``
    (``ready_for_approval``: the collaborator marked the setup ready for the doctor's approval)."""

    collaborator_status: CollaboratorStatus
    previous_collaborator_status: CollaboratorStatus | None
    setup_version: int = Field(ge=1)
    collaborator_id: str | None = None


@event("phase.shipped", 1)
class PhaseShipped(CaseEvent):
    """Phase ``number`` (aligner steps ``steps_from`` to ``steps_to``) left the lab with ``carrier`` under
    ``tracking_number``. Phase 1's shipment starts the expiry clock: ``expires_at`` is the case's expiry (None for a
    FLEX package)."""

    number: int = Field(ge=1)
    steps_from: int = Field(ge=1)
    steps_to: int = Field(ge=1)
    carrier: str
    tracking_number: str
    shipped_at: AwareDatetime
    expires_at: AwareDatetime | None = None


@event("phase.delivered", 1)
class PhaseDelivered(CaseEvent):
    """Phase ``number`` reached the practice; ``final`` when it was the case's last phase."""

    number: int = Field(ge=1)
    final: bool
    delivered_at: AwareDatetime


@event("case.expiring_soon", 1)
class CaseExpiringSoon(CaseEvent):
    """The case expires at ``expires_at``, ``days_before`` days from when this was sent (90, 30 or 7; once each).
    Its expiry itself is announced as ``case.status_changed`` to ``expired``."""

    expires_at: AwareDatetime
    days_before: int
