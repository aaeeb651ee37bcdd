"""``portal run``: every service as one uvicorn process under honcho, announced once all answer ``/readyz``."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import socket
import sys
import threading
import time

import aio_pika
import httpx
from aio_pika.exceptions import AuthenticationError
from honcho.manager import Manager
from yarl import URL

from shared.migrations import upgrade
from shared.settings import SERVICES, PortalSettings

READY_TIMEOUT_SECONDS = 90.0
REFUSALS = ("ACCESS_REFUSED", "NOT_ALLOWED", "virtual host")


class BrokerUnavailable(Exception):
    """RabbitMQ did not accept a connection at the configured URL."""


def check_broker(settings: PortalSettings, timeout: float = 5.0) -> None:
    """Open and close one AMQP connection; raises :class:`BrokerUnavailable` with a one-line reason otherwise."""

    async def attempt() -> None:
        connection = await aio_pika.connect(settings.rabbitmq_url, timeout=timeout)
        await connection.close()

    logging.getLogger("aiormq").setLevel(logging.CRITICAL)  # the one line below says it all
    try:
        asyncio.run(asyncio.wait_for(attempt(), timeout + 1))
    except Exception as exc:
        url = URL(settings.rabbitmq_url)
        shown = url.with_password("***") if url.password else url
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Connection.Close" in reason:  # closed during the handshake: what a missing or forbidden vhost looks like
            reason = "closed while opening: no such virtual host, or no access to it"
        if isinstance(exc, AuthenticationError) or any(code in reason for code in REFUSALS):
            raise BrokerUnavailable(
                f"RabbitMQ at {shown} refused the connection ({reason}): check the user, password and virtual host "
                "in RABBITMQ_URL (`rabbitmqctl add_vhost NAME` creates a virtual host)."
            ) from exc
        raise BrokerUnavailable(
            f"RabbitMQ does not answer at {shown} ({reason}). Start one with `rabbitmq-server -detached` "
            "(or `docker compose up -d rabbitmq`), or point RABBITMQ_URL at a running broker."
        ) from exc


def migrate_all(settings: PortalSettings) -> None:
    """Bring every service's database to its latest migration."""
    for service in SERVICES:
        upgrade(service, settings)


class _Manager(Manager):
    """honcho's manager, safe against SIGINT/SIGTERM arriving before every process has reported its pid.

    honcho's own handler then raises ``KeyError: 'pid'``: the services already started keep running and the command
    hangs (multiprocessing joins the helper of the rest). Here the stop is deferred until every pid is known.
    """

    _deferred_force: bool | None = None

    def _killall(self, force: bool = False) -> None:
        if not super()._all_started():
            self._deferred_force = force or bool(self._deferred_force)
            return
        super()._killall(force)

    def _all_started(self) -> bool:  # called by honcho's loop after every event (and every 0.1 s)
        started = super()._all_started()
        if started and self._deferred_force is not None:
            force, self._deferred_force = self._deferred_force, None
            super()._killall(force)
        return started


def service_command(service: str, settings: PortalSettings) -> str:
    """The shell command that runs ``service`` as one uvicorn process (``exec``: honcho's pid is uvicorn's)."""
    return (
        f"exec {shlex.quote(sys.executable)} -m uvicorn services.{service}.app:create_app --factory "
        f"--host {settings.host} --port {settings.port_of(service)} --no-access-log --log-level warning "
        "--no-proxy-headers"
    )


def wait_until_ready(settings: PortalSettings, deadline_seconds: float = READY_TIMEOUT_SECONDS) -> bool:
    """Poll every service's ``/readyz`` until all answer 200; False when the deadline passes first."""
    pending = set(SERVICES)
    deadline = time.monotonic() + deadline_seconds
    with httpx.Client(timeout=2.0) as client:
        while pending and time.monotonic() < deadline:
            for service in sorted(pending):
                try:
                    if client.get(f"http://{settings.host}:{settings.port_of(service)}/readyz").status_code == 200:
                        pending.discard(service)
                except httpx.HTTPError:
                    pass
            if pending:
                time.sleep(0.3)
    return not pending


class PortsTaken(Exception):
    """A port a service would listen on is already in use (another system running with the same ports?)."""


def check_ports(settings: PortalSettings) -> None:
    """Raise :class:`PortsTaken` naming every service whose port cannot be bound."""
    taken = []
    for service in SERVICES:
        with socket.socket() as probe:
            # as uvicorn binds: connections of a system stopped a moment ago (TIME_WAIT) do not hold the port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((settings.host, settings.port_of(service)))
            except OSError:
                taken.append(f"{service} ({settings.host}:{settings.port_of(service)})")
    if taken:
        raise PortsTaken(
            f"port already in use for {', '.join(taken)}: stop what uses it, or choose other ports "
            "(PORTAL_GATEWAY_PORT, PORTAL_ORDERS_PORT, ...)."
        )


def run_system(settings: PortalSettings) -> int:
    """Check the ports and the broker, migrate, start all services under honcho; returns the exit code when they
    stop."""
    check_ports(settings)
    check_broker(settings)
    migrate_all(settings)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    manager = _Manager()
    for service in SERVICES:
        manager.add_process(service, service_command(service, settings), env=env)

    def announce() -> None:
        if wait_until_ready(settings):
            gateway = f"http://{settings.host}:{settings.gateway_port}"
            print(f"Doctor Portal is ready: {gateway} (API docs: {gateway}/docs). Ctrl-C stops it.", flush=True)
        else:
            print(f"Doctor Portal: not every service was ready after {READY_TIMEOUT_SECONDS:.0f} s", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    manager.loop()
    return manager.returncode or 0
