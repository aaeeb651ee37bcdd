"""The orders list (API.md "Cases" ``GET /cases``; DOMAIN.md "Orders list"): one query on the case rows.

Filters: ``status`` (repeatable), ``bucket``, ``label_id``, ``package``, ``collaborator_status``, ``doctor_id`` (staff)
and ``q``, free text over the order number and the patient's name, accent- and case-insensitive (each word must
occur; ``shared.search``). Sort keys: every column of the list, ``-`` for descending; the status sorts in
DOMAIN.md's order, a label by its name; empty values come last either way, and the case id breaks ties so that
pages neither skip nor repeat a case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, null, select
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
}
"""Each sort key of API.md but the label and the column it orders by (the label orders by the rank of its name
among the viewer's labels, :attr:`ListQuery.label_ranks`)."""

SORT_KEYS: tuple[str, ...] = tuple(key for name in (*SORT_COLUMNS, "label") for key in (name, f"-{name}"))


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
    label_ranks: Mapping[str, int] = field(default_factory=dict)
    """For the sort by label: the rank of each of the viewer's labels by lower-cased name (equal names, equal
    ranks), made by :func:`prepared`."""

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
        of a column that is never empty would make it sort every matching case instead. Not for the sort by label
        (:func:`statements`)."""
        column = SORT_COLUMNS[self.sort.removeprefix("-")]
        return query.order_by(*self.order(column, nullable=getattr(column, "nullable", True)))

    def order(self, column: Any, nullable: bool) -> tuple[Any, Any]:
        """The ORDER BY terms of this request's direction: ``column`` (empty values last when ``nullable``), then
        the case id."""
        descending = self.sort.startswith("-")
        primary = column.desc() if descending else column.asc()
        tie = Case.id.desc() if descending else Case.id.asc()  # type: ignore[attr-defined]
        return primary.nulls_last() if nullable else primary, tie

    def label_rank(self) -> ColumnElement[Any]:
        """The rank of a case's label among the viewer's (:attr:`label_ranks`), NULL for none of theirs."""
        if not self.label_ranks:
            return null()
        return case(dict(self.label_ranks), value=Case.label_id, else_=None)


def statements(request: ListQuery) -> tuple[Select[Any], Select[Any]]:
    """The two queries of ``request``: how many cases match, and the page of ``(Case, Label | None)`` rows.

    Sorted by label, the page is chosen first among the matching cases' ids and label ids alone, which the
    doctor's label index holds, then only its rows are read: joined to the labels table and ordered by name, every
    row of the doctor's cases was read and sorted."""
    conditions = request.conditions()
    total = select(func.count()).select_from(Case).where(*conditions)
    own_label = and_(Label.id == Case.label_id, Label.doctor_id == request.viewer_doctor_id)
    offset, limit = (request.page - 1) * request.page_size, request.page_size
    if request.sort.removeprefix("-") != "label":
        query = select(Case, Label).outerjoin(Label, own_label).where(*conditions)
        return total, request.ordered(query).offset(offset).limit(limit)
    rank = request.label_rank().label("rank")
    chosen = select(Case.id, rank).where(*conditions)  # type: ignore[call-overload]
    page = chosen.order_by(*request.order(rank, nullable=True)).offset(offset).limit(limit).subquery("page")
    query = select(Case, Label).join(page, page.c.id == Case.id).outerjoin(Label, own_label)
    return total, query.order_by(*request.order(page.c.rank, nullable=True))


async def prepared(session: AsyncSession, request: ListQuery) -> ListQuery:
    """``request`` with what its sort needs from the database: for the sort by label, the viewer's label ranks."""
    if request.sort.removeprefix("-") != "label" or request.viewer_doctor_id is None:
        return request
    lowered = func.lower(Label.name)
    rows = await session.execute(
        select(Label.id, lowered).where(Label.doctor_id == request.viewer_doctor_id).order_by(lowered)
    )
    ranks: dict[str, int] = {}
    names: list[str] = []
    for label_id, name in rows:
        if not names or names[-1] != name:
            names.append(name)
        ranks[label_id] = len(names)
    return replace(request, label_ranks=ranks)


async def list_cases(session: AsyncSession, request: ListQuery) -> tuple[list[tuple[Case, Label | None]], int]:
    """The page of cases ``request`` asks for, each with its label, and how many cases match in all."""
    count, page = statements(await prepared(session, request))
    total = (await session.execute(count)).scalar_one()
    rows = (await session.execute(page)).all()
    return [(case, label) for case, label in rows], total
