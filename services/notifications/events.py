"""Events the notifications service consumes and what it makes of them: its queues ``notifications.<purpose>``.

- ``notifications.case-events``: one notification per business fact a doctor must act on or know about (the kinds
  of :mod:`services.notifications.kinds`), for the case's doctor, each with its expiry, and an e-mail recorded for
  it when the doctor switched that kind on (without the daily digest, which gathers them instead). Each event states
  its own fact, so none is skipped as stale; the inbox makes a redelivered event change nothing.
- ``notifications.records-events``: the documents service's records check names the slots still missing (a case
  waiting for PVS impressions may also lack photos); ``records.completed`` ends those requests.
- ``notifications.doctor-events``: ``doctor.registered``/``doctor.updated`` keep the doctor's address, language,
  time zone and switches (whole states: older versions are skipped). A doctor who turns the daily digest off gets
  the e-mails it was still to gather, one each.

A notice that holds while the case is in one status is retired when a later ``case.status_changed`` moves the case
out of it, or born retired when such a change was heard first. Every notification made is announced as
``notification.created`` through the outbox, in the transaction that made it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.kinds import KINDS, retired_by_leaving
from services.notifications.messages import render
from services.notifications.models import CaseStatus, Doctor, EarlyRecordsCheck, EmailDelivery, Notification, new_id
from services.notifications.settings import SERVICE, Settings
from shared.db import upsert
from shared.events.cases import (
    CaseEvent,
    CaseExpiringSoon,
    CaseStatusChanged,
    CollaboratorStatusChanged,
    PhaseDelivered,
    PhaseShipped,
    SetupPublished,
)
from shared.events.doctors import DoctorProfile, DoctorRegistered, DoctorUpdated
from shared.events.documents import RecordsChecked, RecordsCompleted
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationCreated
from shared.messaging.consumer import Consumer
from shared.messaging.outbox import add_event

EMAIL_CHANNEL = "email"


class Notifier:
    """The handlers of the service's queues, with the settings they need (each kind's lifetime)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.case_events = Consumer(SERVICE, "case-events")
        self.records_events = Consumer(SERVICE, "records-events")
        self.doctor_events = Consumer(SERVICE, "doctor-events")
        self.case_events.on(CaseStatusChanged, skip_stale=False)(self.status_changed)
        self.case_events.on(SetupPublished, skip_stale=False)(self.setup_published)
        self.case_events.on(CollaboratorStatusChanged, skip_stale=False)(self.collaborator_status_changed)
        self.case_events.on(PhaseShipped, skip_stale=False)(self.phase_shipped)
        self.case_events.on(PhaseDelivered, skip_stale=False)(self.phase_delivered)
        self.case_events.on(CaseExpiringSoon, skip_stale=False)(self.expiring_soon)
        self.records_events.on(RecordsChecked, skip_stale=False)(self.records_checked)
        self.records_events.on(RecordsCompleted, skip_stale=False)(self.records_completed)
        self.doctor_events.on(DoctorRegistered)(self.doctor_changed)
        self.doctor_events.on(DoctorUpdated)(self.doctor_changed)

    @property
    def consumers(self) -> list[Consumer]:
        """The consumers to attach, one per queue."""
        return [self.case_events, self.records_events, self.doctor_events]

    async def status_changed(self, session: AsyncSession, envelope: Envelope, payload: CaseStatusChanged) -> None:
        """Keep the case's latest status, retire what its previous status made true, and tell the doctor of records
        needed, a submission problem, a hold or resume the doctor did not make, and expiry."""
        await _keep_status(session, envelope, payload)
        if payload.previous_status:
            await _retire(session, payload.case_id, retired_by_leaving(payload.previous_status), envelope)
        status, by_doctor = payload.status, payload.actor == "doctor"
        if status == "awaiting_records":
            if not await _records_asked(session, payload.case_id, payload.slots, envelope.occurred_at):
                await self.notify(session, envelope, payload, "records_missing", {"slots": payload.slots})
            early = await session.get(EarlyRecordsCheck, payload.case_id)
            if early is not None:
                await session.delete(early)
                if not payload.slots and not await _records_asked(
                    session, payload.case_id, early.missing, envelope.occurred_at
                ):
                    params = {"slots": early.missing}
                    await self.notify(session, envelope, payload, "records_missing", params, source=early.event_id)
        elif status == "submission_problem":
            params = {"reason": payload.reason, "slots": payload.slots}
            await self.notify(session, envelope, payload, "submission_problem", params)
        elif status == "on_hold" and not by_doctor:
            await self.notify(session, envelope, payload, "case_on_hold", {"reason": payload.reason})
        elif payload.previous_status == "on_hold" and status not in ("expired", "cancelled") and not by_doctor:
            await self.notify(session, envelope, payload, "case_resumed", {"status": status})
        elif status == "expired":
            await _retire(session, payload.case_id, ["case_expiring_soon"], envelope)
            expired_on = envelope.occurred_at.date().isoformat()
            await self.notify(session, envelope, payload, "case_expired", {"expired_on": expired_on})

    async def setup_published(self, session: AsyncSession, envelope: Envelope, payload: SetupPublished) -> None:
        """Setup vN awaits the doctor's approval."""
        params = {"version": payload.version, "steps_upper": payload.steps_upper, "steps_lower": payload.steps_lower}
        await self.notify(session, envelope, payload, "setup_published", params)

    async def collaborator_status_changed(
        self, session: AsyncSession, envelope: Envelope, payload: CollaboratorStatusChanged
    ) -> None:
        """A collaborator marked the setup ready for the doctor's approval."""
        if payload.collaborator_status == "ready_for_approval":
            params = {"version": payload.setup_version}
            await self.notify(session, envelope, payload, "setup_ready_for_approval", params)

    async def phase_shipped(self, session: AsyncSession, envelope: Envelope, payload: PhaseShipped) -> None:
        """A phase left the lab, with its carrier and tracking number."""
        params = payload.model_dump(include={"number", "steps_from", "steps_to", "carrier", "tracking_number"})
        await self.notify(session, envelope, payload, "phase_shipped", params)

    async def phase_delivered(self, session: AsyncSession, envelope: Envelope, payload: PhaseDelivered) -> None:
        """The last phase reached the practice (earlier phases' deliveries tell the doctor nothing new)."""
        if payload.final:
            await self.notify(session, envelope, payload, "last_phase_delivered", {"number": payload.number})

    async def expiring_soon(self, session: AsyncSession, envelope: Envelope, payload: CaseExpiringSoon) -> None:
        """The case expires in 90, 30 or 7 days: this notice replaces an earlier one and ends on the expiry day at
        the latest; critical at 7 days."""
        await _retire(session, payload.case_id, ["case_expiring_soon"], envelope)
        params = {"days_before": payload.days_before, "expires_on": payload.expires_at.date().isoformat()}
        severity = "critical" if payload.days_before <= 7 else None
        await self.notify(
            session, envelope, payload, "case_expiring_soon", params, severity=severity, until=payload.expires_at
        )

    async def records_checked(self, session: AsyncSession, envelope: Envelope, payload: RecordsChecked) -> None:
        """The records check found slots empty while the case already waits for records (PVS impressions, whose
        move to ``awaiting_records`` names no slot, or a later check): ask for them, unless a notice already asks for
        those very slots. A check heard before the case's move is kept for the move (which, with digital scans,
        names the same slots itself). The check is written before the case's status is read (and its row locked):
        the move and the check, handled at once from two queues, each see the other's effects."""
        if payload.complete or not payload.missing:
            await session.execute(delete(EarlyRecordsCheck).where(EarlyRecordsCheck.case_id == payload.case_id))
            return
        early = await _keep_early_check(session, envelope, payload)
        if early is None:
            return
        known = await session.get(CaseStatus, payload.case_id, with_for_update=True, populate_existing=True)
        if known is None or known.status != "awaiting_records":
            return
        await session.delete(early)
        if await _records_asked(session, payload.case_id, payload.missing, envelope.occurred_at):
            return
        case = CaseEvent(
            case_id=payload.case_id,
            doctor_id=payload.doctor_id,
            order_number=known.order_number,
            patient_name=known.patient_name,
        )
        params = {"slots": payload.missing}
        await self.notify(session, envelope, case, "records_missing", params, case_version=known.version)

    async def records_completed(self, session: AsyncSession, envelope: Envelope, payload: RecordsCompleted) -> None:
        """Every slot asked for now holds a file: the requests for files end (one to mail PVS impressions, which
        names no slot, stays until the case moves on)."""
        for notice in await _active(session, payload.case_id, "records_missing", envelope.occurred_at):
            if notice.params.get("slots"):
                notice.expires_at = envelope.occurred_at

    async def doctor_changed(self, session: AsyncSession, envelope: Envelope, payload: DoctorProfile) -> None:
        """Keep the doctor's profile as the event states it; a doctor leaving the daily digest gets the e-mails it
        was still to gather now, one each."""
        before = await session.get(Doctor, payload.doctor_id)
        gathering = before is not None and before.daily_digest
        values = payload.model_dump(
            include={"email", "first_name", "last_name", "language", "email_notifications", "daily_digest", "time_zone"}
        )
        statement = upsert(session, Doctor.__table__).values(
            id=payload.doctor_id, updated_at=envelope.occurred_at, **values
        )
        await session.execute(
            statement.on_conflict_do_update(index_elements=["id"], set_={**values, "updated_at": envelope.occurred_at})
        )
        if gathering and not payload.daily_digest:
            doctor = await session.get(Doctor, payload.doctor_id, populate_existing=True)
            assert doctor is not None
            for notice in await undelivered(session, doctor.id, envelope.occurred_at):
                if doctor.wants_email(notice.kind):
                    notice.emailed_by = await record_delivery(
                        session, notice.source_event_id, doctor, notice.kind, [notice.id], envelope.occurred_at
                    )

    async def notify(
        self,
        session: AsyncSession,
        envelope: Envelope,
        payload: CaseEvent,
        kind: str,
        params: dict[str, Any],
        *,
        severity: str | None = None,
        until: datetime | None = None,
        case_version: int | None = None,
        source: str | None = None,
    ) -> Notification:
        """Make the notification of ``kind`` for the case's doctor from ``envelope``: it lasts the kind's configured
        days from the event (or ``until``, when sooner), is born retired when the case has already left the status
        it holds in (by ``case_version``, the case's version the fact belongs to: the event's own by default), gets
        its e-mail recorded when the doctor wants one now (or left for the daily digest), and is announced in the
        outbox. ``source`` is the id of the event it tells of when that is not ``envelope`` (one notification per
        event and doctor)."""
        created, source = envelope.occurred_at, source or str(envelope.id)
        version = envelope.aggregate_version if case_version is None else case_version
        expires = created + timedelta(days=self.settings.expiry_days(kind))
        if until is not None:
            expires = min(expires, until)
        if await _moved_on(session, payload.case_id, KINDS[kind].holds_while, version):
            expires = created
        doctor = await session.get(Doctor, payload.doctor_id)
        notification = Notification(
            doctor_id=payload.doctor_id,
            kind=kind,
            severity=severity or KINDS[kind].severity,
            case_id=payload.case_id,
            case_version=version,
            params={"order_number": payload.order_number, "patient_name": payload.patient_name, **params},
            source_event_id=source,
            created_at=created,
            expires_at=expires,
            email_due=doctor is not None and expires > created and doctor.wants_email(kind),
        )
        session.add(notification)
        if doctor is not None and notification.email_due and not doctor.daily_digest:
            notification.emailed_by = await record_delivery(session, source, doctor, kind, [notification.id], created)
        words = render(kind, notification.params, doctor.language if doctor else None)
        announced = NotificationCreated(
            notification_id=notification.id,
            kind=kind,
            doctor_id=payload.doctor_id,
            case_id=payload.case_id,
            severity=notification.severity,  # type: ignore[arg-type]
            title=words.title,
            created_at=created,
            expires_at=expires,
            source_event_id=source,
        )
        add_event(
            session, announced, source=SERVICE, subject=notification.id, aggregate_version=1, causation_id=envelope.id
        )
        return notification


