"""The orders list (API.md "Cases" ``GET /cases``; DOMAIN.md "Orders list"): one query on the case rows.

Filters: ``status`` (repeatable), ``bucket``, ``label_id``, ``package``, ``collaborator_status``, ``doctor_id`` (staff)
and ``q``, free text over the order number and the patient's name, accent- and case-insensitive (each word must
occur; ``shared.search``). Sort keys: every column of the list, ``-`` for descending; the status sorts in
DOMAIN.md's order, a label by its name; empty values come last either way, and the case id breaks ties so that
pages neither skip nor repeat a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Case, Label
from services.cases.statuses import RANK
from shared.search import like_pattern, search_terms

SORT_COLUMNS: dict[str, Any] = {
    "order_number": Case.order_number,
    "patient_name": Case.patient_sort_key,
    "created_at": Case.created_at,
    "status": Case.status_rank,
    "setup_published_at": Case.setup_published_at,
    "collaborator_status": Case.collaborator_status,
    "expires_at": Case.expires_at,
    "label": func.lower(Label.name),
}
"""Each sort key of API.md and the column it orders by."""

SORT_KEYS: tuple[str, ...] = tuple(key for name in SORT_COLUMNS for key in (name, f"-{name}"))


@dataclass(frozen=True)
class ListQuery:
    """What a request asks of the list: filters, sort key (``-`` prefix for descending), page. Labels are the
    doctor's own: ``viewer_doctor_id`` is the doctor asking, whose labels alone are shown, sorted and filtered by
    (a collaborator never sees the treating doctor's; the lab sees none)."""

    statuses: tuple[str, ...] = ()
    bucket: str | None = None
    label_id: str | None = None
    package: str | None = None
    collaborator_status: str | None = None
    doctor_id: str | None = None
    viewer_doctor_id: str | None = None
    q: str | None = None
    sort: str = "-created_at"
    page: int = 1
    page_size: int = 50
    extra: tuple[ColumnElement[bool], ...] = field(default_factory=tuple)

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions of the filters."""
        found: list[ColumnElement[bool]] = list(self.extra)
        if self.statuses:  # by rank, one to one with the status: the doctor's status index then counts alone
            found.append(Case.status_rank.in_([RANK[status] for status in self.statuses]))  # type: ignore[attr-defined]
        if self.label_id is not None:
            found += [Case.label_id == self.label_id, Case.doctor_id == self.viewer_doctor_id]
        for column, value in (
            (Case.bucket, self.bucket),
            (Case.package, self.package),
            (Case.collaborator_status, self.collaborator_status),
            (Case.doctor_id, self.doctor_id),
        ):
            if value is not None:
                found.append(column == value)  # type: ignore[arg-type]
        for term in search_terms(self.q or ""):
            found.append(Case.search_text.like(like_pattern(term), escape="\\"))  # type: ignore[attr-defined]
        return found

    def ordered(self, query: Select[Any]) -> Select[Any]:
        """``query`` in the requested order, empty values last, the id breaking ties. ``NULLS LAST`` is said only of
        a column that may be empty: PostgreSQL reads an index backwards as ``DESC NULLS FIRST`` only, so saying it
        of a column that is never empty would make it sort every matching case instead."""
        descending = self.sort.startswith("-")
        column = SORT_COLUMNS[self.sort.removeprefix("-")]
        primary = column.desc() if descending else column.asc()
        tie = Case.id.desc() if descending else Case.id.asc()  # type: ignore[attr-defined]
        return query.order_by(primary.nulls_last() if getattr(column, "nullable", True) else primary, tie)


def statements(request: ListQuery) -> tuple[Select[Any], Select[Any]]:
    """The two queries of ``request``: how many cases match, and the page of ``(Case, Label | None)`` rows."""
    conditions = request.conditions()
    total = select(func.count()).select_from(Case).where(*conditions)
    own_label = and_(Label.id == Case.label_id, Label.doctor_id == request.viewer_doctor_id)
    query = select(Case, Label).outerjoin(Label, own_label).where(*conditions)
    page = request.ordered(query).offset((request.page - 1) * request.page_size).limit(request.page_size)
    return total, page


async def list_cases(session: AsyncSession, request: ListQuery) -> tuple[list[tuple[Case, Label | None]], int]:
    """The page of cases ``request`` asks for, each with its label, and how many cases match in all."""
    count, page = statements(request)
    total = (await session.execute(count)).scalar_one()
    rows = (await session.execute(page)).all()
    return [(case, label) for case, label in rows], total
