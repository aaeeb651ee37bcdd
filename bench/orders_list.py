"""Benchmark 2, the orders list at scale: the cases service's list query over 1,000,000 cases of 500 doctors, one of
whom has 100,000, on SQLite and on PostgreSQL.

The cases service's database is migrated as the service migrates it, then filled in bulk with generated rows of its
read model (names with accents, every status, labels, setups, expiry dates, some empty values). For the doctor with
the most cases, each query shape the list offers (the first page, page 100, every sort key both ways, a search, a
status filter) runs as the service runs it (:func:`services.cases.listing.list_cases`: the count, then the page),
repeatedly; its plan is asked of the database (``EXPLAIN``). Goals: on PostgreSQL p99 < 50 ms for every shape, and
every plan reads an index.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.context import Context
from bench.load import percentile
from bench.report import Goal, Section, Table
from services.cases.listing import SORT_KEYS, ListQuery, list_cases, prepared, statements
from services.cases.models import Case, Label
from services.cases.settings import Settings
from services.cases.statuses import BY_CODE, RANK, STATUSES
from shared.db import create_engine, is_sqlite, session_factory
from shared.migrations import upgrade
from shared.search import normalise, search_key
from tests.harness.databases import create_postgres_database, drop_postgres_database, sqlite_url

TITLE = "2. Orders list at scale"
ALL_CASES = 1_000_000
BIG_DOCTOR_CASES = 100_000
DOCTORS = 500
P99_GOAL_MS = 50.0
FIRST_NAMES = ("Zoë", "Noé", "Léa", "Hugo", "Chloé", "Jules", "Inès", "Louis", "Manon", "Gabriel", "Élodie", "Raphaël")
LAST_NAMES = ("Lefèvre", "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy")
LAST_NAMES += ("Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "García", "Müller", "Núñez", "Øster", "Ångström")
SEARCH = "lefevre zoe"
"""The search shape: two words, without their accents (about 1 case in 240 matches)."""
CHUNK = 5_000
LABEL_SORT = (
    "The sort by label ranks every matching case by its label's name: the page is chosen from the doctor's label "
    "index alone (no case row is read), but every entry of the doctor's is ranked and sorted, so its time grows "
    "with the doctor's cases. Reading it in order from an index would take the label's name kept on the case row "
    "(rewritten on every case of a label when the doctor renames it)."
)
WHY = {"sort label": LABEL_SORT, "sort -label": LABEL_SORT}
"""What holds a shape back, for the shapes known to miss the time goal at full scale."""


def shapes() -> dict[str, ListQuery]:
    """Every query shape measured, by name (the doctor's condition is added later)."""
    found = {"first page": ListQuery(), "page 100": ListQuery(page=100)}
    found.update({f"sort {key}": ListQuery(sort=key) for key in SORT_KEYS})
    found["search"] = ListQuery(q=SEARCH)
    found["status filter"] = ListQuery(statuses=("setup_in_progress",))
    return found


def run(context: Context) -> Section:
    """Fill and query both databases; the section with every shape's times and plans."""
    total, big = context.count(ALL_CASES, 2_000), context.count(BIG_DOCTOR_CASES, 1_000)
    repeats = max(5, round(20 * context.scale))
    section = Section(TITLE)
    section.notes.append(
        f"{total:,} cases of {DOCTORS} doctors, {big:,} of them the measured doctor's; each shape {repeats} times "
        "as one request to the list asks it of the database (the count, the page, and for the sort by label the "
        "doctor's labels). A plan 'reads an index' when the page query's plan names one; 'sorts' when it sorts rows "
        "itself."
    )
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder:
        for kind in ("SQLite", "PostgreSQL"):
            began = time.monotonic()
            table, goals, missed = asyncio.run(_measure(kind, Path(folder), total, big, repeats))
            section.tables.append(table)
            section.goals += goals
            section.notes.append(f"{kind}: filled and measured in {time.monotonic() - began:.0f} s.")
            section.notes += [f"Plan of {plan}" for plan in missed]
    return section


async def _measure(kind: str, folder: Path, total: int, big: int, repeats: int) -> tuple[Table, list[Goal], list[str]]:
    """Fill a database of ``kind`` and time every shape: the table, the goals (PostgreSQL's) and the full plan of
    each shape past the time goal or reading no index."""
    table = Table(
        f"{kind}: the list of the doctor with {big:,} cases",
        ["shape", "p50 ms", "p99 ms", "matches", "reads an index", "sorts", "plan of the page query"],
    )
    goals: list[Goal] = []
    missed: list[str] = []
    async with _database(kind, folder) as engine:
        doctor = await fill(engine, total, big)
        sessions = session_factory(engine)
        async with sessions() as session:
            for name, shape in shapes().items():
                mine = replace(shape, extra=(Case.doctor_id == doctor,), viewer_doctor_id=doctor)  # type: ignore[arg-type]
                times, matches = await _timed(session, mine, repeats)
                plan = await explain(session, statements(await prepared(session, mine))[1])
                indexed, sorts = reads_index(plan), sorts_rows(plan)
                p99 = percentile(times, 99)
                table.rows.append([name, percentile(times, 50), p99, matches, indexed, sorts, summary(plan)])
                if kind == "PostgreSQL":
                    goals.append(Goal(f"PostgreSQL {name}: p99 ms", p99, P99_GOAL_MS, at_least=False))
                    goals.append(Goal(f"PostgreSQL {name}: plan reads an index", float(indexed), 1.0))
                if p99 >= P99_GOAL_MS or not indexed:
                    why = f"\n\n{WHY[name]}" if name in WHY else ""
                    missed.append(f"{kind}, {name} (p99 {p99:.0f} ms):\n\n```\n{plan}\n```{why}")
    return table, goals, missed


async def _timed(session: AsyncSession, request: ListQuery, repeats: int) -> tuple[list[float], int]:
    """Milliseconds of each of ``repeats`` runs of the list's queries as the service runs them
    (:func:`~services.cases.listing.list_cases`), sorted, and how many cases matched."""
    times, matches = [], 0
    for _ in range(repeats + 1):  # the first run warms the caches and is not counted
        started = time.perf_counter()
        _, matches = await list_cases(session, request)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times[1:]), matches


