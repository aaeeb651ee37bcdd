"""How every list of the gateway is paged (API.md "Conventions"): ``page`` from 1, ``page_size`` 50 unless given and
at most ``MAX_PAGE_SIZE``, answered as ``{items, page, page_size, total}`` (:class:`~services.gateway.schemas.Page`).

A route takes ``paging: Paging`` and returns ``await paged(db, query, paging)``, ``query`` selecting its rows in
their order (with a tie-breaker, so that pages neither skip nor repeat a row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.schemas import Page
from shared.paging import MAX_PAGE, MAX_PAGE_SIZE

DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list the request asks for."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        """How many rows come before this page."""
        return (self.page - 1) * self.page_size


def page_request(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="The page, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items a page, at most {MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    """The ``page`` and ``page_size`` query parameters (422 when out of range)."""
    return PageRequest(page, page_size)


Paging = Annotated[PageRequest, Depends(page_request)]


async def paged(
    db: AsyncSession, query: Select[Any], paging: PageRequest, out: Callable[[Any], Any] | None = None
) -> Page[Any]:
    """The page ``paging`` asks for of the rows ``query`` selects (its first column), each passed through ``out``
    when given, with ``total``: how many rows ``query`` selects in all."""
    total = (await db.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()
    rows = list((await db.execute(query.offset(paging.offset).limit(paging.page_size))).scalars())
    items = rows if out is None else [out(row) for row in rows]
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)
