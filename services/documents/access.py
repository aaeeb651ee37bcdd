"""Who may see and do what with a case's documents (ARCHITECTURE.md rule 10: the service enforces ownership itself).

The treating doctor sees and changes their cases' documents; a doctor the case is shared with (their token lists the
collaboration with the ``view`` permission; the case lists the collaborator, from ``order.submitted``) sees them;
the lab's staff see every case's and add the lab's files. Anything else is 404, as if it did not exist. Answers about
an existing case carry its id and owner for the gateway's audit log (:class:`~shared.problems.CaseRoute`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.documents.models import CaseFile, Document
from shared.http import current_principal
from shared.internal_token import STAFF_ROLES, Principal
from shared.problems import ProblemError, not_found

Relation = Literal["owner", "collaborator", "staff"]


@dataclass
class Viewer:
    """The caller of a request, and the case it asked about with its owner once found."""

    principal: Principal
    case_id: str | None = None
    case_owner: str | None = None

    @property
    def is_staff(self) -> bool:
        """Staff and admins: the lab."""
        return self.principal.role in STAFF_ROLES

    def relation(self, case: CaseFile) -> Relation | None:
        """What the caller is to ``case``, None when it may not see it."""
        if self.is_staff:
            return "staff"
        doctor = str(self.principal.doctor_id) if self.principal.doctor_id else None
        if self.principal.role == "doctor" and doctor == case.doctor_id:
            return "owner"
        for collaboration in self.principal.collaborations:
            if (
                collaboration.doctor_id == case.doctor_id
                and "view" in collaboration.permissions
                and collaboration.collaborator_id in case.collaborator_ids
            ):
                return "collaborator"
        return None


def viewer(request: Request) -> Viewer:
    """FastAPI dependency: the request's :class:`Viewer`; 403 for a patient-link visitor."""
    principal = current_principal(request)
    if principal.role == "patient":
        raise HTTPException(403, "this token may only read a patient link")
    request.state.viewer = Viewer(principal)
    return request.state.viewer


Caller = Annotated[Viewer, Depends(viewer)]


@dataclass(frozen=True)
class Access:
    """A case and what the caller is to it."""

    case: CaseFile
    relation: Relation

    def require(self, *relations: Relation) -> None:
        """403 unless the caller's relation is one of ``relations``."""
        if self.relation not in relations:
            who = {"owner": "the treating doctor", "collaborator": "a collaborator", "staff": "the lab's staff"}
            raise HTTPException(403, f"only {' or '.join(who[r] for r in relations)} may do this")


async def find_case(session: AsyncSession, case_id: str, viewer: Viewer, *, lock: bool = False) -> Access:
    """The case ``case_id`` and the caller's relation to it; 404 when unknown or not the caller's to see. With
    ``lock`` the row stays locked until the transaction ends (``FOR UPDATE`` on PostgreSQL), as the consumers lock
    it, so an upload and a checklist event about one case decide one after the other."""
    case = await session.get(CaseFile, case_id, with_for_update=lock, populate_existing=lock)
    if case is None:
        raise not_found("case")
    viewer.case_id, viewer.case_owner = case.id, case.doctor_id
    relation = viewer.relation(case)
    if relation is None:
        raise not_found("case")
    return Access(case, relation)


async def await_case(sessions: async_sessionmaker[AsyncSession], case_id: str, seconds: float) -> None:
    """Wait up to ``seconds`` for case ``case_id`` to be known: an upload may follow the draft that opened the case
    before its ``order.draft_created`` reached this service. Returns either way (the caller's lookup decides)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        async with sessions() as session:
            if await session.get(CaseFile, case_id) is not None:
                return
        if asyncio.get_running_loop().time() >= deadline:
            return
        await asyncio.sleep(0.1)


async def find_document(session: AsyncSession, document_id: str, viewer: Viewer) -> tuple[Document, Access]:
    """The document ``document_id`` and the caller's access to its case; 404 when unknown or not the caller's."""
    document = await session.get(Document, document_id)
    if document is None:
        raise not_found("document")
    try:
        return document, await find_case(session, document.case_id, viewer)
    except ProblemError as exc:  # the case is not the caller's: its document does not exist for them
        raise not_found("document") from exc
