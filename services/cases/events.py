"""Events the cases service consumes: its queues ``cases.<purpose>`` and their handlers.

- ``cases.order-events``: ``order.draft_created`` opens a case, ``order.submitted`` starts its intake (or a
  modification's), ``order.deleted`` cancels a case whose opening draft was deleted; ``patient.updated`` renames the
  patient on every case of theirs.
- ``cases.records-events``: ``records.checked`` and ``records.completed`` (the documents service's checklist answers)
  decide the intake (:mod:`services.cases.intake`); ``document.uploaded``/``document.deleted`` write "records
  received" into the history, keep the case's main photo, and resolve a records problem once its slots are sent again.
- ``cases.doctor-events``: ``doctor.registered``/``doctor.updated`` keep the doctor's name and time zone.

Order and records events are applied whatever order they arrive in (each handler only adds facts, and the status
follows from the facts), so they do not skip older versions; whichever arrives first opens the case. Two handlers
opening or changing one case at once conflict on its row (its primary key, its version): the loser is retried by
the consumer and then sees the winner's change. ``patient.updated`` and ``doctor.*`` carry whole states and skip
older versions. What the service publishes is written by :mod:`services.cases.lifecycle`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.intake import advance
from services.cases.lifecycle import Actor, clear_records_problem, move, open_case, record, refresh_search, set_patient
from services.cases.models import Case, CaseCollaborator, CaseDocument, Doctor, Patient, RecordsResult
from services.cases.settings import SERVICE
from services.cases.statuses import Action
from shared.db import upsert
from shared.events.doctors import DoctorProfile, DoctorRegistered, DoctorUpdated
from shared.events.documents import (
    RECORD_SLOTS,
    DocumentDeleted,
    DocumentUploaded,
    RecordsChecked,
    RecordsCompleted,
)
from shared.events.envelope import Envelope
from shared.events.orders import PHOTO_SLOTS, OrderDeleted, OrderDraftCreated, OrderSubmitted, PatientUpdated
from shared.messaging.consumer import Consumer

order_events = Consumer(SERVICE, "order-events")
records_events = Consumer(SERVICE, "records-events")
doctor_events = Consumer(SERVICE, "doctor-events")
consumers: list[Consumer] = [order_events, records_events, doctor_events]

MAIN_PHOTO_SLOT = "photo.intraoral_frontal"
"""The photo the orders list and the case page show (DOMAIN.md "Orders list": main photo thumbnail)."""


def _doctor(doctor_id: str) -> Actor:
    return Actor("doctor", doctor_id)


async def _case_for(session: AsyncSession, envelope: Envelope, case_id: str, doctor_id: str) -> Case:
    """The case ``case_id``, locked until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's consumer
    transactions already hold its write lock from their inbox insert), or opened now if this event is the first to
    speak of it. The lock makes two events about one case decide one after the other: each sees the facts the
    other wrote (an intake decided from the order on one queue and the records on another would otherwise miss
    both)."""
    case = await session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        case = open_case(session, case_id, doctor_id, envelope.occurred_at, _doctor(doctor_id), envelope.id)
        await _refresh_main_photo(session, case)
    return case


async def _known_patient(session: AsyncSession, patient_id: str | None) -> Patient | None:
    return await session.get(Patient, patient_id) if patient_id else None


def _identify(case: Case, order_id: str, order_number: str, kind: str, at: datetime) -> None:
    """Fill the case's identity from the order that opened it (what an earlier event could not know)."""
    case.order_id, case.order_number, case.kind = order_id, order_number, kind
    case.created_at = min(case.created_at, at)
    refresh_search(case)


@order_events.on(OrderDraftCreated, skip_stale=False)
async def draft_created(session: AsyncSession, envelope: Envelope, payload: OrderDraftCreated) -> None:
    """An aligner or retainer draft opens its case (``incomplete_submission``); a modification draft changes nothing
    until it is submitted."""
    if not payload.opens_case:
        return
    case = await _case_for(session, envelope, payload.case_id, payload.doctor_id)
    _identify(case, payload.order_id, payload.order_number, payload.kind, envelope.occurred_at)
    if case.patient_id is None and payload.patient is not None:
        known = await _known_patient(session, payload.patient.id)
        first, last = (
            (known.first_name, known.last_name) if known else (payload.patient.first_name, payload.patient.last_name)
        )
        set_patient(case, payload.patient.id, first, last)


