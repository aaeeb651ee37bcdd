"""``portal run`` as a user runs it, for tests: the real command in a subprocess, with its own data directory, free
ports, a fresh RabbitMQ virtual host and, when asked, a fresh PostgreSQL database per service, its output kept; and
what it leaves behind."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from shared.settings import SERVICES
from tests.harness.databases import create_postgres_database, drop_postgres_database
from tests.harness.rabbit import create_vhost, delete_vhost, free_port

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Doctor Portal is ready: (http://\S+)")


def port(env: dict[str, str], service: str) -> int:
    """The port ``service`` was given in ``env``."""
    return int(env[f"PORTAL_{service.upper()}_PORT"])


def answers(url: str) -> bool:
    """Whether anything answers HTTP at ``url``."""
    try:
        httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


def leftover_services(env: dict[str, str]) -> list[psutil.Process]:
    """Live (non-zombie) processes serving one of ``env``'s ports, wherever they sit in the process tree."""
    ports = {str(port(env, service)) for service in SERVICES}
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and "uvicorn" in " ".join(cmdline):
            if any(a == "--port" and b in ports for a, b in zip(cmdline, cmdline[1:], strict=False)):
                found.append(process)
    return found


@dataclass
class Portal:
    """A running ``portal run``: its process and every line it printed so far (stdout and stderr together)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60.0) -> re.Match[str]:
        """The first printed line matching ``pattern``, waiting at most ``timeout`` s; fails if the command exits."""
        deadline, scanned = time.monotonic() + timeout, 0
        while True:
            for line in self.lines[scanned:]:
                scanned += 1
                if match := pattern.search(line):
                    return match
            assert self.process.poll() is None, f"portal run exited ({self.process.returncode}):\n{self.output}"
            assert time.monotonic() < deadline, f"no {pattern.pattern!r} after {timeout} s:\n{self.output}"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        """The URL announced by the ready line (waits for it)."""
        return self.wait_for(READY).group(1)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the command to exit and its output to be read to the end; returns the exit code."""
        code = self.process.wait(timeout=timeout)
        assert self.reader is not None
        self.reader.join(timeout=10)
        return code


DATABASE_KINDS = ("sqlite", "postgresql")
"""What ``portal run`` may be given to keep its services' data in: SQLite files under the data directory (its
default), or a new PostgreSQL database per service."""


def _blocking(coroutine: Coroutine[Any, Any, str | None]) -> str | None:
    """Run ``coroutine`` to its end on an event loop of its own in another thread (callers may be inside a loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def portal_environment(data_dir: Path, rabbitmq_url: str, used: set[int]) -> dict[str, str]:
    """This process's environment for a ``portal run`` of its own: data in ``data_dir`` (which must exist), the
    broker virtual host of ``rabbitmq_url``, five free ports not in ``used`` (added to it); other ``PORTAL_*``,
    ``RABBITMQ_*`` and ``OTEL_*`` variables are dropped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "RABBITMQ_", "OTEL_"))}
    env.update(PORTAL_ENV="test", PORTAL_DATA_DIR=str(data_dir), RABBITMQ_URL=rabbitmq_url)
    for service in SERVICES:
        while (chosen := free_port()) in used:
            pass
        used.add(chosen)
        env[f"PORTAL_{service.upper()}_PORT"] = str(chosen)
    return env


@contextmanager
def portal_environments(root: Path) -> Iterator[Callable[..., dict[str, str]]]:
    """A factory of environments for ``portal run``, each with a new data directory under ``root``, five unused
    ports and a new virtual host; ``make(database="postgresql")`` also gives each of the five services a new
    PostgreSQL database (``PORTAL_<SERVICE>_DATABASE_URL``, on the server of
    :data:`~tests.harness.databases.POSTGRES_ADMIN_URL`) instead of its SQLite file. Other ``PORTAL_*``,
    ``RABBITMQ_*`` and ``OTEL_*`` variables are dropped. Every virtual host and database made is deleted on leaving
    (a database even with connections left on it). ``make`` raises ``ValueError`` for a kind not in
    :data:`DATABASE_KINDS`."""
    vhosts: list[str] = []
    databases: list[str] = []
    used: set[int] = set()

    def make(database: str = "sqlite") -> dict[str, str]:
        if database not in DATABASE_KINDS:
            raise ValueError(f"unknown database kind {database!r}; expected one of {', '.join(DATABASE_KINDS)}")
        vhosts.append(create_vhost())
        data_dir = root / f"portal-{len(vhosts)}"
        data_dir.mkdir()
        env = portal_environment(data_dir, vhosts[-1], used)
        for service in SERVICES if database == "postgresql" else ():
            url = _blocking(create_postgres_database())
            assert url is not None
            databases.append(url)
            env[f"PORTAL_{service.upper()}_DATABASE_URL"] = url
        return env

    try:
        yield make
    finally:
        for url in vhosts:
            delete_vhost(url)
        for url in databases:
            _blocking(drop_postgres_database(url))


@pytest.fixture
def portal_env(tmp_path: Path) -> Iterator[Callable[..., dict[str, str]]]:
    """A factory of environments for ``portal run`` for one test (:func:`portal_environments` under ``tmp_path``):
    ``portal_env()`` on SQLite, ``portal_env(database="postgresql")`` with a new PostgreSQL database per service;
    the virtual hosts and databases are deleted after the test."""
    with portal_environments(tmp_path) as make:
        yield make


@contextmanager
def portal_run(env: dict[str, str], until: re.Pattern[str] | None = READY, timeout: float = 60.0) -> Iterator[Portal]:
    """Start ``python -m shared.cli run`` with ``env`` and, unless ``until`` is None, wait (at most ``timeout`` s) for
    a line matching it, by default the ready line. A thread keeps draining the combined output so the pipe never
    fills. On leaving, a command still running gets SIGTERM, then SIGKILL (with every process under it) when it has
    not exited 20 s later."""
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    portal = Portal(process)

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            portal.lines.append(line)

    portal.reader = threading.Thread(target=drain, daemon=True)
    portal.reader.start()
    try:
        if until is not None:
            portal.wait_for(until, timeout)
        yield portal
    finally:
        if process.poll() is None:
            tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for member in tree:
                    with suppress(psutil.NoSuchProcess):
                        member.kill()
                process.wait(timeout=10)
        portal.reader.join(timeout=10)