@asynccontextmanager
async def _database(kind: str, folder: Path) -> AsyncIterator[AsyncEngine]:
    """A new cases database of ``kind``, migrated; dropped afterwards."""
    url = sqlite_url(folder, "cases") if kind == "SQLite" else await create_postgres_database()
    try:
        await asyncio.to_thread(upgrade, "cases", Settings(cases_database_url=url))
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        if not is_sqlite(url):
            await drop_postgres_database(url)


async def fill(engine: AsyncEngine, total: int, big: int) -> str:
    """Insert ``total`` generated cases, ``big`` of them one doctor's and the rest spread over the other doctors,
    then refresh the planner's statistics; returns the big doctor's id. Rows go through the driver in bulk (COPY on
    PostgreSQL), stored as the service's own types store them."""
    rng = random.Random(10)
    doctors = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(DOCTORS)]
    labels = [
        {"id": str(uuid.UUID(int=rng.getrandbits(128))), "doctor_id": doctors[0], "position": n, "color": "#3366cc",
         "name": f"Label {n}"}
        for n in range(5)
    ]  # fmt: skip
    rows = generated(rng, doctors, [label["id"] for label in labels], total, big)
    sqlite = engine.dialect.name == "sqlite"
    async with engine.begin() as connection:
        await connection.execute(insert(Label.__table__), labels)  # type: ignore[attr-defined]
        indexes = (await connection.execute(text(SQLITE_INDEXES if sqlite else POSTGRES_INDEXES))).all()
        for name, _ in indexes:  # built again once the rows are in: much faster than keeping them up to date
            await connection.execute(text(f'DROP INDEX "{name}"'))
        driver = (await connection.get_raw_connection()).driver_connection
        while chunk := [row for _, row in zip(range(CHUNK), rows, strict=False)]:
            if sqlite:
                await driver.executemany(SQLITE_INSERT, [tuple(map(_sqlite_value, row.values())) for row in chunk])
            else:
                records = [tuple(_json_as_text(value) for value in row.values()) for row in chunk]
                await driver.copy_records_to_table("cases", records=records, columns=list(chunk[0]))
        for _, definition in indexes:
            await connection.execute(text(definition))
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))  # as autovacuum would have
    return doctors[0]