async def record_delivery(
    session: AsyncSession, event_id: str, doctor: Doctor, kind: str, notification_ids: list[str], due: datetime
) -> str:
    """Record the e-mail of ``kind`` to ``doctor`` under its key (``event_id``, e-mail channel, their address) unless
    it is already recorded; the sender sends it from ``due``. Returns the delivery's id."""
    await session.execute(
        upsert(session, EmailDelivery.__table__)
        .values(
            id=new_id(),
            event_id=event_id,
            channel=EMAIL_CHANNEL,
            recipient=doctor.email,
            doctor_id=doctor.id,
            kind=kind,
            notification_ids=notification_ids,
            state="pending",
            attempts=0,
            created_at=due,
            next_attempt_at=due,
        )
        .on_conflict_do_nothing(index_elements=["event_id", "channel", "recipient"])
    )
    recorded = select(EmailDelivery.id).where(
        EmailDelivery.event_id == event_id,
        EmailDelivery.channel == EMAIL_CHANNEL,
        EmailDelivery.recipient == doctor.email,
    )
    return (await session.execute(recorded)).scalar_one()


async def undelivered(session: AsyncSession, doctor_id: str, now: datetime) -> list[Notification]:
    """The doctor's active notifications whose e-mail is due and not yet recorded (a digest is to gather them),
    oldest first."""
    query = (
        select(Notification)
        .where(
            Notification.doctor_id == doctor_id,
            Notification.email_due.is_(True),  # type: ignore[attr-defined]
            Notification.emailed_by.is_(None),  # type: ignore[union-attr]
            Notification.dismissed_at.is_(None),  # type: ignore[union-attr]
            Notification.expires_at > now,  # type: ignore[operator]
        )
        .order_by(Notification.created_at)
    )
    return list((await session.execute(query)).scalars())


