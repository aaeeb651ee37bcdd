"""An S3 server for tests: moto's (``python -m moto.server``) in a subprocess on a free port of 127.0.0.1.

Moto keeps everything in memory and checks neither signatures nor the expiry of signed URLs: a test of a signed URL
must also look at the URL itself.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx

from tests.harness.rabbit import free_port

START_SECONDS = 30.0
"""How long the server may take to answer its first request."""

STOP_SECONDS = 10.0
"""How long the server may take to exit after SIGTERM before it is killed."""


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server, wait until it answers HTTP, yield its endpoint ``127.0.0.1:<port>``, then stop it.

    Raises :class:`RuntimeError` (with the server's output) when it exits or does not answer within
    :data:`START_SECONDS`.
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_answering(process, f"http://127.0.0.1:{port}/", log)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    log.seek(0)
    output = log.read().decode(errors="replace")
    raise RuntimeError(f"moto's S3 server at {url} did not start (exit code {process.poll()}):\n{output}")
