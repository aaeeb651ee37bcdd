"""E-mails against a real SMTP server (aiosmtpd) started by the tests, on SQLite and PostgreSQL: a notification's
e-mail arrives once, in the doctor's language, only when its switch is on; with the server down it is retried with
growing delays and goes out once when the server is back, or is given up after the configured attempts, as the
metrics show; the daily digest gathers the day's notifications instead, once a day."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.notifications.deliveries import send_due
from services.notifications.digest import digest_due, queue_digests
from services.notifications.models import EmailDelivery
from services.notifications.tests.conftest import (
    CaseOf,
    Notifications,
    doctor_profile,
    notifications_settings,
    running_notifications,
)
from services.notifications.tests.test_carousel_api import shipped
from services.notifications.tests.test_events import setup_published, status
from shared.db import utcnow
from tests.harness.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A running SMTP server, stopped after the test."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def mailing(tmp_path: Path, vhost_url: str, database_url: str, smtp: SmtpServer) -> AsyncIterator[Notifications]:
    """The notifications service sending through ``smtp``, giving up after 30 attempts."""
    settings = notifications_settings(tmp_path, vhost_url, database_url, email_max_attempts=30, **smtp.settings())
    async with running_notifications(settings) as running:
        yield running


async def delivery_state(
    notifications: Notifications, doctor_id: str, until: str, timeout: float = 20
) -> EmailDelivery:
    """The doctor's only delivery once its state is ``until``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await notifications.deliveries_of(doctor_id)
        if len(rows) == 1 and rows[0].state == until:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {until} delivery: {rows}")


