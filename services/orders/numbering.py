"""Order numbers: ``DP-<year>-<6 digits>`` (e.g. ``DP-2026-000123``), unique across replicas and never reused.

One counter row per year holds the last number given out. :func:`next_order_number` bumps it with a single
``INSERT ... ON CONFLICT (year) DO UPDATE SET last_number = last_number + 1 RETURNING last_number`` inside the
transaction that creates the order: on PostgreSQL the row lock makes concurrent creators take turns until commit
(the first of a year is inserted once, ON CONFLICT settling the race); on SQLite the database's write lock does the
same. A rolled-back creation rolls its number back with it, so a number is either used by a committed order or
never seen. The unique constraint on ``orders.order_number`` backs this up.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.models import OrderNumberCounter

PREFIX = "DP"


def format_order_number(year: int, number: int) -> str:
    """``DP-<year>-<number>`` with the number zero-padded to at least six digits."""
    return f"{PREFIX}-{year}-{number:06d}"


async def next_order_number(session: AsyncSession, year: int) -> str:
    """Take the next order number of ``year`` inside ``session``'s transaction (which holds the counter's lock until
    it ends)."""
    table = OrderNumberCounter.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(year=year, last_number=1)
    statement = statement.on_conflict_do_update(
        index_elements=["year"], set_={"last_number": table.c.last_number + 1}
    ).returning(table.c.last_number)
    number = (await session.execute(statement)).scalar_one()
    return format_order_number(year, number)
