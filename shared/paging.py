"""The paging parameters every internal service's list takes (API.md "Conventions": ``page`` from 1, ``page_size``
50 by default and 200 at most), answered as ``{items, page, page_size, total}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_PAGE = 1_000_000
"""The last page number a list accepts (a larger one would overflow the database's offset)."""
MAX_PAGE_SIZE = 200
"""Items a page holds at most."""

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="from 1")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
