"""Case packages and expiry (DOMAIN.md "Expiration"): the expiry date, its display level, and the scheduled job that
reminds doctors before a case expires and expires it.

A case's expiry date is the calendar day of its phase 1 shipment (in UTC) plus its package's months (calendar
months, the day clamped to the month's end: 31 August + 6 months is 28 or 29 February); a FLEX case never expires.
``expires_at`` is the start (00:00 UTC) of that day: on the day itself the case is expired. Levels count calendar
months back from the expiry date: more than 6 months left ``normal``, 3 to 6 months ``warning``, 3 months or less
``critical``, from the day itself ``expired``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import structlog
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from services.cases.lifecycle import SYSTEM, identity, move, publish, record
from services.cases.models import Case, ExpiryReminder
from services.cases.statuses import EXPIRABLE, Action
from shared.db import upsert, utcnow
from shared.events.cases import CaseExpiringSoon

log = structlog.get_logger(__name__)

PACKAGE_MONTHS: dict[str, int | None] = {
    "FLEX": None,
    "MINI": 6,
    "ONE": 12,
    "TWO": 24,
    "UNLIMITED3": 36,
    "UNLIMITED5": 60,
}
"""Months each case package lasts from phase 1 shipment (DOMAIN.md "case package"); FLEX has no expiry."""

REMINDER_DAYS: tuple[int, ...] = (90, 30, 7)
"""Days before expiry at which ``case.expiring_soon`` is sent, once each."""


def expiry_of(package: str | None, phase_one_shipped_at: datetime) -> datetime | None:
    """The expiry instant (00:00 UTC of the expiry day) of a case of ``package`` whose phase 1 shipped at
    ``phase_one_shipped_at``; None for FLEX or no package. Raises ``KeyError`` for an unknown package."""
    months = PACKAGE_MONTHS[package] if package else None
    if months is None:
        return None
    day = phase_one_shipped_at.astimezone(UTC).date() + relativedelta(months=months)
    return datetime.combine(day, time(), tzinfo=UTC)


def expiry_level(expires_at: datetime | None, today: date) -> str | None:
    """``normal``, ``warning``, ``critical`` or ``expired`` for a case expiring at ``expires_at`` seen on ``today``
    (a UTC calendar day); None when the case has no expiry date."""
    if expires_at is None:
        return None
    day = expires_at.astimezone(UTC).date()
    if today >= day:
        return "expired"
    if today >= day - relativedelta(months=3):
        return "critical"
    if today >= day - relativedelta(months=6):
        return "warning"
    return "normal"


async def remind_and_expire(sessions: async_sessionmaker[AsyncSession], now: datetime) -> tuple[int, int]:
    """One run of the job as of ``now``: expire every case whose expiry has passed, and send each due reminder
    once; returns (cases expired, reminders sent). Each case that needs something is handled in its own
    transaction; a case changed meanwhile by someone else is left to the next run. Safe to run in several replicas
    at once: an expiry is a conditional update on the case's version, a reminder a unique row."""
    async with sessions() as session:
        candidates = (
            await session.execute(
                select(Case.id, Case.expires_at).where(
                    Case.expires_at.is_not(None),  # type: ignore[union-attr]
                    Case.expires_at <= now + timedelta(days=max(REMINDER_DAYS)),  # type: ignore[operator]
                    Case.status.in_(EXPIRABLE),  # type: ignore[attr-defined]
                )
            )
        ).all()
        handled = await session.execute(
            select(ExpiryReminder.case_id, ExpiryReminder.days_before).where(
                ExpiryReminder.case_id.in_([case_id for case_id, _ in candidates])  # type: ignore[attr-defined]
            )
        )
        done = {(case_id, days) for case_id, days in handled}
    actionable = [
        case_id
        for case_id, expires_at in candidates
        if expires_at <= now
        or ((case_id, nearest) not in done if (nearest := _nearest_due(expires_at, now)) else False)
    ]
    expired = reminded = 0
    for case_id in actionable:
        try:
            async with sessions() as session, session.begin():
                done_now = await _handle(session, case_id, now)
        except StaleDataError:
            log.info("case changed while the expiry job ran; next run", case_id=case_id)
            continue
        expired += done_now == "expired"
        reminded += done_now == "reminded"
    return expired, reminded


async def _handle(session: AsyncSession, case_id: str, now: datetime) -> str | None:
    """Expire the case or send its due reminder, inside the caller's transaction; what was done, if anything."""
    case = await session.get(Case, case_id)
    if case is None or case.expires_at is None or case.status not in EXPIRABLE:
        return None
    if case.expires_at <= now:
        _expire(session, case, now)
        return "expired"
    return "reminded" if await _remind(session, case, now) else None


def _nearest_due(expires_at: datetime, now: datetime) -> int | None:
    """The smallest of :data:`REMINDER_DAYS` whose moment (``expires_at`` minus that many days) has come."""
    due = [days for days in REMINDER_DAYS if expires_at - timedelta(days=days) <= now]
    return min(due) if due else None


def _expire(session: AsyncSession, case: Case, now: datetime) -> None:
    summary = f"Case expired: its {case.package} package ended on {case.expires_at:%Y-%m-%d}"
    move(session, case, Action.EXPIRE, "expired", SYSTEM, summary, at=now)


async def _remind(session: AsyncSession, case: Case, now: datetime) -> bool:
    """Send the nearest reminder now due unless it was handled; reminders further out that were never sent are
    marked handled too (a doctor hears once, with the nearest date, not three times at once)."""
    assert case.expires_at is not None
    nearest = _nearest_due(case.expires_at, now)
    if nearest is None:
        return False
    claimed = await session.execute(
        upsert(session, ExpiryReminder.__table__)
        .values(case_id=case.id, days_before=nearest, handled_at=now, sent=True)
        .on_conflict_do_nothing(index_elements=["case_id", "days_before"])
    )
    if not claimed.rowcount:
        return False
    for days in REMINDER_DAYS:
        if days > nearest:
            await session.execute(
                upsert(session, ExpiryReminder.__table__)
                .values(case_id=case.id, days_before=days, handled_at=now, sent=False)
                .on_conflict_do_nothing(index_elements=["case_id", "days_before"])
            )
    publish(session, case, CaseExpiringSoon(**identity(case), expires_at=case.expires_at, days_before=nearest))
    record(session, case, "expiring_soon", SYSTEM, f"Expires on {case.expires_at:%Y-%m-%d} ({nearest} days)", at=now)
    return True


async def expiry_run(sessions: async_sessionmaker[AsyncSession]) -> None:
    """One run of the expiry job (:func:`remind_and_expire` now), logged when it reminded or expired."""
    expired, reminded = await remind_and_expire(sessions, utcnow())
    if expired or reminded:
        log.info("expiry job", expired=expired, reminded=reminded)