COLUMNS = (
    "id", "doctor_id", "order_id", "order_number", "kind", "patient_id", "patient_first_name", "patient_last_name",
    "patient_sort_key", "search_text", "status", "status_rank", "bucket", "version", "created_at", "updated_at",
    "submitted_at", "intake_required_slots", "problem_slots", "intake_pvs", "intake_applied", "package",
    "setup_version", "setup_published_at", "collaborator_status", "expires_at", "label_id",
)  # fmt: skip
"""The columns :func:`generated` fills, in its order."""
SQLITE_INDEXES = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cases' AND sql IS NOT NULL"
POSTGRES_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases' AND indexname NOT IN "
    "(SELECT conname FROM pg_constraint)"
)
"""The cases table's secondary indexes (name, definition), those of its constraints left out."""
SQLITE_INSERT = f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def _json_as_text(value: object) -> object:
    return json.dumps(value) if isinstance(value, list) else value


def _sqlite_value(value: object) -> object:
    """As the service's types store ``value`` in SQLite: UTC times without their zone (SQLAlchemy's text format),
    JSON as text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return _json_as_text(value)


def generated(
    rng: random.Random, doctors: list[str], labels: list[str], total: int, big: int
) -> Iterator[dict[str, Any]]:
    """``total`` case rows: the first ``big`` of ``doctors[0]`` (some with one of its ``labels``), the rest of the
    other doctors in turn; created over the three years before now."""
    now = datetime.now(UTC)
    for n in range(total):
        doctor = doctors[0] if n < big else doctors[1 + n % (len(doctors) - 1)]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        status = rng.choice(STATUSES).code
        created = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        order_number = f"A{n:09d}"
        sort_key = search_key(first, last)
        published = created + timedelta(days=rng.randrange(1, 30)) if rng.random() < 0.6 else None
        yield {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "doctor_id": doctor,
            "order_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "order_number": order_number,
            "kind": "aligner",
            "patient_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "patient_first_name": first,
            "patient_last_name": last,
            "patient_sort_key": sort_key,
            "search_text": normalise(f"{order_number} {sort_key}")[:240],
            "status": status,
            "status_rank": RANK[status],
            "bucket": BY_CODE[status].bucket,
            "version": 1,
            "created_at": created,
            "updated_at": created,
            "submitted_at": created,
            "intake_required_slots": [],
            "problem_slots": [],
            "intake_pvs": False,
            "intake_applied": True,
            "package": rng.choice((None, "lite", "comprehensive")),
            "setup_version": 1 if published else None,
            "setup_published_at": published,
            "collaborator_status": rng.choice((None, None, None, "ready_for_approval")),
            "expires_at": created + timedelta(days=730) if rng.random() < 0.8 else None,
            "label_id": rng.choice(labels) if n < big and rng.random() < 0.3 else None,
        }


async def explain(session: AsyncSession, statement: Select[Any]) -> str:
    """The database's plan of ``statement`` (PostgreSQL's ``EXPLAIN``, SQLite's ``EXPLAIN QUERY PLAN``), one node a
    line."""
    dialect = session.bind.dialect
    compiled = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        rows = (await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
        return "\n".join(row[-1] for row in rows)
    rows = (await session.execute(text(f"EXPLAIN {compiled}"))).all()
    return "\n".join(row[0] for row in rows)


def reads_index(plan: str) -> bool:
    """Whether the plan reads the cases through an index (PostgreSQL's index scans, SQLite's ``USING INDEX``)."""
    return any(marker in plan for marker in ("Index Scan", "Index Only Scan", "Bitmap Index Scan", "USING INDEX",
                                             "USING COVERING INDEX"))  # fmt: skip


def sorts_rows(plan: str) -> bool:
    """Whether the plan sorts rows itself rather than reading them in order from an index."""
    return any(marker in plan for marker in ("Sort  (", "Sort Key", "TEMP B-TREE FOR ORDER BY", "Incremental Sort"))


def summary(plan: str) -> str:
    """The plan's nodes in one line, outermost first, without costs."""
    nodes = []
    for line in plan.splitlines():
        node = line.strip().removeprefix("->").strip().split("  (cost=")[0]
        if node and not node.startswith(("Sort Key", "Filter", "Index Cond", "Recheck", "Join Filter", "Hash Cond")):
            nodes.append(node)
    return " → ".join(nodes)