@order_events.on(OrderSubmitted, skip_stale=False)
async def submitted(session: AsyncSession, envelope: Envelope, payload: OrderSubmitted) -> None:
    """The case's order (or a modification of it) was submitted: keep its facts and let them move the case."""
    case = await _case_for(session, envelope, payload.case_id, payload.doctor_id)
    if payload.kind != "modification":
        _identify(case, payload.order_id, payload.order_number, payload.kind, envelope.occurred_at)
        case.submitted_at = datetime.fromisoformat(payload.submitted_at)
        for collaborator_id in payload.collaborator_ids:
            await session.execute(
                upsert(session, CaseCollaborator.__table__)
                .values(case_id=case.id, collaborator_id=collaborator_id)
                .on_conflict_do_nothing(index_elements=["case_id", "collaborator_id"])
            )
    known = await _known_patient(session, payload.patient.id)
    names = (known.first_name, known.last_name) if known else (payload.patient.first_name, payload.patient.last_name)
    set_patient(case, payload.patient.id, *names)
    if case.intake_order_id == payload.order_id:
        return
    what = "Modification" if payload.kind == "modification" else "Order"
    at = datetime.fromisoformat(payload.submitted_at)
    kind = "modification_submitted" if payload.kind == "modification" else "order_submitted"
    summary = f"{what} {payload.order_number} submitted"
    record(
        session,
        case,
        kind,
        _doctor(payload.doctor_id),
        summary,
        at=at,
        details={"order_id": payload.order_id},
        cause_event_id=envelope.id,
    )
    case.intake_order_id, case.intake_kind = payload.order_id, payload.kind
    case.intake_required_slots = list(payload.required_slots)
    case.intake_pvs = payload.scans == "pvs_impressions" or payload.source == "pvs_impressions"
    case.intake_applied, case.impressions_received_at = False, None
    await advance(session, case, _doctor(payload.doctor_id), envelope.occurred_at, envelope.id)


@order_events.on(OrderDeleted, skip_stale=False)
async def deleted(session: AsyncSession, envelope: Envelope, payload: OrderDeleted) -> None:
    """The draft that opened the case was deleted: the case is cancelled (a deleted modification draft changes
    nothing)."""
    if not payload.cancels_case:
        return
    case = await _case_for(session, envelope, payload.case_id, payload.doctor_id)
    if case.status == "incomplete_submission" and case.intake_order_id is None:
        summary = f"Draft {payload.order_number} deleted"
        move(
            session,
            case,
            Action.DELETE_DRAFT,
            "cancelled",
            _doctor(payload.doctor_id),
            summary,
            at=envelope.occurred_at,
            cause_event_id=envelope.id,
        )


@order_events.on(PatientUpdated)
async def patient_updated(session: AsyncSession, envelope: Envelope, payload: PatientUpdated) -> None:
    """Keep the patient's name and show it on every case of theirs (older versions were skipped by the inbox)."""
    await session.execute(
        upsert(session, Patient.__table__)
        .values(
            id=payload.patient_id,
            doctor_id=payload.doctor_id,
            first_name=payload.first_name,
            last_name=payload.last_name,
            version=envelope.aggregate_version,
        )
        .on_conflict_do_update(
            index_elements=["id"],
            set_={
                "first_name": payload.first_name,
                "last_name": payload.last_name,
                "version": envelope.aggregate_version,
            },
        )
    )
    mine = select(Case).where(Case.patient_id == payload.patient_id).order_by(Case.id).with_for_update()
    cases = await session.execute(mine)  # locked in one order: two renamings of one patient cannot deadlock
    for case in cases.scalars():
        set_patient(case, None, payload.first_name, payload.last_name)


async def _store_result(
    session: AsyncSession, envelope: Envelope, case_id: str, order_id: str, missing: list[str]
) -> bool:
    """Keep the checklist answer unless a newer one is already kept; True when it was kept."""
    values = {"complete": not missing, "missing": missing, "version": envelope.aggregate_version}
    statement = upsert(session, RecordsResult.__table__).values(case_id=case_id, order_id=order_id, **values)
    statement = statement.on_conflict_do_update(
        index_elements=["case_id", "order_id"],
        set_=values,
        where=RecordsResult.__table__.c.version < envelope.aggregate_version,
    )
    return bool((await session.execute(statement)).rowcount)


async def _records_answer(
    session: AsyncSession, envelope: Envelope, case_id: str, order_id: str, doctor_id: str, missing: list[str]
) -> None:
    if not await _store_result(session, envelope, case_id, order_id, missing):
        return
    case = await _case_for(session, envelope, case_id, doctor_id)
    summary = "Records complete" if not missing else "Records missing: " + ", ".join(missing)
    record(
        session,
        case,
        "records_checked",
        _doctor(doctor_id),
        summary,
        at=envelope.occurred_at,
        details={"order_id": order_id, "missing": missing},
        cause_event_id=envelope.id,
    )
    await advance(session, case, _doctor(doctor_id), envelope.occurred_at, envelope.id)


@records_events.on(RecordsChecked, skip_stale=False)
async def records_checked(session: AsyncSession, envelope: Envelope, payload: RecordsChecked) -> None:
    """The documents service's answer to a submission: the order's records are complete, or these are missing."""
    missing = [] if payload.complete else list(payload.missing)
    await _records_answer(session, envelope, payload.case_id, payload.order_id, payload.doctor_id, missing)


