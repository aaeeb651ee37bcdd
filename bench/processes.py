"""The processes a benchmark measures, each started as a user would start it and stopped at the end of its block.

:func:`system` is the whole portal (``portal run``, the test harness's way: its own data directory, ports and
RabbitMQ virtual host); :func:`uvicorn` one ASGI app (the bare ceilings of :mod:`bench.bare`) in a uvicorn process of
its own. Both wait until the process answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import yaml

from tests.harness.portal_run import ROOT, port, portal_environment, portal_run
from tests.harness.rabbit import create_vhost, delete_vhost, free_port


@dataclass(frozen=True)
class System:
    """A running portal: the gateway's API base (``.../api/v1``), the environment it runs with and its processes
    (the five uvicorn processes by service name)."""

    api: str
    env: dict[str, str]
    pids: dict[str, int]

    def url(self, service: str) -> str:
        """The base URL of ``service``."""
        return f"http://127.0.0.1:{port(self.env, service)}"


@contextmanager
def system(extra: Mapping[str, str] | None = None) -> Iterator[System]:
    """Start ``portal run`` with the variables of ``extra`` on top of its own environment; yields once every service
    is ready, stops it (and deletes its virtual host and data) on leaving."""
    vhost = create_vhost()
    try:
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as data_dir:
            env = {**portal_environment(Path(data_dir), vhost, set()), **(extra or {})}
            with portal_run(env, timeout=120) as portal:
                yield System(f"{portal.url}/api/v1", env, _service_pids(portal.process.pid, env))
    finally:
        delete_vhost(vhost)


def cpu_seconds(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU time (user and system, in seconds) each process of ``pids`` (by name) has used so far."""
    return {name: sum(psutil.Process(pid).cpu_times()[:2]) for name, pid in pids.items()}


def deployed_telemetry(collector: str) -> dict[str, str]:
    """The ``OTEL_*`` variables docker-compose.yml gives every service, with ``collector`` (a base URL) as the OTLP
    endpoint in place of the deployed collector's."""
    common = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-app-env"]
    otel = {name: str(value) for name, value in common.items() if name.startswith("OTEL_")}
    return {**otel, "OTEL_EXPORTER_OTLP_ENDPOINT": collector}


def _service_pids(root: int, env: Mapping[str, str]) -> dict[str, int]:
    found = {}
    for child in psutil.Process(root).children(recursive=True):
        cmdline = child.cmdline()
        for name in ("gateway", "orders", "cases", "documents", "notifications"):
            if f"services.{name}.app:create_app" in cmdline and str(port(dict(env), name)) in cmdline:
                found[name] = child.pid
    return found


@contextmanager
def uvicorn(
    app: str, env: Mapping[str, str] | None = None, *, factory: bool = True, port: int | None = None
) -> Iterator[str]:
    """Serve the ASGI app ``app`` (``module:attribute``, an app factory unless ``factory`` is False) in a uvicorn
    process of its own on ``port`` (by default a free one), with ``env`` added to this process's environment; yields
    its base URL once it answers, stops it on leaving."""
    chosen = port or free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(chosen)]
    command += ["--no-access-log", "--log-level", "warning", *(["--factory"] if factory else [])]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{chosen}"
    try:
        _wait_answering(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_answering(base: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(f"{base}/livez", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered at {base} after {timeout} s")
