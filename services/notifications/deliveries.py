"""The e-mail sender: sends each recorded delivery once, retrying a failed send with growing delays.

A delivery is claimed before it is sent (a conditional update that sets ``claimed_until``), so two replicas never
send one e-mail at once; a claim left by a process that died lapses and the delivery is sent by the next run. After
a send the delivery is marked ``sent`` and ``email.sent`` is written to the outbox in one transaction. A failed send
waits ``email_retry_initial_seconds``, doubling up to ``email_retry_max_seconds``, and after ``email_max_attempts``
the delivery is ``failed`` for good; so is one the server refused permanently (a 5yz reply). Outcomes are counted
in ``portal_emails_total`` and the deliveries waiting or given up in ``portal_email_deliveries``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.digest import zone_of
from services.notifications.emails import DIGEST, compose, permanent, transmit
from services.notifications.models import Doctor, EmailDelivery, Notification
from services.notifications.settings import SERVICE, Settings
from shared.db import transaction, utcnow
from shared.events.notifications import EmailSent
from shared.messaging.outbox import add_event

log = structlog.get_logger(__name__)

EMAILS = Counter(
    "portal_emails_total",
    "E-mail send attempts, by kind and outcome (sent, retried, failed).",
    ["service", "kind", "outcome"],
)
EMAIL_DELIVERIES = Gauge(
    "portal_email_deliveries", "E-mail deliveries waiting (pending) or given up (failed).", ["service", "state"]
)
BATCH = 50
"""Deliveries claimed by one run of the sender."""


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """The wait after the ``attempts``-th failed send: the initial delay doubled each time, up to the maximum."""
    seconds = settings.email_retry_initial_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.email_retry_max_seconds))


def claim_lease(settings: Settings) -> timedelta:
    """How long a claimed delivery is held: past one SMTP exchange's timeout with room to spare."""
    return timedelta(seconds=settings.smtp_timeout_seconds * 3 + 30)


async def send_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Callable[[], datetime] = utcnow
) -> int:
    """Claim and send the deliveries due at ``clock()`` (at most :data:`BATCH`); returns how many were sent."""
    now = clock()
    unclaimed = or_(EmailDelivery.claimed_until.is_(None), EmailDelivery.claimed_until < now)  # type: ignore[union-attr,operator]
    due = (
        select(EmailDelivery.id)
        .where(EmailDelivery.state == "pending", EmailDelivery.next_attempt_at <= now, unclaimed)  # type: ignore[arg-type,operator]
        .order_by(EmailDelivery.next_attempt_at)
        .limit(BATCH)
    )
    async with sessions() as session:
        ids = list((await session.execute(due)).scalars())
    sent = 0
    for delivery_id in ids:
        async with transaction(sessions) as session:
            claimed = await session.execute(
                update(EmailDelivery)
                .where(EmailDelivery.id == delivery_id, EmailDelivery.state == "pending", unclaimed)  # type: ignore[arg-type]
                .values(claimed_until=now + claim_lease(settings))
            )
        if claimed.rowcount:
            sent += await _send(sessions, settings, delivery_id, clock)
    await _count_states(sessions)
    return sent


async def _send(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, delivery_id: str, clock: Callable[[], datetime]
) -> int:
    async with sessions() as session:
        delivery = await session.get(EmailDelivery, delivery_id)
        assert delivery is not None
        doctor = await session.get(Doctor, delivery.doctor_id)
        listed = select(Notification).where(Notification.id.in_(delivery.notification_ids))  # type: ignore[attr-defined]
        notifications = list((await session.execute(listed.order_by(Notification.created_at))).scalars())
    try:
        if doctor is None or not notifications:
            raise LookupError("the doctor or the notifications of this e-mail are unknown")
        digest_of = None
        if delivery.kind == DIGEST:
            day = delivery.created_at.astimezone(zone_of(doctor.time_zone)).date()
            digest_of = (day.isoformat(), settings.digest_hour)
        message = compose(delivery, doctor, notifications, settings, digest_of=digest_of, now=clock())
        transport = await transmit(message, delivery.id, settings)
    except Exception as exc:  # every failure counts as an attempt: a send must not retry forever unseen
        await _failed(sessions, settings, delivery, exc, clock())
        return 0
    async with transaction(sessions) as session:
        sent_at = clock()
        await session.execute(
            update(EmailDelivery)
            .where(EmailDelivery.id == delivery.id)  # type: ignore[arg-type]
            .values(
                state="sent",
                attempts=delivery.attempts + 1,
                sent_at=sent_at,
                transport=transport,
                message_id=message["Message-ID"],
                claimed_until=None,
                last_error=None,
            )
        )
        event = EmailSent(
            delivery_id=delivery.id,
            doctor_id=delivery.doctor_id,
            kind=delivery.kind,
            notification_ids=delivery.notification_ids,
            language=message["Content-Language"],
            transport=transport,  # type: ignore[arg-type]
            message_id=message["Message-ID"],
            attempts=delivery.attempts + 1,
            sent_at=sent_at,
        )
        add_event(
            session, event, source=SERVICE, subject=delivery.id, aggregate_version=1, causation_id=delivery.event_id
        )
    EMAILS.labels(SERVICE, delivery.kind, "sent").inc()
    return 1


async def _failed(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    delivery: EmailDelivery,
    error: Exception,
    now: datetime,
) -> None:
    attempts = delivery.attempts + 1
    final = permanent(error) or attempts >= settings.email_max_attempts
    reason = f"{type(error).__name__}: {error}"[:1000]
    async with transaction(sessions) as session:
        await session.execute(
            update(EmailDelivery)
            .where(EmailDelivery.id == delivery.id)  # type: ignore[arg-type]
            .values(
                state="failed" if final else "pending",
                attempts=attempts,
                next_attempt_at=now + retry_delay(attempts, settings),
                claimed_until=None,
                last_error=reason,
            )
        )
    EMAILS.labels(SERVICE, delivery.kind, "failed" if final else "retried").inc()
    if final:
        log.error("e-mail given up", delivery_id=delivery.id, attempts=attempts, error=reason)
    else:
        log.warning("e-mail not sent, will retry", delivery_id=delivery.id, attempts=attempts, error=reason)


async def _count_states(sessions: async_sessionmaker[AsyncSession]) -> None:
    states = ("pending", "failed")
    query = (
        select(EmailDelivery.state, func.count())
        .where(EmailDelivery.state.in_(states))  # type: ignore[attr-defined]
        .group_by(EmailDelivery.state)
    )
    async with sessions() as session:
        counts = {state: count for state, count in (await session.execute(query)).all()}
    for state in states:
        EMAIL_DELIVERIES.labels(SERVICE, state).set(counts.get(state, 0))