async def _keep_early_check(
    session: AsyncSession, envelope: Envelope, payload: RecordsChecked
) -> EarlyRecordsCheck | None:
    """Keep the check as the case's latest one, written at once; None (and nothing written) when a later check is
    kept already."""
    early = await session.get(EarlyRecordsCheck, payload.case_id)
    if early is None:
        early = EarlyRecordsCheck(case_id=payload.case_id, event_id=str(envelope.id), checked_at=envelope.occurred_at)
        session.add(early)
    elif early.checked_at > envelope.occurred_at:
        return None
    early.event_id, early.missing, early.checked_at = str(envelope.id), list(payload.missing), envelope.occurred_at
    await session.flush()
    return early


async def _keep_status(session: AsyncSession, envelope: Envelope, payload: CaseStatusChanged) -> None:
    table = CaseStatus.__table__
    values = {
        "status": payload.status,
        "version": envelope.aggregate_version,
        "order_number": payload.order_number,
        "patient_name": payload.patient_name,
    }
    statement = upsert(session, table).values(case_id=payload.case_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["case_id"],
            set_={name: statement.excluded[name] for name in values},
            where=table.c.version < statement.excluded.version,
        )
    )


async def _active(session: AsyncSession, case_id: str, kind: str, now: datetime) -> list[Notification]:
    query = select(Notification).where(
        Notification.case_id == case_id,
        Notification.kind == kind,
        Notification.expires_at > now,  # type: ignore[operator]
    )
    return list((await session.execute(query)).scalars())


