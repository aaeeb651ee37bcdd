"""The dashboard's numbers (DOMAIN.md "Dashboard"): cases per bucket and status, and the practice insights of a
period compared with the period before it.

Periods are counted in the doctor's time zone: ``mtd`` from the first of this month, ``qtd`` from the first day of
this quarter, ``ytd`` from 1 January, each until now; ``all`` is everything (and has no comparison). The previous
period starts one month, quarter or year earlier and lasts as long as the current one has so far (at most until the
current one starts): on 15 March at noon, ``mtd`` compares 1-15 March noon with 1-15 February noon.

Every metric is computed from the case history (:class:`~services.cases.models.HistoryEntry`), for the doctor's own
cases: cases submitted (first orders, not modifications), setups approved, cases started (phase 1 shipped), phases
shipped, cases completed (last phase delivered), and the medians, in days, from a case's submission to its first
setup's publication and from a setup's publication to its approval, for the setups published or approved in the
period.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.cases.models import Case, HistoryEntry
from services.cases.statuses import BUCKETS, STATUSES

PERIODS: tuple[str, ...] = ("mtd", "qtd", "ytd", "all")
PERIOD_MONTHS = {"mtd": 1, "qtd": 3, "ytd": 12}
COUNTS = ("cases_submitted", "setups_approved", "cases_started", "phases_shipped", "cases_completed")
MEDIANS = ("median_days_submission_to_first_setup", "median_days_setup_to_approval")


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC; ``start`` None for "since the beginning"."""

    start: datetime | None
    end: datetime

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` is in the window (what :func:`_within` asks of a column)."""
        return (self.start is None or moment >= self.start) and moment < self.end


def windows(period: str, now: datetime, zone: tzinfo) -> tuple[Window, Window | None]:
    """The period ``period`` as of ``now`` in time zone ``zone``, and the previous period to compare it with (None
    for ``all``). Raises ``KeyError`` for an unknown period."""
    if period == "all":
        return Window(None, now), None
    months = PERIOD_MONTHS[period]
    local = now.astimezone(zone)
    first_month = (local.month - 1) // months * months + 1
    start = datetime(local.year, first_month, 1, tzinfo=zone).astimezone(UTC)
    previous_start = (datetime(local.year, first_month, 1, tzinfo=zone) - relativedelta(months=months)).astimezone(UTC)
    previous_end = min(previous_start + (now - start), start)
    return Window(start, now), Window(previous_start, previous_end)


def _within(column: Any, window: Window) -> list[ColumnElement[bool]]:
    conditions = [column < window.end]
    if window.start is not None:
        conditions.append(column >= window.start)
    return conditions


EARLIER = aliased(HistoryEntry)
"""The earlier history entry a median pairs an entry with; built once (building an alias per request cost a tenth of
the dashboard's CPU time in the cases service, bench/REPORT.md)."""


async def metrics(session: AsyncSession, doctor_id: str, periods: Sequence[Window]) -> list[dict[str, Any]]:
    """The period metrics of the doctor's own cases in each window of ``periods``, in that order: counts, and
    medians in days (one decimal; None when nothing was published or approved in the window). Two queries whatever
    the number of windows: the counts of every window in one, the pairs the medians are taken from in the other."""
    entry = HistoryEntry
    starts = [window.start for window in periods]
    span = Window(None if None in starts else min(start for start in starts if start), max(w.end for w in periods))
    mine = [entry.doctor_id == doctor_id, *_within(entry.at, span)]
    columns = []
    for window in periods:
        inside = _within(entry.at, window)
        columns += [
            func.count().filter(entry.kind == "order_submitted", *inside),
            func.count().filter(entry.kind == "approve_setup", *inside),
            func.count().filter(entry.kind == "ship_phase", entry.number == 1, *inside),
            func.count().filter(entry.kind == "ship_phase", *inside),
            func.count().filter(entry.status_to == "last_phase_delivered", *inside),
        ]
    counted = select(*columns).where(
        *mine,
        entry.kind.in_(("order_submitted", "approve_setup", "ship_phase", "deliver_phase")),  # type: ignore[attr-defined]
    )
    row = list((await session.execute(counted)).one())
    found = [dict(zip(COUNTS, row[i * len(COUNTS) : (i + 1) * len(COUNTS)], strict=True)) for i in range(len(periods))]

    first_setups = (
        select(literal(MEDIANS[0]), entry.at, EARLIER.at)
        .join(EARLIER, and_(EARLIER.case_id == entry.case_id, EARLIER.kind == "order_submitted"))
        .where(*mine, entry.kind == "publish_setup", entry.number == 1)
    )
    approvals = (
        select(literal(MEDIANS[1]), entry.at, EARLIER.at)
        .join(
            EARLIER,
            and_(EARLIER.case_id == entry.case_id, EARLIER.kind == "publish_setup", EARLIER.number == entry.number),
        )
        .where(*mine, entry.kind == "approve_setup")
    )
    pairs = (await session.execute(union_all(first_setups, approvals))).all()
    for window, metrics_of in zip(periods, found, strict=True):
        for name in MEDIANS:
            days = [
                (later - before).total_seconds() / 86400
                for median, later, before in pairs
                if median == name and window.holds(later)
            ]
            metrics_of[name] = round(statistics.median(days), 1) if days else None
    return found


def change(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Per metric, ``{delta, percent}``: the difference from the previous period and its share of the previous
    value in percent (None when the previous value is 0 or missing)."""
    changed: dict[str, Any] = {}
    for name, value in current.items():
        before = previous.get(name)
        if value is None or before is None:
            changed[name] = {"delta": None, "percent": None}
            continue
        delta = round(value - before, 1)
        changed[name] = {"delta": delta, "percent": round(delta / before * 100, 1) if before else None}
    return changed


async def counts(session: AsyncSession, visible: ColumnElement[bool]) -> dict[str, Any]:
    """``{buckets: {bucket: n}, statuses: {status: n}}`` over the cases ``visible`` selects (every bucket and status
    present, zeros included)."""
    rows = await session.execute(select(Case.status, func.count()).where(visible).group_by(Case.status))
    statuses = dict.fromkeys((status.code for status in STATUSES), 0)
    statuses.update({status: count for status, count in rows})
    buckets = dict.fromkeys(BUCKETS, 0)
    for status in STATUSES:
        buckets[status.bucket] += statuses[status.code]
    return {"buckets": buckets, "statuses": statuses}
