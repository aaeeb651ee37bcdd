"""``python -m bench [NAME ...]``: run the benchmarks (all, or those named) and write the Markdown report.

``--scale`` (or ``BENCH_SCALE``, default 1) shrinks every duration and data set for a short smoke run; the report
(``report.md``) and its charts go to ``--out`` (default ``bench/results``). Exits 0 whether goals are met or not: the
report says which are; benchmarks never gate on times. A benchmark that fails is reported with its error, and the
others still run; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from bench.context import Context
from bench.report import Section, write_report

BENCHMARKS = {
    "views": "bench.views",
    "orders_list": "bench.orders_list",
    "pipeline": "bench.pipeline",
    "transfers": "bench.transfers",
    "telemetry": "bench.telemetry",
    "scaling": "bench.scaling",
}
"""Each benchmark's name and module (whose ``run(Context) -> Section`` measures it and ``TITLE`` names it), in the
report's order."""

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named in ``argv`` (all when none), print each section and write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (all by default): {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=os.environ.get("BENCH_SCALE", "1"),
        help="shrink every duration and data set by this factor, in (0, 1] (default: BENCH_SCALE, else 1)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where the report goes (default: {DEFAULT_OUT})")
    options = parser.parse_args(argv)
    if not 0 < options.scale <= 1:
        parser.error(f"--scale (or BENCH_SCALE) must be in (0, 1], not {options.scale}")
    names = list(dict.fromkeys(name.replace("-", "_") for name in options.names))
    if unknown := [name for name in names if name not in BENCHMARKS]:
        parser.error(f"no benchmark {', '.join(unknown)} (there are {', '.join(BENCHMARKS)})")
    options.out.mkdir(parents=True, exist_ok=True)
    context = Context(options.scale, options.out)
    started = time.monotonic()
    sections = []
    failed = False
    for name in names or list(BENCHMARKS):
        began = time.monotonic()
        module = importlib.import_module(BENCHMARKS[name])
        try:
            section: Section = module.run(context)
        except Exception:  # one benchmark failing leaves the others' results, and says why in the report
            section = Section(module.TITLE, [f"Failed:\n\n```\n{traceback.format_exc(limit=6)}\n```"])
            failed = True
        section.seconds = time.monotonic() - began
        print(section.markdown(), end="\n\n", flush=True)
        sections.append(section)
    report = options.out / "report.md"
    write_report(report, sections, options.scale, time.monotonic() - started)
    print(f"report: {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
