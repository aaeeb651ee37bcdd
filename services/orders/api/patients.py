"""Routes of patients: list and search, create, read, change (API.md "Patients and orders")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.api.common import Database, DoctorId, Scope, find_patient
from services.orders.events import publish_patient_updated
from services.orders.models import Patient
from services.orders.schemas import Page, PatientIn, PatientOut, PatientPatch
from services.orders.views import patient_body
from shared.db import utcnow
from shared.idempotency import fingerprint, key_of, run_idempotent
from shared.paging import PageNumber, PageSize
from shared.problems import ProblemError, ProblemRoute
from shared.search import like_pattern, search_key, search_terms

router = APIRouter(route_class=ProblemRoute)


@router.get("/patients", response_model=Page[PatientOut])
async def list_patients(
    scope: Scope,
    session: Database,
    q: Annotated[str | None, Query(max_length=200, description="words of the name, any accents and case")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """The caller's patients (every patient for staff) sorted by last then first name: ``{items: [patient], page,
    page_size, total}``. ``q`` keeps the patients whose name holds every word of it, ignoring accents and case
    ("zoe" finds "Zoë")."""
    condition = [] if scope is None else [Patient.doctor_id == scope]
    for term in search_terms(q or ""):
        condition.append(Patient.search_key.like(like_pattern(term), escape="\\"))  # type: ignore[attr-defined]
    total = (await session.execute(select(func.count()).select_from(Patient).where(*condition))).scalar_one()
    query = (
        select(Patient)
        .where(*condition)
        .order_by(Patient.search_key, Patient.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    items = [patient_body(patient) for patient in (await session.execute(query)).scalars()]
    return {"items": items, "page": page, "page_size": page_size, "total": total}


@router.post("/patients", status_code=201, response_model=PatientOut)
async def create_patient(body: PatientIn, request: Request, doctor: DoctorId, session: Database) -> JSONResponse:
    """Create a patient ``{first_name, last_name, date_of_birth, sex}`` → 201 the patient. 422 for a missing,
    invalid or unknown field (a date of birth in the future or before 1900 among them); 403 for staff.
    ``Idempotency-Key`` makes a retry answer the first response."""

    async def create(db: AsyncSession) -> tuple[int, Any]:
        patient = Patient(doctor_id=doctor, search_key=search_key(body.first_name, body.last_name), **body.model_dump())
        db.add(patient)
        await db.flush()
        return 201, patient_body(patient)

    request_hash = fingerprint(request, body.model_dump(mode="json"))
    return await run_idempotent(session, doctor, key_of(request), request_hash, create)


@router.get("/patients/{patient_id}", response_model=PatientOut)
async def read_patient(patient_id: str, scope: Scope, session: Database) -> dict[str, Any]:
    """One patient; 404 when it does not exist or is another doctor's."""
    return patient_body(await find_patient(session, patient_id, scope))


@router.patch("/patients/{patient_id}", response_model=PatientOut)
async def update_patient(patient_id: str, body: PatientPatch, doctor: DoctorId, session: Database) -> dict[str, Any]:
    """Change any of ``first_name``, ``last_name``, ``date_of_birth``, ``sex`` (none may be null) → the patient.
    A real change publishes ``patient.updated`` at the patient's next version. 404 when not the doctor's; 422 for an
    invalid or unknown field; 403 for staff."""
    patient = await find_patient(session, patient_id, doctor)
    changes = {
        key: value for key, value in body.model_dump(exclude_unset=True).items() if getattr(patient, key) != value
    }
    if not changes:
        return patient_body(patient)
    for key, value in changes.items():
        setattr(patient, key, value)
    patient.search_key = search_key(patient.first_name, patient.last_name)
    patient.updated_at = utcnow()
    result = await session.execute(
        update(Patient)
        .where(Patient.id == patient.id, Patient.version == patient.version)  # type: ignore[arg-type]
        .values(**changes, search_key=patient.search_key, updated_at=patient.updated_at, version=patient.version + 1)
    )
    if result.rowcount != 1:
        await session.rollback()
        raise ProblemError(409, "Conflict", "the patient was changed by another request meanwhile; read it again")
    patient.version += 1
    publish_patient_updated(session, patient)
    await session.commit()
    return patient_body(patient)