@records_events.on(RecordsCompleted, skip_stale=False)
async def records_completed(session: AsyncSession, envelope: Envelope, payload: RecordsCompleted) -> None:
    """An upload completed the order's checklist."""
    await _records_answer(session, envelope, payload.case_id, payload.order_id, payload.doctor_id, [])


async def _refresh_main_photo(session: AsyncSession, case: Case) -> None:
    """The case's main photo: its latest intra-oral frontal photo, else its first photo of another slot."""
    photos = await session.execute(
        select(CaseDocument).where(
            CaseDocument.case_id == case.id, CaseDocument.slot.in_(PHOTO_SLOTS), CaseDocument.deleted.is_(False)
        )
    )
    kept = list(photos.scalars())
    frontal = sorted((p for p in kept if p.slot == MAIN_PHOTO_SLOT), key=lambda p: p.uploaded_at, reverse=True)
    others = sorted((p for p in kept if p.slot != MAIN_PHOTO_SLOT), key=lambda p: p.uploaded_at)
    chosen = (frontal or others or [None])[0]
    case.main_photo_document_id = chosen.document_id if chosen else None


@records_events.on(DocumentUploaded, skip_stale=False)
async def document_uploaded(session: AsyncSession, envelope: Envelope, payload: DocumentUploaded) -> None:
    """A file of the case arrived: into the history (record slots), the main photo, and a records problem."""
    statement = upsert(session, CaseDocument.__table__).values(
        document_id=payload.document_id,
        case_id=payload.case_id,
        slot=payload.slot,
        uploaded_at=payload.uploaded_at,
        deleted=False,
    )
    await session.execute(
        statement.on_conflict_do_update(index_elements=["document_id"], set_={"uploaded_at": payload.uploaded_at})
    )
    case = await _case_for(session, envelope, payload.case_id, payload.doctor_id)
    await _refresh_main_photo(session, case)
    if payload.slot not in RECORD_SLOTS:
        return
    doctor = _doctor(payload.doctor_id)
    record(
        session,
        case,
        "records_received",
        doctor,
        f"{payload.slot} received: {payload.filename}",
        at=payload.uploaded_at,
        details={
            "document_id": payload.document_id,
            "slot": payload.slot,
            "filename": payload.filename,
            "size_bytes": payload.size_bytes,
        },
        cause_event_id=envelope.id,
    )
    if case.status == "submission_problem" and case.problem_slots and case.problem_raised_at is not None:
        sent_again = await session.execute(
            select(CaseDocument.slot).where(
                CaseDocument.case_id == case.id,
                CaseDocument.deleted.is_(False),
                CaseDocument.uploaded_at >= case.problem_raised_at,
            )
        )
        if set(case.problem_slots) <= set(sent_again.scalars()):
            summary = "Corrected records sent: " + ", ".join(case.problem_slots)
            move(
                session,
                case,
                Action.RESOLVE_RECORDS_PROBLEM,
                "setup_in_progress",
                doctor,
                summary,
                at=payload.uploaded_at,
                cause_event_id=envelope.id,
            )
            clear_records_problem(case)


@records_events.on(DocumentDeleted, skip_stale=False)
async def document_deleted(session: AsyncSession, envelope: Envelope, payload: DocumentDeleted) -> None:
    """A file of the case was deleted: it no longer counts (even if its upload's event is still to come)."""
    statement = upsert(session, CaseDocument.__table__).values(
        document_id=payload.document_id, case_id=payload.case_id, slot=payload.slot, deleted=True
    )
    await session.execute(statement.on_conflict_do_update(index_elements=["document_id"], set_={"deleted": True}))
    case = await session.get(Case, payload.case_id, with_for_update=True)
    if case is not None:
        await _refresh_main_photo(session, case)


async def _keep_doctor(session: AsyncSession, envelope: Envelope, payload: DoctorProfile) -> None:
    values = {
        "first_name": payload.first_name,
        "last_name": payload.last_name,
        "time_zone": payload.time_zone,
        "version": envelope.aggregate_version,
    }
    statement = upsert(session, Doctor.__table__).values(id=payload.doctor_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


@doctor_events.on(DoctorRegistered)
async def doctor_registered(session: AsyncSession, envelope: Envelope, payload: DoctorRegistered) -> None:
    """A new doctor: keep their name and time zone."""
    await _keep_doctor(session, envelope, payload)


@doctor_events.on(DoctorUpdated)
async def doctor_updated(session: AsyncSession, envelope: Envelope, payload: DoctorUpdated) -> None:
    """A doctor changed their profile: keep the new name and time zone."""
    await _keep_doctor(session, envelope, payload)
