"""A real SMTP server for tests (aiosmtpd, in a thread of its own) that keeps every message it accepted, and can be
stopped and started again on the same port to play a mail server that is down for a while."""

from __future__ import annotations

import asyncio
import email
import time
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.harness.rabbit import free_port


class _Keeper:
    """aiosmtpd handler: parse and keep each message accepted; refuse for good (550) every recipient whose address
    starts with ``gone``."""

    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("gone"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.original_content or b"", policy=default)
        self.inbox.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP server on 127.0.0.1 at :attr:`port`; :attr:`inbox` holds the messages accepted, parsed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox: list[EmailMessage] = []
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        """Listen (again) on :attr:`port`."""
        self._controller = Controller(_Keeper(self.inbox), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def wait(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages once ``count`` arrived; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.inbox) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(self.inbox) >= count, f"{len(self.inbox)} message(s) within {timeout} s, expected {count}"
        return self.inbox

    def settings(self) -> dict[str, Any]:
        """The notifications settings that send through this server."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_tls": "none", "smtp_timeout_seconds": 2.0}
