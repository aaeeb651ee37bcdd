"""Where a process spends its time under load: ``py-spy`` sampling it from outside, summed by function."""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiosqlite.core

from bench.load import hey
from bench.report import Table

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
"""py-spy of this environment (the ``bench`` extra)."""
WAITS = ("Condition.wait (threading.py", "Event.wait (threading.py", "Queue.get (queue.py", "select (selectors.py")
"""Frames where a thread waits (py-spy counts a timed wait as busy): a sample whose innermost frame is one is idle."""
PROJECT_PATHS = ("services/", "shared/")
"""Frames from these folders (as py-spy names them, relative to ``sys.path``) are the project's own code."""


@dataclass(frozen=True)
class Profile:
    """Shares (0-1) of a process's busy samples (threads waiting left out): ``own`` by function of the project on the
    stack (each counted once per stack), ``leaves`` by function running at the top of the stack (where the time
    itself goes)."""

    own: list[tuple[str, float]]
    leaves: list[tuple[str, float]]


def profile(pid: int, seconds: float, top: int = 8) -> Profile:
    """Sample process ``pid`` for ``seconds`` (idle threads left out); the ``top`` functions of each kind. Empty when
    py-spy could not sample (it needs ptrace rights over the process)."""
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "stacks.txt"
        command = [PY_SPY, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
        command += ["--rate", "200", "--format", "raw", "--output", str(raw), "--nonblocking"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
        if done.returncode != 0 or not raw.exists():
            return Profile([], [])
        return shares(raw.read_text(), top)


def shares(collapsed: str, top: int) -> Profile:
    """The :class:`Profile` of collapsed stacks (``frame;frame;... count`` per line, outermost frame first)."""
    own: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if _waiting(frames[-1]):
            continue
        total += int(count)
        leaves[_function(frames[-1])] += int(count)
        for function in {_function(frame) for frame in frames if _where(frame).startswith(PROJECT_PATHS)}:
            own[function] += int(count)
    if not total:
        return Profile([], [])
    return Profile(
        [(name, count / total) for name, count in own.most_common(top)],
        [(name, count / total) for name, count in leaves.most_common(top)],
    )


def _waiting(frame: str) -> bool:
    """Whether ``frame`` is a thread waiting: one of :data:`WAITS`, or aiosqlite's worker thread waiting for its next
    call (its ``tx.get()`` line)."""
    return frame.startswith(WAITS) or frame in _aiosqlite_waits()


@functools.cache
def _aiosqlite_waits() -> frozenset[str]:
    lines, first = inspect.getsourcelines(aiosqlite.core._connection_worker_thread)
    numbers = [first + offset for offset, line in enumerate(lines) if "tx.get(" in line]
    return frozenset(f"_connection_worker_thread (aiosqlite/core.py:{number})" for number in numbers)


def _where(frame: str) -> str:
    """``name (path/to/module.py:line)`` → ``path/to/module.py``."""
    return frame.partition(" (")[2].split(":")[0]


def _function(frame: str) -> str:
    """``name (path/to/module.py:line)`` → ``name (path/to/module.py)``."""
    name, where = frame.partition(" (")[0], _where(frame)
    return f"{name} ({where})" if where else name


def sample(pids: dict[str, int], seconds: float) -> dict[str, Profile]:
    """The :class:`Profile` of each process of ``pids`` (by name), all sampled at once for ``seconds`` from now;
    blocks until done (run the load meanwhile in another thread or process)."""
    with ThreadPoolExecutor(len(pids)) as pool:
        sampled = {name: pool.submit(profile, pid, seconds) for name, pid in pids.items()}
        return {name: future.result() for name, future in sampled.items()}


def profile_table(found: dict[str, Profile], title: str) -> Table:
    """A report table of profiles by process name: the top project functions and running functions of each."""
    table = Table(title, ["process", "function", "share of busy samples"])
    for name, measured in found.items():
        table.rows += [[name, function, share] for function, share in measured.own[:5]]
        table.rows += [[name, f"running: {function}", share] for function, share in measured.leaves[:4]]
    return table


def during(pids: dict[str, int], seconds: float, action: Callable[[], object]) -> dict[str, Profile]:
    """The profiles of ``pids`` sampled for ``seconds`` while ``action`` runs in this thread (it should last at least
    that long)."""
    with ThreadPoolExecutor(1) as pool:
        sampled = pool.submit(sample, pids, seconds)
        action()
        return sampled.result()


def under_load(
    pids: dict[str, int], url: str, headers: dict[str, str], seconds: float, connections: int, title: str
) -> Table:
    """Where each process of ``pids`` (by name) spends its time while ``hey`` loads ``url`` for ``seconds``: py-spy
    on all of them at once; the top project functions and running functions of each as a report table."""
    found = during(pids, seconds - 1, lambda: hey(url, connections=connections, seconds=seconds, headers=headers))
    return profile_table(found, title)
