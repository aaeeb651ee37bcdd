"""The benchmarks' own arithmetic: hey's CSV read back, py-spy's stacks summed, plans read, the report written."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from bench.load import parse, percentile
from bench.openloop import offer
from bench.orders_list import reads_index, sorts_rows, summary
from bench.profiles import shares
from bench.report import Goal, Section, Table, line_chart, write_report

HEY_CSV = """response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset
0.0100,0.0003,0.0000,0.0000,0.0035,0.0001,200,0.0001
0.0200,0.0001,0.0000,0.0000,0.0035,0.0001,200,0.5000
0.0300,0.0001,0.0000,0.0000,0.0035,0.0001,503,1.0000
0.0400,0.0001,0.0000,0.0000,0.0035,0.0001,200,1.9900
"""

POSTGRES_PLAN = """Limit  (cost=0.71..12.3 rows=50 width=300)
  ->  Sort  (cost=1.0..2.0 rows=10 width=8)
        Sort Key: (lower((labels.name)::text))
        ->  Bitmap Heap Scan on cases  (cost=4.2..8.5 rows=10 width=8)
              Recheck Cond: ((doctor_id)::text = 'x'::text)
              ->  Bitmap Index Scan on ix_cases_doctor_label  (cost=0.00..4.2 rows=10 width=0)"""


def test_hey_output_gives_rate_errors_and_percentiles() -> None:
    load = parse(HEY_CSV, seconds=2.0)
    assert (load.requests, load.errors) == (3, 1)
    assert load.seconds == 2.03  # the last answer arrived after the run's end
    assert (load.p50_ms, load.p99_ms) == (20.0, 40.0)
    assert round(load.rps, 3) == round(3 / 2.03, 3) and load.tail_ratio == 2.0


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([], 99) == 0.0


def test_profile_shares_count_project_frames_once_per_stack_and_leaves_apart() -> None:
    stacks = (
        "run (asyncio/runners.py:1);handle (shared/http.py:10);handle (shared/http.py:20);loads (json/x.py:3) 3\n"
        "run (asyncio/runners.py:1);dashboard (services/cases/api/dashboard.py:5);execute (sqlalchemy/x.py:9) 1"
    )
    found = shares(stacks, top=5)
    assert found.own == [("handle (shared/http.py)", 0.75), ("dashboard (services/cases/api/dashboard.py)", 0.25)]
    assert found.leaves == [("loads (json/x.py)", 0.75), ("execute (sqlalchemy/x.py)", 0.25)]


def test_profile_shares_leave_waiting_threads_out() -> None:
    stacks = (
        "run (asyncio/runners.py:1);handle (shared/http.py:10) 1\n"
        "_bootstrap (threading.py:1);_connection_worker_thread (aiosqlite/core.py:59) 5\n"
        "_bootstrap (threading.py:1);worker (x.py:2);Condition.wait (threading.py:327) 5"
    )
    assert shares(stacks, top=5).leaves == [("handle (shared/http.py)", 1.0)]


def test_plans_are_read_for_index_use_and_sorting() -> None:
    assert reads_index(POSTGRES_PLAN) and sorts_rows(POSTGRES_PLAN)
    assert summary(POSTGRES_PLAN) == (
        "Limit → Sort → Bitmap Heap Scan on cases → Bitmap Index Scan on ix_cases_doctor_label"
    )
    sqlite = "SEARCH cases USING INDEX ix_cases_doctor_created (doctor_id=?)"
    assert reads_index(sqlite) and not sorts_rows(sqlite)
    assert not reads_index("SCAN cases") and sorts_rows("SCAN cases\nUSE TEMP B-TREE FOR ORDER BY")


def test_report_lists_every_goal_and_draws_its_charts(tmp_path: Path) -> None:
    assert Goal("ratio", 0.6, 0.5).met and not Goal("p99 ms", 60.0, 50.0, at_least=False).met
    chart = line_chart(tmp_path / "curve.png", "t", "x", "y", {"one": ([1.0, 2.0], [3.0, 4.0])})
    table = Table("Runs", ["name", "req/s"], [["a|b", 1234.5], ["c", None]])
    section = Section("1. Views", ["a note"], [table], [Goal("ratio", 0.4, 0.5)], [chart])
    write_report(tmp_path / "report.md", [section], scale=0.1, seconds=12.0)
    text = (tmp_path / "report.md").read_text()
    assert "| 1. Views | ratio | 0.4 | ≥ 0.5 | NO |" in text
    assert "| a\\|b | 1,234 |" in text and "| c | – |" in text
    assert "![curve](curve.png)" in text and chart.read_bytes().startswith(b"\x89PNG")


async def test_open_loop_sends_at_the_planned_times_whether_or_not_answers_came() -> None:
    in_flight, most = 0, 0

    async def slow(_request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.2)  # four times the 0.05 s between two planned requests
        in_flight -= 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        results = await offer(f"http://127.0.0.1:{port}/", rate=20, seconds=0.5, headers={})
    finally:
        await runner.cleanup()
    assert [status for _, status, _ in results] == [200] * 10
    assert all(taken >= 0.2 for taken, _, _ in results)  # counted from the planned start, the answer included
    assert most > 1  # the next request did not wait for the answer to the last