async def _records_asked(session: AsyncSession, case_id: str, slots: list[str], now: datetime) -> bool:
    """Whether a request for exactly ``slots`` of the case is active at ``now`` (``slots`` non-empty)."""
    if not slots:
        return False
    asked = await _active(session, case_id, "records_missing", now)
    return any(sorted(notice.params.get("slots") or []) == sorted(slots) for notice in asked)


async def _retire(session: AsyncSession, case_id: str, kinds: list[str], envelope: Envelope) -> None:
    """End now the case's notices of ``kinds`` made from events before ``envelope`` (by the case's version)."""
    if not kinds:
        return
    await session.execute(
        update(Notification)
        .where(
            Notification.case_id == case_id,
            Notification.kind.in_(kinds),  # type: ignore[attr-defined]
            Notification.case_version < envelope.aggregate_version,  # type: ignore[operator]
            Notification.expires_at > envelope.occurred_at,  # type: ignore[operator]
        )
        .values(expires_at=envelope.occurred_at)
    )


async def _moved_on(session: AsyncSession, case_id: str, holds_while: str | None, version: int) -> bool:
    """Whether a later status change than ``version`` already took the case out of ``holds_while``."""
    if holds_while is None:
        return False
    known = await session.get(CaseStatus, case_id)
    return known is not None and known.version > version and known.status != holds_while
