"""The daily digest: for each doctor who chose it, one e-mail a day gathering the notifications of the day before.

A doctor's digest of day D is due at ``digest_hour`` o'clock of D in the doctor's own time zone and tells of the
notifications made in the 24 hours of wall-clock time before (from ``digest_hour`` of D-1), of the kinds whose
e-mail the doctor switched on, that the doctor has not dismissed. A doctor with the digest gets no e-mail per
notification: the digest replaces them. Its delivery key is made from the doctor and the day, so the digest of a day
is recorded once however often the job runs, and on however many replicas. A day with nothing to tell sends nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.emails import DIGEST
from services.notifications.events import record_delivery
from services.notifications.models import Doctor, Notification
from services.notifications.settings import Settings
from shared.db import transaction, utcnow

log = structlog.get_logger(__name__)

DIGEST_NAMESPACE = uuid.UUID("5b0f3c8e-5d2a-4f4e-9a53-0d6f0b1e7c21")
"""The UUID 5 namespace of digest keys (RFC 9562 §5.5): the key of a doctor's digest of a day is a name in it."""


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name``, or UTC when the tz database does not know it."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def digest_due(now: datetime, time_zone: str, hour: int) -> tuple[date, datetime, datetime]:
    """The latest digest due at ``now`` for a doctor in ``time_zone``: its local day, and the UTC instants its
    window starts and ends (``hour`` o'clock of the day before, and of the day)."""
    zone = zone_of(time_zone)
    local = now.astimezone(zone)
    day = local.date() if local.time() >= time(hour) else local.date() - timedelta(days=1)
    end = datetime.combine(day, time(hour), tzinfo=zone)
    start = datetime.combine(day - timedelta(days=1), time(hour), tzinfo=zone)
    return day, start.astimezone(now.tzinfo), end.astimezone(now.tzinfo)


def digest_key(doctor_id: str, day: date) -> str:
    """The event id under which the digest of ``day`` for ``doctor_id`` is recorded."""
    return str(uuid.uuid5(DIGEST_NAMESPACE, f"{DIGEST}:{doctor_id}:{day.isoformat()}"))


async def queue_digests(sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    """Record the digest now due of every doctor who chose it and has something in it; returns how many doctors
    had one (recorded now or before)."""
    async with sessions() as session:
        chosen = select(Doctor).where(Doctor.daily_digest.is_(True))  # type: ignore[attr-defined]
        doctors = list((await session.execute(chosen)).scalars())
    queued = 0
    for doctor in doctors:
        day, start, end = digest_due(now, doctor.time_zone, settings.digest_hour)
        async with transaction(sessions) as session:
            found = await session.execute(
                select(Notification.id, Notification.kind)
                .where(
                    Notification.doctor_id == doctor.id,
                    Notification.created_at >= start,  # type: ignore[operator]
                    Notification.created_at < end,  # type: ignore[operator]
                    Notification.expires_at > Notification.created_at,  # type: ignore[operator]
                    Notification.dismissed_at.is_(None),  # type: ignore[union-attr]
                )
                .order_by(Notification.created_at)
            )
            ids = [row.id for row in found if doctor.wants_email(row.kind)]
            if ids:
                await record_delivery(session, digest_key(doctor.id, day), doctor, DIGEST, ids, end)
                queued += 1
    return queued


async def run_digests(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Callable[[], datetime] = utcnow
) -> None:
    """Run :func:`queue_digests` now and then every ``digest_check_seconds`` until cancelled; a failed run is logged
    and the next one comes as planned."""
    while True:
        try:
            await queue_digests(sessions, settings, clock())
        except Exception as exc:  # the job must outlive a database hiccup
            log.warning("digest job failed", error=repr(exc))
        await asyncio.sleep(settings.digest_check_seconds)
