"""Datetimes keep their instant on SQLite and PostgreSQL, and naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from shared.db import UTCDateTime, create_engine

metadata = sa.MetaData()
moments = sa.Table("moments", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime()))


async def test_aware_datetimes_round_trip_to_the_same_instant_in_utc(database_url: str) -> None:
    paris_summer = datetime(2026, 7, 14, 23, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(moments.insert().values(id=1, at=paris_summer))
        async with engine.connect() as connection:
            stored = await connection.scalar(sa.select(moments.c.at))
            later = await connection.scalar(
                sa.select(sa.func.count()).where(moments.c.at > datetime(2026, 7, 14, 21, 30, tzinfo=UTC))
            )
        assert stored == paris_summer
        assert stored.tzinfo == UTC and stored.hour == 21
        assert later == 1  # comparisons happen in UTC on both databases
        async with engine.begin() as connection:
            with pytest.raises(StatementError, match="naive datetime"):
                await connection.execute(moments.insert().values(id=2, at=datetime(2026, 1, 1)))
    finally:
        await engine.dispose()
