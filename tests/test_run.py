"""``portal run`` end to end: the real command in a subprocess, with its own data directory, free ports and a fresh
RabbitMQ virtual host. It must announce readiness only when all five services serve, run side by side with a second
copy, stop every service on SIGTERM/SIGINT (also while they are still starting), refuse in one line when the broker
does not answer, and leave the internal services closed to callers without an internal token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
from yarl import URL

from shared.settings import SERVICES
from tests.harness.portal_run import READY, answers, leftover_services, port, portal_run
from tests.harness.rabbit import free_port


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


@pytest.mark.parametrize(
    ("variable", "value"), [("PORTAL_CASES_URL", "http://a:8002 http://b:8002"), ("PORTAL_GATEWAY_PORT", "x")]
)
def test_a_wrong_setting_is_one_line_naming_it_and_nothing_starts(
    portal_env: Callable[[], dict[str, str]], variable: str, value: str
) -> None:
    env = {**portal_env(), variable: value}
    with portal_run(env, until=None) as portal:
        assert portal.wait_exit(timeout=10) == 1
    assert len(portal.lines) == 1, portal.output
    assert portal.lines[0].startswith(variable), portal.lines[0]
    assert list(Path(env["PORTAL_DATA_DIR"]).iterdir()) == []


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
