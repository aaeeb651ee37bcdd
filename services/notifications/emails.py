"""E-mails to doctors: the message of one delivery (RFC 5322, plain text, UTF-8) and how it leaves.

With an SMTP server configured (``PORTAL_SMTP_HOST``) a message is sent with aiosmtplib; without one (the default) it
is written as ``<data_dir>/mail/<delivery id>.eml``, complete with headers, for a developer to read. Each message's
``Message-ID`` is made from its delivery id, so the rare resend after a crash between the server's acceptance and
our record of it carries the same id and mail systems can recognise it. ``Auto-Submitted: auto-generated`` marks
it as automatic (RFC 3834), so that out-of-office replies are not sent back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import aiosmtplib

from services.notifications.messages import email_text, language_of, render
from services.notifications.models import Doctor, EmailDelivery, Notification
from services.notifications.settings import Settings

DIGEST = "daily_digest"
"""The kind of a daily digest e-mail."""


def message_id(delivery: EmailDelivery, settings: Settings) -> str:
    """The ``Message-ID`` of ``delivery``'s e-mail: ``<delivery id@domain of the From address>``."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "doctor-portal.invalid"
    return f"<{delivery.id}@{domain}>"


def compose(
    delivery: EmailDelivery,
    doctor: Doctor,
    notifications: Sequence[Notification],
    settings: Settings,
    *,
    digest_of: tuple[str, int] | None = None,
    now: datetime,
) -> EmailMessage:
    """The e-mail of ``delivery`` to ``doctor`` in the doctor's language: one notification's title as subject and its
    body, or for a digest (``digest_of``: the local day ``YYYY-MM-DD`` and hour it was due) each notification's
    title and body in turn; each with the link to its case."""
    language = language_of(doctor.language)
    parts = [email_text(language, "greeting", last_name=doctor.last_name), ""]
    if digest_of is not None:
        day, hour = digest_of
        subject = email_text(language, "digest_subject", count=len(notifications), day=day)
        parts += [email_text(language, "digest_intro", day=day, hour=hour), ""]
    for notification in notifications:
        words = render(notification.kind, notification.params, language)
        if digest_of is None:
            subject = words.title
        else:
            parts.append(f"* {words.title}")
        parts.append(words.body)
        if notification.case_id:
            parts.append(email_text(language, "open", url=settings.case_url(notification.case_id)))
        parts.append("")
    parts += ["-- ", email_text(language, "footer")]
    message = EmailMessage()
    message.set_content("\n".join(parts))  # first: it clears every Content-* header set before it
    message["From"] = settings.mail_from
    message["To"] = delivery.recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(delivery, settings)
    message["Content-Language"] = language
    message["Auto-Submitted"] = "auto-generated"
    return message


async def transmit(message: EmailMessage, delivery_id: str, settings: Settings) -> str:
    """Send ``message`` through the configured SMTP server (``smtp``) or write it as an ``.eml`` file (``file``);
    returns which. Raises ``aiosmtplib.SMTPException`` or ``OSError`` when it could not leave."""
    if settings.smtp_host is None:
        await asyncio.to_thread(_write_eml, message, settings.data_dir / "mail", delivery_id)
        return "file"
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=password,
        use_tls=settings.smtp_tls == "implicit",
        start_tls=False if settings.smtp_tls != "starttls" else None,
        timeout=settings.smtp_timeout_seconds,
    )
    return "smtp"


def permanent(error: Exception) -> bool:
    """Whether a send failed for good: the server refused the message or every recipient with a 5yz reply (RFC 5321
    §4.2.1, "permanent negative completion"), so sending it again cannot succeed."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(refused.code >= 500 for refused in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


def _write_eml(message: EmailMessage, folder: Path, delivery_id: str) -> None:
    """Write ``message`` as ``folder/<delivery id>.eml``, whole or not at all (a temporary file renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{delivery_id}.eml.partial"
    partial.write_bytes(bytes(message))
    os.replace(partial, folder / f"{delivery_id}.eml")
