"""Helpers for the messaging tests: write probe events over HTTP, read what the probe applied, tap the exchange."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from shared.db import create_engine
from shared.settings import PortalSettings
from tests.harness.fixtures import make_settings, migrate
from tests.probe import SERVICE, create_probe_tables, probe_applied, probe_subjects


async def probe_settings(tmp_path: Path, rabbitmq_url: str, database_url: str, **overrides: object) -> PortalSettings:
    """Test settings (see ``make_settings``) on a migrated database that holds the probe's tables."""
    settings = make_settings(tmp_path, rabbitmq_url, database_url, **overrides)
    await migrate(SERVICE, settings)
    await create_probe_tables(database_url)
    return settings


async def post_events(
    base: str, headers: dict[str, str], subject: str, versions: list[int], **extra: object
) -> list[str]:
    """Ask the probe to write events for ``subject`` at ``versions``; returns their ids."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{base}/v1/probe", json={"subject": subject, "versions": versions, **extra}, headers=headers
        )
    assert response.status_code == 201, response.text
    return response.json()["ids"]


async def applied_rows(database_url: str) -> list[dict[str, object]]:
    """Every row of ``probe_applied`` (one per application of an event)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return [dict(row._mapping) for row in await connection.execute(sa.select(probe_applied))]
    finally:
        await engine.dispose()


async def subject_versions(database_url: str) -> dict[str, int]:
    """The version ``probe_subjects`` holds for each subject."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.select(probe_subjects))
            return {row.subject: row.aggregate_version for row in rows}
    finally:
        await engine.dispose()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0, interval: float = 0.1) -> None:
    """Wait until ``check()`` is true; fails the test when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    assert await check(), f"condition not met within {timeout} s"


async def inbox_count(database_url: str, consumer: str) -> int:
    """How many distinct events ``consumer`` recorded in its inbox."""
    from shared.messaging.inbox import InboxMessage

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(InboxMessage).where(InboxMessage.consumer == consumer)
            return int(await connection.scalar(query) or 0)
    finally:
        await engine.dispose()


async def write_events_directly(database_url: str, subject: str, versions: list[int]) -> list[str]:
    """Commit probe events to the outbox from outside any service process; returns their ids."""
    from shared.db import session_factory, transaction
    from shared.messaging.outbox import add_event
    from tests.probe import ProbeRecorded

    engine = create_engine(database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return [
                str(add_event(session, ProbeRecorded(n=v), source=SERVICE, subject=subject, aggregate_version=v).id)
                for v in versions
            ]
    finally:
        await engine.dispose()
