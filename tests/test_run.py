"""``portal run`` end to end: the real command in a subprocess, with its own data directory, free ports and a fresh
RabbitMQ virtual host. It must announce readiness only when all five services serve, run side by side with a second
copy, stop every service on SIGTERM/SIGINT (also while they are still starting), refuse in one line when the broker
does not answer, and leave the internal services closed to callers without an internal token."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
from yarl import URL

from shared.settings import SERVICES
from tests.harness.rabbit import create_vhost, delete_vhost, free_port

ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture
def portal_env(tmp_path: Path) -> Iterator[Callable[[], dict[str, str]]]:
    """A factory of environments for ``portal run``: a new data directory, five unused ports and a new virtual host
    each (deleted after the test); other ``PORTAL_*``/``RABBITMQ_URL``/``OTEL_*`` variables are dropped."""
    vhosts: list[str] = []
    used: set[int] = set()

    def make() -> dict[str, str]:
        vhosts.append(create_vhost())
        data_dir = tmp_path / f"portal-{len(vhosts)}"
        data_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "RABBITMQ_", "OTEL_"))}
        env.update(PORTAL_ENV="test", PORTAL_DATA_DIR=str(data_dir), RABBITMQ_URL=vhosts[-1])
        for service in SERVICES:
            while (chosen := free_port()) in used:
                pass
            used.add(chosen)
            env[f"PORTAL_{service.upper()}_PORT"] = str(chosen)
        return env

    yield make
    for url in vhosts:
        delete_vhost(url)


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


def test_ready_line_comes_when_every_service_serves(portal_env: Callable[[], dict[str, str]]) -> None:
    env = portal_env()
    with portal_run(env) as portal, httpx.Client(timeout=5.0) as client:
        assert portal.url == f"http://127.0.0.1:{port(env, 'gateway')}"
        for service in SERVICES:
            base = f"http://127.0.0.1:{port(env, service)}"
            assert client.get(f"{base}/readyz").status_code == 200, service
            assert client.get(f"{base}/livez").status_code == 200, service
            metrics = client.get(f"{base}/metrics")
            assert metrics.status_code == 200 and "portal_http_request_duration_seconds" in metrics.text, service
            assert (Path(env["PORTAL_DATA_DIR"]) / f"{service}.sqlite3").is_file(), service


def test_two_portals_run_side_by_side(portal_env: Callable[[], dict[str, str]]) -> None:
    first, second = portal_env(), portal_env()
    with portal_run(first, until=None) as one, portal_run(second, until=None) as two:  # both start at once
        assert one.url == f"http://127.0.0.1:{port(first, 'gateway')}"
        assert two.url == f"http://127.0.0.1:{port(second, 'gateway')}"
        for env in (first, second):
            for service in SERVICES:
                assert httpx.get(f"http://127.0.0.1:{port(env, service)}/readyz", timeout=5.0).status_code == 200


@pytest.mark.parametrize(
    ("signum", "starting"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
    ids=["sigterm", "sigint", "sigterm-while-starting", "sigint-while-starting"],
)
def test_signal_stops_every_service(
    portal_env: Callable[[], dict[str, str]], signum: signal.Signals, starting: bool
) -> None:
    """Once ready, or the moment the supervisor forks its first helper (its handlers are set, no pid is known)."""
    env = portal_env()
    with portal_run(env, until=None if starting else READY) as portal:
        supervisor, deadline = psutil.Process(portal.process.pid), time.monotonic() + 30
        while starting and not supervisor.children():
            assert portal.process.poll() is None and time.monotonic() < deadline, portal.output
            time.sleep(0.001)
        children = supervisor.children(recursive=True)
        if not starting:
            assert len([c for c in children if c.cmdline()[1:3] == ["-m", "uvicorn"]]) == len(SERVICES)
        portal.process.send_signal(signum)
        code = portal.wait_exit(timeout=15)
        assert code == 128 + signum, portal.output
        assert [p for p in psutil.wait_procs(children, timeout=5)[1] if p.status() != psutil.STATUS_ZOMBIE] == []
        assert leftover_services(env) == []
        for service in SERVICES:
            assert not answers(f"http://127.0.0.1:{port(env, service)}/livez"), service
        assert "SIGKILL" not in portal.output  # every service stopped within honcho's grace period


def test_broker_down_is_one_line_and_no_service(portal_env: Callable[[], dict[str, str]]) -> None:
    env = portal_env()
    closed = free_port()
    env["RABBITMQ_URL"] = f"amqp://guest:s3cret@127.0.0.1:{closed}/"
    with portal_run(env, until=None) as portal:
        code = portal.wait_exit(timeout=10)
    assert code != 0
    assert len(portal.lines) == 1, portal.output
    line = portal.lines[0]
    assert f"amqp://guest:***@127.0.0.1:{closed}/" in line and "s3cret" not in line
    assert "rabbitmq-server -detached" in line
    assert list(Path(env["PORTAL_DATA_DIR"]).iterdir()) == []
    assert not any(answers(f"http://127.0.0.1:{port(env, service)}/livez") for service in SERVICES)


@pytest.mark.parametrize("refusal", ["missing-vhost", "wrong-password"])
def test_broker_refusing_the_login_or_vhost_is_one_line_naming_it(
    portal_env: Callable[[], dict[str, str]], refusal: str
) -> None:
    env = portal_env()
    url = URL(env["RABBITMQ_URL"])
    env["RABBITMQ_URL"] = str(url.with_path("/no-such-vhost") if refusal == "missing-vhost" else url.with_password("x"))
    with portal_run(env, until=None) as portal:
        assert portal.wait_exit(timeout=10) == 1
    assert len(portal.lines) == 1, portal.output
    assert "refused the connection" in portal.lines[0] and "RABBITMQ_URL" in portal.lines[0]
    assert "rabbitmq-server -detached" not in portal.lines[0]


def test_a_port_in_use_is_one_line_and_nothing_starts(portal_env: Callable[[], dict[str, str]]) -> None:
    env = portal_env()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port(env, "orders")))
        squatter.listen()
        with portal_run(env, until=None) as portal:
            assert portal.wait_exit(timeout=10) == 1
    assert len(portal.lines) == 1, portal.output
    assert f"orders (127.0.0.1:{port(env, 'orders')})" in portal.lines[0] and "already in use" in portal.lines[0]
    assert list(Path(env["PORTAL_DATA_DIR"]).iterdir()) == []


def test_operator_commands_fail_in_one_line(portal_env: Callable[[], dict[str, str]]) -> None:
    env = {**os.environ, **portal_env()}
    for command in (["dlq", "list", "no.such-queue"], ["outbox", "status"]):
        result = subprocess.run(
            [sys.executable, "-m", "shared.cli", *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1, result.stdout
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("portal: could not"), lines


def test_internal_service_needs_a_token_the_gateway_probe_does_not(portal_env: Callable[[], dict[str, str]]) -> None:
    env = portal_env()
    with portal_run(env) as portal, httpx.Client(timeout=5.0) as client:
        orders = f"http://127.0.0.1:{port(env, 'orders')}/v1/orders"
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            refused = client.get(orders, headers=headers)
            assert refused.status_code == 401, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["status"] == 401
        assert client.get(f"{portal.url}/livez").status_code == 200
