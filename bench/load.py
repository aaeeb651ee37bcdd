"""HTTP load from a separate process, its per-request CSV read back here.

Closed loop (:func:`hey`, Debian's package ``hey``): ``connections`` workers each send their next request as soon as
the last one answered: the throughput a server sustains. Open loop (:func:`offered`, :mod:`bench.openloop`):
requests at fixed times, ``rate`` per second: the latency at a given load.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class LoadToolMissing(RuntimeError):
    """``hey`` is not installed."""


@dataclass(frozen=True)
class Load:
    """What a load run measured: answers per second, latency percentiles in milliseconds, and the answers that were
    not 2xx or 3xx (``errors``; requests that got no answer at all count too)."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        """Answers per second over the run."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def tail_ratio(self) -> float:
        """p99 / p50 (how far the slowest answers are from the typical one)."""
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")


def median(loads: Sequence[Load]) -> Load:
    """The run of median throughput among ``loads`` (the upper middle one of an even number)."""
    return sorted(loads, key=lambda load: load.rps)[len(loads) // 2]


def hey(
    url: str,
    *,
    connections: int = 50,
    seconds: float = 10.0,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> Load:
    """Send requests to ``url`` from ``connections`` concurrent workers, each sending its next request once the last
    was answered, for ``seconds``; raises :class:`LoadToolMissing` without ``hey``."""
    if shutil.which("hey") is None:
        raise LoadToolMissing("the benchmarks send their load with hey: `apt-get install hey`")
    command = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-m", method, "-o", "csv", "-T", content_type]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if body is not None:
        command += ["-d", body.decode()]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse(done.stdout, seconds)


def offered(url: str, *, rate: float, seconds: float, headers: Mapping[str, str] | None = None) -> Load:
    """``GET url`` at ``rate`` requests per second for ``seconds``, each at its planned time whether or not earlier
    ones were answered (:mod:`bench.openloop`, in a process of its own); latencies count from the planned times."""
    command = [sys.executable, "-m", "bench.openloop", url, "--rate", str(rate), "--seconds", str(seconds)]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse(done.stdout, seconds)


def parse(output: str, seconds: float) -> Load:
    """The :class:`Load` of ``hey -o csv`` output of a run of ``seconds``; answers arrived after the run's end (hey
    waits for those in flight) still count, over the time they took."""
    rows = list(csv.DictReader(io.StringIO(output)))
    times = sorted(float(row["response-time"]) * 1000 for row in rows)
    ended = max((float(row["offset"]) + float(row["response-time"]) for row in rows), default=seconds)
    errors = sum(1 for row in rows if not 200 <= int(row["status-code"]) < 400)
    return Load(
        requests=len(rows) - errors,
        seconds=max(seconds, ended),
        p50_ms=percentile(times, 50),
        p90_ms=percentile(times, 90),
        p99_ms=percentile(times, 99),
        errors=errors,
    )


def percentile(ordered: Sequence[float], rank: float) -> float:
    """The ``rank``-th percentile (0-100, nearest rank) of the sorted values ``ordered``; 0 when empty."""
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(rank / 100 * len(ordered)) - 1))
    return ordered[index]
