"""Who may see and do what with a case (ARCHITECTURE.md rule 10: the service enforces ownership itself).

A doctor sees their own cases and the cases another doctor shared with them (the caller's token lists the
collaborations; the case lists its collaborators); staff and admins see every case. Anything else is 404, as if it
did not exist. Every answer about an existing case, a refusal included, carries the case and its owner in
:data:`~shared.http.CASE_ID_HEADER` and :data:`~shared.http.CASE_OWNER_HEADER`
(:class:`~shared.problems.CaseRoute`), for the gateway's audit log only. What a viewer may do follows from its
relation to the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.lifecycle import Actor
from services.cases.models import Case, CaseCollaborator
from services.cases.statuses import allowed_actions
from shared.http import current_principal
from shared.internal_token import STAFF_ROLES, Collaboration, Principal
from shared.problems import ProblemError, not_found
from shared.service import db_session

Database = Annotated[AsyncSession, Depends(db_session)]


@dataclass
class Viewer:
    """The caller of a request: its principal, and the case it asked about with its owner (set by
    :func:`find_case`)."""

    principal: Principal
    case_id: str | None = None
    case_owner: str | None = None

    @property
    def is_staff(self) -> bool:
        """Staff and admins: the lab."""
        return self.principal.role in STAFF_ROLES

    @property
    def doctor_id(self) -> str | None:
        """The doctor the caller acts as, if a doctor."""
        if self.principal.role != "doctor" or self.principal.doctor_id is None:
            return None
        return str(self.principal.doctor_id)

    def visible(self) -> ColumnElement[bool]:
        """The condition on ``cases`` of the cases the caller may see (every case for staff)."""
        if self.is_staff:
            return true()
        if self.doctor_id is None:
            return false()
        shared = [
            and_(
                Case.doctor_id == collaboration.doctor_id,
                Case.id.in_(  # type: ignore[attr-defined]
                    select(CaseCollaborator.case_id).where(
                        CaseCollaborator.collaborator_id == collaboration.collaborator_id
                    )
                ),
            )
            for collaboration in self.principal.collaborations
            if "view" in collaboration.permissions
        ]
        return or_(Case.doctor_id == self.doctor_id, *shared)

    def own(self) -> ColumnElement[bool]:
        """The condition on ``cases`` of the caller's own cases (none for staff: the lab owns no case)."""
        return Case.doctor_id == self.doctor_id if self.doctor_id else false()


def viewer(request: Request) -> Viewer:
    """FastAPI dependency: the request's :class:`Viewer`; 403 for a patient-link visitor (it reads one route)."""
    principal = current_principal(request)
    if principal.role == "patient":
        raise HTTPException(403, "this token may only read a patient link")
    request.state.viewer = Viewer(principal)
    return request.state.viewer


def staff(request: Request) -> Viewer:
    """FastAPI dependency: the caller, who must be staff or an admin (403 otherwise)."""
    found = viewer(request)
    if not found.is_staff:
        raise HTTPException(403, "this route is for the lab's staff")
    return found


Caller = Annotated[Viewer, Depends(viewer)]
StaffCaller = Annotated[Viewer, Depends(staff)]


@dataclass(frozen=True)
class Access:
    """A case and what the caller is to it: ``owner`` (the treating doctor), ``collaborator`` (through
    ``collaboration``, with its permissions) or ``staff``."""

    case: Case
    relation: str
    collaboration: Collaboration | None = None

    @property
    def permissions(self) -> tuple[str, ...]:
        """What a collaborator may do on the case (nothing for the other relations: they need no permission)."""
        return self.collaboration.permissions if self.collaboration else ()

    def actor(self, viewer: Viewer) -> Actor:
        """The caller as an actor of the transitions table."""
        role = {"owner": "doctor", "collaborator": "collaborator", "staff": "staff"}[self.relation]
        return Actor(role, str(viewer.principal.user_id))

    def conflict(self, viewer: Viewer, detail: str, **extra: Any) -> ProblemError:
        """409 with ``detail``, naming the case's status and the actions the caller may ask for from it."""
        actor = self.actor(viewer).table_role
        return ProblemError(
            409,
            "Conflict",
            detail,
            case_status=self.case.status,
            allowed_actions=allowed_actions(self.case.status, actor),
            **extra,
        )

    def require(self, *relations: str, permission: str | None = None) -> None:
        """403 unless the caller's relation is one of ``relations`` (and a collaborator has ``permission``)."""
        if self.relation not in relations:
            raise HTTPException(403, f"only {' or '.join(_WHO[r] for r in relations)} may do this")
        if self.relation == "collaborator" and permission and permission not in self.permissions:
            raise HTTPException(403, f"the doctor did not give you the '{permission}' permission on this case")


_WHO = {"owner": "the treating doctor", "collaborator": "a collaborator", "staff": "the lab's staff"}


async def find_case(session: AsyncSession, case_id: str, viewer: Viewer, *, lock: bool = False) -> Access:
    """The case ``case_id`` with the caller's relation to it; 404 when it does not exist or the caller may not see
    it. With ``lock`` (every change) the row stays locked until the transaction ends (``FOR UPDATE`` on PostgreSQL,
    as the consumers do), so a change and an event about one case decide one after the other; on SQLite, where
    writers take turns, the case's version catches a change made since the read."""
    case = await session.get(Case, case_id, with_for_update=lock)
    if case is None:
        raise not_found("case")
    viewer.case_id, viewer.case_owner = case.id, case.doctor_id
    if viewer.is_staff:
        return Access(case, "staff")
    if viewer.doctor_id is not None and case.doctor_id == viewer.doctor_id:
        return Access(case, "owner")
    for collaboration in viewer.principal.collaborations:
        if collaboration.doctor_id == case.doctor_id and "view" in collaboration.permissions:
            shared = await session.get(CaseCollaborator, (case.id, collaboration.collaborator_id))
            if shared is not None:
                return Access(case, "collaborator", collaboration)
    raise not_found("case")