async def metric(notifications: Notifications, line: str) -> float:
    """The value of the metric sample ``line`` (name and labels) on the service's /metrics, 0 when absent."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{notifications.base}/metrics")).text
    values = [float(row.rsplit(" ", 1)[1]) for row in text.splitlines() if row.startswith(line + " ")]
    return values[0] if values else 0.0


async def test_arrives_once_in_the_doctors_language_only_when_switched_on(
    mailing: Notifications, smtp: SmtpServer
) -> None:
    case = CaseOf()
    profile = {"language": "fr", "last_name": "Lefèvre", "email_notifications": {"phase_shipped": False}}
    await mailing.apply(doctor_profile(case.doctor_id, **profile))
    published = setup_published(case)
    await mailing.apply(published, published)
    await mailing.apply(shipped(case, utcnow()))
    [message] = await smtp.wait(1)
    await send_due(mailing.sessions, mailing.settings)
    await asyncio.sleep(0.5)
    assert len(smtp.inbox) == 1
    assert message["Subject"] == "Le setup de traitement v2 attend votre approbation"
    assert message["Content-Language"] == "fr" and message["To"] == f"dr-{case.doctor_id[:8]}@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_content()
    assert text.startswith("Bonjour Dr Lefèvre,") and "18 étapes au maxillaire" in text and case.case_id in text
    [sent] = await mailing.deliveries_of(case.doctor_id)
    assert (sent.state, sent.transport, sent.attempts, sent.message_id) == ("sent", "smtp", 1, message["Message-ID"])
    assert len(await mailing.notifications_of(case.doctor_id)) == 2  # the shipment is in the carousel, not the inbox

    # switched on again later, and in English: the next e-mail follows the profile
    await mailing.apply(doctor_profile(case.doctor_id, 2, updated=True, language="en", last_name="Lefèvre"))
    await mailing.apply(status(case, "submission_problem", "setup_in_progress", reason="Blurry photos"))
    assert (await smtp.wait(2))[1]["Subject"] == "Problem with the submission"


async def test_server_down_then_back_the_email_goes_out_once(mailing: Notifications, smtp: SmtpServer) -> None:
    case = CaseOf()
    await mailing.apply(doctor_profile(case.doctor_id))
    retried_before = await metric(
        mailing, 'portal_emails_total{kind="setup_published",outcome="retried",service="notifications"}'
    )
    smtp.stop()
    await mailing.apply(setup_published(case))
    deadline = time.monotonic() + 20
    while (row := (await mailing.deliveries_of(case.doctor_id))[0]).attempts < 2:
        assert time.monotonic() < deadline, "the sender did not retry"
        await asyncio.sleep(0.05)
    assert row.state == "pending" and "Connect" in (row.last_error or "")
    smtp.start()
    await smtp.wait(1)
    sent = await delivery_state(mailing, case.doctor_id, "sent")
    await asyncio.sleep(0.5)
    assert len(smtp.inbox) == 1 and sent.attempts >= 3
    retried = await metric(
        mailing, 'portal_emails_total{kind="setup_published",outcome="retried",service="notifications"}'
    )
    assert retried - retried_before >= 2
    assert await metric(mailing, 'portal_email_deliveries{service="notifications",state="pending"}') == 0


async def test_a_recipient_refused_for_good_is_not_tried_again(mailing: Notifications, smtp: SmtpServer) -> None:
    case = CaseOf()
    await mailing.apply(doctor_profile(case.doctor_id, email="gone@example.com"))
    await mailing.apply(setup_published(case))
    failed = await delivery_state(mailing, case.doctor_id, "failed")
    assert failed.attempts == 1 and "550" in (failed.last_error or "") and smtp.inbox == []


async def test_given_up_after_the_configured_attempts(
    tmp_path: Path, vhost_url: str, database_url: str, smtp: SmtpServer
) -> None:
    smtp.stop()
    settings = notifications_settings(tmp_path, vhost_url, database_url, email_max_attempts=2, **smtp.settings())
    async with running_notifications(settings) as notifications:
        case = CaseOf()
        await notifications.apply(doctor_profile(case.doctor_id))
        await notifications.apply(setup_published(case))
        failed = await delivery_state(notifications, case.doctor_id, "failed")
        assert failed.attempts == 2
        assert await metric(notifications, 'portal_email_deliveries{service="notifications",state="failed"}') >= 1
        smtp.start()
        await asyncio.sleep(0.5)
        assert smtp.inbox == []


async def test_the_daily_digest_gathers_what_is_still_active_once_instead_of_one_email_each(
    mailing: Notifications, smtp: SmtpServer
) -> None:
    case = CaseOf()
    zone = "America/New_York"
    await mailing.apply(doctor_profile(case.doctor_id, daily_digest=True, time_zone=zone))
    # 7:00 in New York on 10 March 2026 is 11:00 UTC (daylight saving time began on 8 March)
    day, due = digest_due(datetime.fromisoformat("2026-03-10T12:00:00+00:00"), zone, mailing.settings.digest_hour)
    assert (day.isoformat(), due.isoformat()) == ("2026-03-10", "2026-03-10T11:00:00+00:00")
    earlier, late = due - timedelta(hours=20), due + timedelta(minutes=1)
    await mailing.apply(
        shipped(case, earlier),
        status(case, "setup_approval_pending", "setup_in_progress").model_copy(update={"occurred_at": earlier}),
        setup_published(case).model_copy(update={"occurred_at": earlier}),
        status(case, "on_hold", "in_production", reason="Travelling").model_copy(update={"occurred_at": earlier}),
        status(case, "in_production", "setup_approval_pending", "doctor").model_copy(update={"occurred_at": earlier}),
        shipped(case, late, number=2),
    )
    assert await mailing.deliveries_of(case.doctor_id) == []  # no e-mail each
    now = due + timedelta(hours=1)
    assert await queue_digests(mailing.sessions, mailing.settings, now) == 1
    assert await queue_digests(mailing.sessions, mailing.settings, now + timedelta(hours=2)) == 1  # the same digest
    [digest] = await smtp.wait(1)
    assert digest["Subject"] == "Doctor Portal: your digest of 2026-03-10 (2 update(s))"
    text = digest.get_content()
    assert "* Phase 1 shipped" in text and "* Case on hold" in text
    assert "setup v2" not in text  # approved before the digest: no longer asks anything
    assert "Phase 2 shipped" not in text  # made after the digest was due: the next one's
    await asyncio.sleep(0.3)
    assert len(smtp.inbox) == 1
    [row] = await mailing.deliveries_of(case.doctor_id)
    assert row.kind == "daily_digest" and len(row.notification_ids) == 2
    # the next day's digest tells of the late shipment only; a day with nothing sends nothing
    assert await queue_digests(mailing.sessions, mailing.settings, now + timedelta(days=1)) == 1
    assert "* Phase 2 shipped" in (text := (await smtp.wait(2))[1].get_content()) and "Phase 1" not in text
    assert await queue_digests(mailing.sessions, mailing.settings, now + timedelta(days=2)) == 0
    await asyncio.sleep(0.3)
    assert len(smtp.inbox) == 2


async def test_switching_the_digest_neither_repeats_nor_loses_an_email(
    mailing: Notifications, smtp: SmtpServer
) -> None:
    sent_each, gathering = CaseOf(), CaseOf()
    await mailing.apply(doctor_profile(sent_each.doctor_id), doctor_profile(gathering.doctor_id, daily_digest=True))
    await mailing.apply(setup_published(sent_each), setup_published(gathering))
    [alone] = await smtp.wait(1)
    assert alone["To"] == f"dr-{sent_each.doctor_id[:8]}@example.com"
    # the first doctor chooses the digest: what was e-mailed already is not gathered again
    await mailing.apply(doctor_profile(sent_each.doctor_id, 2, updated=True, daily_digest=True))
    # the second leaves it before it went out: what it was to gather is e-mailed now, one each
    await mailing.apply(doctor_profile(gathering.doctor_id, 2, updated=True, daily_digest=False))
    [_, released] = await smtp.wait(2)
    assert released["To"] == f"dr-{gathering.doctor_id[:8]}@example.com"
    assert released["Subject"] == "Treatment setup v2 awaits your approval"
    assert await queue_digests(mailing.sessions, mailing.settings, utcnow() + timedelta(days=1)) == 0
    await asyncio.sleep(0.3)
    assert len(smtp.inbox) == 2
