"""The carousel (DOMAIN.md "Dashboard"): a doctor's active notifications and the broadcasts that reach them, newest
first, and the doctor's read and dismiss marks.

Active means not dismissed by the doctor and ``now`` before ``expires_at`` (a notification is over at the instant it
expires) and, for a broadcast, not withdrawn. Items are ordered by ``created_at`` then id, both descending, so pages
are stable. An item that is not active, or not the doctor's, is not found.
"""

from __future__ import annotations

import heapq
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from services.notifications.kinds import BROADCAST
from services.notifications.messages import render
from services.notifications.models import Broadcast, BroadcastRecipient, BroadcastState, Doctor, Notification
from shared.db import upsert


def _own(doctor_id: str, now: datetime, dismissed_too: bool = False) -> list[Any]:
    shown = [] if dismissed_too else [Notification.dismissed_at.is_(None)]  # type: ignore[union-attr]
    return [Notification.doctor_id == doctor_id, Notification.expires_at > now, *shown]  # type: ignore[operator]


def _broadcasts(doctor_id: str, now: datetime, columns: list[Any], dismissed_too: bool = False) -> Select[Any]:
    reaching = or_(
        Broadcast.audience_all.is_(True),  # type: ignore[attr-defined]
        Broadcast.id.in_(  # type: ignore[attr-defined]
            select(BroadcastRecipient.broadcast_id).where(BroadcastRecipient.doctor_id == doctor_id)
        ),
    )
    mine = and_(BroadcastState.broadcast_id == Broadcast.id, BroadcastState.doctor_id == doctor_id)
    return (
        select(*columns)
        .select_from(Broadcast)
        .outerjoin(BroadcastState, mine)
        .where(
            reaching,
            Broadcast.withdrawn_at.is_(None),  # type: ignore[union-attr]
            Broadcast.expires_at > now,  # type: ignore[operator]
            *([] if dismissed_too else [BroadcastState.dismissed_at.is_(None)]),  # type: ignore[union-attr]
        )
    )


def notification_item(notification: Notification, language: str | None) -> dict[str, Any]:
    """A doctor's notification as the API shows it: ``{id, kind, title, body, case_id, severity, created_at,
    expires_at, read}`` worded in ``language``."""
    words = render(notification.kind, notification.params, language)
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": words.title,
        "body": words.body,
        "case_id": notification.case_id,
        "severity": notification.severity,
        "created_at": notification.created_at,
        "expires_at": notification.expires_at,
        "read": notification.read_at is not None,
    }


def broadcast_item(broadcast: Broadcast, read_at: datetime | None) -> dict[str, Any]:
    """A broadcast as a doctor's carousel shows it (kind ``broadcast``, no case)."""
    return {
        "id": broadcast.id,
        "kind": BROADCAST,
        "title": broadcast.title,
        "body": broadcast.body,
        "case_id": None,
        "severity": broadcast.severity,
        "created_at": broadcast.created_at,
        "expires_at": broadcast.expires_at,
        "read": read_at is not None,
    }


async def language(session: AsyncSession, doctor_id: str) -> str | None:
    """The doctor's language, when the service has heard of the doctor."""
    doctor = await session.get(Doctor, doctor_id)
    return doctor.language if doctor else None


async def active_page(
    session: AsyncSession, doctor_id: str, now: datetime, page: int, page_size: int
) -> dict[str, Any]:
    """Page ``page`` (from 1) of the doctor's active items: ``{items, page, page_size, total}``."""
    wanted = page * page_size
    newest = (Notification.created_at.desc(), Notification.id.desc())  # type: ignore[attr-defined]
    own = await session.execute(select(Notification).where(*_own(doctor_id, now)).order_by(*newest).limit(wanted))
    spoken = await language(session, doctor_id)
    items = [notification_item(n, spoken) for n in own.scalars()]
    latest = (Broadcast.created_at.desc(), Broadcast.id.desc())  # type: ignore[attr-defined]
    sent = await session.execute(
        _broadcasts(doctor_id, now, [Broadcast, BroadcastState.read_at]).order_by(*latest).limit(wanted)
    )
    broadcasts = [broadcast_item(broadcast, read_at) for broadcast, read_at in sent.all()]
    merged = heapq.merge(items, broadcasts, key=lambda item: (item["created_at"], item["id"]), reverse=True)
    total = (
        await session.execute(select(func.count()).select_from(Notification).where(*_own(doctor_id, now)))
    ).scalar_one()
    total += (await session.execute(_broadcasts(doctor_id, now, [func.count()]))).scalar_one()
    return {"items": list(merged)[wanted - page_size : wanted], "page": page, "page_size": page_size, "total": total}


async def mark(
    session: AsyncSession, doctor_id: str, item_id: str, now: datetime, *, dismiss: bool
) -> dict[str, Any] | None:
    """Mark the doctor's active item ``item_id`` (a UUID, any case) read, or dismissed, at ``now``, inside the
    caller's transaction; marking again changes nothing, and dismissing a dismissed item again is allowed. Returns
    the item as shown before a dismissal, or None when the doctor has no such item (not theirs, expired, withdrawn,
    or dismissed when it is to be read)."""
    try:
        item_id = str(uuid.UUID(item_id))
    except ValueError:
        return None
    owned = select(Notification).where(Notification.id == item_id, *_own(doctor_id, now, dismiss))
    notification = (await session.execute(owned.with_for_update())).scalar_one_or_none()
    if notification is not None:
        notification.read_at = notification.read_at or now
        if dismiss:
            notification.dismissed_at = notification.dismissed_at or now
        return notification_item(notification, await language(session, doctor_id))
    columns = [Broadcast, BroadcastState.read_at, BroadcastState.dismissed_at]
    sent = _broadcasts(doctor_id, now, columns, dismiss).where(Broadcast.id == item_id)
    found = (await session.execute(sent)).first()
    if found is None:
        return None
    broadcast, read_at, dismissed_at = found
    marks = {"read_at": read_at or now, **({"dismissed_at": dismissed_at or now} if dismiss else {})}
    statement = upsert(session, BroadcastState.__table__).values(broadcast_id=item_id, doctor_id=doctor_id, **marks)
    await session.execute(statement.on_conflict_do_update(index_elements=["broadcast_id", "doctor_id"], set_=marks))
    return broadcast_item(broadcast, read_at or now)
