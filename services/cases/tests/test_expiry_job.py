"""The expiry job with a controlled clock, on SQLite and PostgreSQL: each reminder (90, 30, 7 days before) is sent
once, a case first seen late hears only the nearest one, a case past its date is expired once even by two replicas at
once; and the service runs the job by itself."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from services.cases.expiry import remind_and_expire
from services.cases.models import Case
from services.cases.tests.conftest import (
    Cases,
    Order,
    cases_settings,
    new_order,
    ok,
    running_cases,
    ship_phase_one,
    submitted_case,
)
from shared.db import utcnow
from tests.harness.events import Tap


async def shipped_case(cases: Cases, package: str) -> tuple[Order, datetime | None]:
    """A case whose phase 1 has shipped with ``package``; returns it and its expiry."""
    order = new_order()
    await submitted_case(cases, order)
    shipped = await ship_phase_one(cases, order, package)
    return order, datetime.fromisoformat(shipped["expires_at"]) if shipped["expires_at"] else None


async def status_of(cases: Cases, order: Order) -> str:
    async with cases.doctor(order.doctor_id) as doctor:
        return (await ok(await doctor.get(f"/cases/{order.case_id}")))["case"]["status"]


async def test_reminders_once_each_then_expiry_once(cases: Cases) -> None:
    async with Tap(cases.vhost_url, "case.expiring_soon.#", "case.status_changed.#") as tap:
        mini, expires = await shipped_case(cases, "MINI")
        late, late_expires = await shipped_case(cases, "ONE")
        flex, no_expiry = await shipped_case(cases, "FLEX")
        assert expires is not None and late_expires is not None and no_expiry is None
        late_expires = expires + timedelta(days=200)  # the job first sees this one 5 days before its date
        async with cases.sessions() as session, session.begin():
            await session.execute(sa.update(Case).where(Case.id == late.case_id).values(expires_at=late_expires))

        runs = [
            (expires - timedelta(days=91), (0, 0)),
            (expires - timedelta(days=90), (0, 1)),  # the first case's 90-day reminder
            (expires - timedelta(days=90, seconds=-60), (0, 0)),  # is not sent again
            (expires - timedelta(days=30), (0, 1)),
            (expires - timedelta(days=7), (0, 1)),
            (late_expires - timedelta(days=5), (1, 1)),  # the first case expires; the late one hears its 7-day one only
        ]
        for now, expected in runs:
            assert await remind_and_expire(cases.sessions, now) == expected, now
        assert await status_of(cases, mini) == "expired" and await status_of(cases, late) == "shipped"
        twice = await asyncio.gather(
            remind_and_expire(cases.sessions, late_expires), remind_and_expire(cases.sessions, late_expires)
        )
        assert sorted(twice) == [(0, 0), (1, 0)]
        assert await status_of(cases, late) == "expired" and await status_of(cases, flex) == "shipped"
        assert await remind_and_expire(cases.sessions, late_expires + timedelta(days=400)) == (0, 0)

        reminders = await tap.wait("case.expiring_soon", 4)
        expired = [e for e in await tap.wait("case.status_changed", 2) if e.payload["status"] == "expired"]
        await asyncio.sleep(0.5)
    by_case = {
        order.case_id: [e.payload["days_before"] for e in tap.of("case.expiring_soon") if e.subject == order.case_id]
        for order in (mini, late, flex)
    }
    assert by_case == {mini.case_id: [90, 30, 7], late.case_id: [7], flex.case_id: []}
    assert len(reminders) == 4 and {e.subject for e in expired} == {mini.case_id, late.case_id}
    assert len([e for e in tap.of("case.status_changed") if e.payload["status"] == "expired"]) == 2
    async with cases.doctor(mini.doctor_id) as doctor:
        page = await ok(await doctor.get(f"/cases/{mini.case_id}"))
    assert page["case"]["expiry_level"] == "expired" and page["history"][-1]["kind"] == "expire"
    assert [e["kind"] for e in page["history"]].count("expiring_soon") == 3


async def test_the_service_runs_the_expiry_job_by_itself(tmp_path: Path, vhost_url: str, database_url: str) -> None:
    async with running_cases(cases_settings(tmp_path, vhost_url, database_url, expiry_check_seconds=0.2)) as cases:
        order, _ = await shipped_case(cases, "ONE")
        async with cases.sessions() as session, session.begin():
            await session.execute(
                sa.update(Case).where(Case.id == order.case_id).values(expires_at=utcnow() - timedelta(minutes=1))
            )
        deadline = time.monotonic() + 20
        while await status_of(cases, order) != "expired":
            assert time.monotonic() < deadline, "the job did not expire the case"
            await asyncio.sleep(0.1)
