"""RabbitMQ for tests: a fresh virtual host on the shared broker per test, and a private node that fault tests can
stop, restart and kill freely (own node name, port, data directory, bound to 127.0.0.1; TRAPS.md)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from yarl import URL

SHARED_BROKER_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ctl(*args: str, node: str | None = None) -> str:
    command = ["rabbitmqctl", *(["-n", node] if node else []), "-q", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


MANAGEMENT_API = os.environ.get("PORTAL_TEST_RABBITMQ_API", "http://127.0.0.1:15672/api")
"""The shared broker's management HTTP API (about 50 times faster than ``rabbitmqctl``, which boots an Erlang VM
per call); ``.ci/run`` enables the plugin. Without it the tests fall back to ``rabbitmqctl``."""


def _management(method: str, path: str, url: URL, body: dict[str, str] | None = None) -> httpx.Response | None:
    try:
        credentials = (url.user or "guest", url.password or "guest")
        response = httpx.request(method, f"{MANAGEMENT_API}{path}", json=body, auth=credentials, timeout=10)
    except httpx.TransportError:
        return None
    response.raise_for_status()
    return response


def create_vhost(base_url: str = SHARED_BROKER_URL, node: str | None = None) -> str:
    """Create a new virtual host with full rights for the URL's user; returns the URL pointing at it."""
    vhost = f"portal-test-{uuid.uuid4().hex[:12]}"
    url = URL(base_url)
    user = url.user or "guest"
    rights = {"configure": ".*", "write": ".*", "read": ".*"}
    if node is None and _management("PUT", f"/vhosts/{vhost}", url) is not None:
        _management("PUT", f"/permissions/{vhost}/{user}", url, rights)
    else:
        _ctl("add_vhost", vhost, node=node)
        _ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*", node=node)
    return str(url.with_path("/" + vhost))


def delete_vhost(url: str, node: str | None = None) -> None:
    """Delete the virtual host of ``url`` and everything in it."""
    vhost = URL(url).path.lstrip("/")
    if node is None and _management("DELETE", f"/vhosts/{vhost}", URL(url)) is not None:
        return
    _ctl("delete_vhost", vhost, node=node)


def queue_stat(url: str, queue: str, column: str, node: str | None = None) -> int:
    """A counter the broker keeps for ``queue``: ``consumers``, or ``messages`` (ready and unacknowledged).

    Asked of the broker itself, never of a client's cache; the broker refreshes its statistics every few seconds.
    """
    vhost = URL(url).path.lstrip("/") or "/"
    for line in _ctl("list_queues", "-p", vhost, "name", column, "--no-table-headers", node=node).splitlines():
        name, _, count = line.rpartition("\t")
        if name.strip() == queue:
            return int(count)
    raise LookupError(f"queue {queue} not found in {vhost}")


class RabbitNode:
    """A RabbitMQ node of the test run's own, on a free port, with its data under a temporary directory."""

    def __init__(self) -> None:
        self.port = free_port()
        self.name = f"portal-test-{uuid.uuid4().hex[:8]}@localhost"
        self.base = Path(tempfile.mkdtemp(prefix="portal-rabbit-"))
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "env.conf").write_text("")
        shutil.chown(self.base, "rabbitmq")
        for child in self.base.iterdir():
            shutil.chown(child, "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "env.conf"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        """The AMQP URL of the node's default virtual host."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Boot the node and wait until it serves AMQP (about 5-10 s)."""
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True, timeout=60)
        self._wait(lambda: self._ctl_ok("await_startup"), 90)

    def stop_app(self) -> None:
        """Stop the broker application (every client connection is closed; the Erlang node stays up)."""
        _ctl("stop_app", node=self.name)

    def start_app(self) -> None:
        """Start the broker application again and wait until it accepts connections."""
        _ctl("start_app", node=self.name)
        self._wait(self._port_open, 30)

    def kill(self) -> None:
        """Kill the node's Erlang VM with SIGKILL, as a crash would."""
        pid = int(_ctl("eval", "list_to_integer(os:getpid()).", node=self.name).strip())
        os.kill(pid, signal.SIGKILL)
        self._wait(lambda: not self._port_open(), 30)

    def shutdown(self) -> None:
        """Stop the node if it runs and delete its data."""
        subprocess.run(["rabbitmqctl", "-n", self.name, "-q", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)

    def _ctl_ok(self, *args: str) -> bool:
        result = subprocess.run(["rabbitmqctl", "-n", self.name, "-q", *args], capture_output=True, timeout=60)
        return result.returncode == 0 and self._port_open()

    def _port_open(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    @staticmethod
    def _wait(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise TimeoutError("RabbitMQ test node did not reach the expected state")
