"""Real HTTP servers for tests: an app served by uvicorn in the test's own event loop, or in a child process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.harness.rabbit import free_port


@asynccontextmanager
async def serve(app: FastAPI, *, ready: bool = True) -> AsyncIterator[str]:
    """Serve ``app`` on a free port for the block; yields its base URL. With ``ready``, waits for ``/readyz``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped the server, if it raised
                raise RuntimeError("the app stopped during start-up (see its log)")
            await asyncio.sleep(0.05)
        if ready:
            await wait_ready(base)
        yield base
    finally:
        server.should_exit = True
        await task


async def wait_ready(base: str, timeout: float = 30.0) -> None:
    """Wait until ``base/readyz`` answers 200; raises ``TimeoutError`` with the last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(f"{base}/readyz")
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{base} not ready: {last}")


class ServiceProcess:
    """An ASGI app factory run by uvicorn in a child process (so a test can kill it like a crash)."""

    def __init__(self, factory: str, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.factory = factory
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The process's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        """Start the process (does not wait for readiness; see :func:`wait_ready`)."""
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        if self.process and self.process.poll() is None:
            self.process.kill()
        if self.process:
            self.process.wait(timeout=10)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to end by itself; returns its exit code."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM the process and wait for it; SIGKILL after 10 s."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
