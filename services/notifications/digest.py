"""The daily digest: for each doctor who chose it, one e-mail a day gathering what they have not been e-mailed yet.

A doctor's digest of day D is due at ``digest_hour`` o'clock of D in the doctor's own time zone. It tells of the
doctor's notifications made before then whose e-mail is due (their kind switched on) and not yet sent, that are still
active (not dismissed, not expired, not retired because the case moved on) and whose kind is still switched on. A
doctor with the digest gets no e-mail per notification: the digest gathers them. Its delivery key is made from the
doctor and the day, so the digest of a day is recorded once however often the job runs, and on however many
replicas; a notification made late for a digest already recorded waits for the next one. A day with nothing to tell
sends nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.emails import DIGEST
from services.notifications.events import record_delivery, undelivered
from services.notifications.models import Doctor, EmailDelivery
from services.notifications.settings import Settings
from shared.db import transaction

DIGEST_NAMESPACE = uuid.UUID("5b0f3c8e-5d2a-4f4e-9a53-0d6f0b1e7c21")
"""The UUID 5 namespace of digest keys (RFC 9562 §5.5): the key of a doctor's digest of a day is a name in it."""


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name``, or UTC when the tz database does not know it."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def digest_due(now: datetime, time_zone: str, hour: int) -> tuple[date, datetime]:
    """The latest digest due at ``now`` for a doctor in ``time_zone``: its local day, and the instant it is due
    (``hour`` o'clock of that day), in ``now``'s zone."""
    zone = zone_of(time_zone)
    local = now.astimezone(zone)
    day = local.date() if local.time() >= time(hour) else local.date() - timedelta(days=1)
    return day, datetime.combine(day, time(hour), tzinfo=zone).astimezone(now.tzinfo)


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
        day, due = digest_due(now, doctor.time_zone, settings.digest_hour)
        key = digest_key(doctor.id, day)
        async with transaction(sessions) as session:
            recorded = select(EmailDelivery.id).where(EmailDelivery.event_id == key)
            if (await session.execute(recorded)).first() is not None:
                queued += 1
                continue
            gathered = [
                notice
                for notice in await undelivered(session, doctor.id, now)
                if notice.created_at < due and doctor.wants_email(notice.kind)
            ]
            if gathered:
                delivery_id = await record_delivery(session, key, doctor, DIGEST, [n.id for n in gathered], due)
                for notice in gathered:
                    notice.emailed_by = delivery_id
                queued += 1
    return queued
