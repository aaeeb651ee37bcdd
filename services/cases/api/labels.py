"""Routes of a doctor's colour labels and of the doctor's comment on a case (API.md "Cases"; DOMAIN.md "Orders
list": each doctor has a palette of colours whose names the doctor edits; a case has at most one label).

The palette is made the first time the doctor needs it: :data:`PALETTE`, each colour named after itself.
Only the treating doctor labels and comments a case (403 for collaborators and the lab).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.api.access import Caller, Database, Viewer, find_case
from services.cases.api.pages import case_answer
from services.cases.models import Label, new_id
from services.cases.schemas import CommentIn, LabelAssign, LabelEdit
from services.cases.views import label_body
from shared.db import upsert
from shared.problems import CaseRoute, invalid

router = APIRouter(route_class=CaseRoute)

PALETTE: tuple[tuple[str, str], ...] = (
    ("#E53935", "Red"),
    ("#FB8C00", "Orange"),
    ("#FDD835", "Yellow"),
    ("#43A047", "Green"),
    ("#00ACC1", "Teal"),
    ("#1E88E5", "Blue"),
    ("#8E24AA", "Purple"),
    ("#757575", "Grey"),
)
"""The colours of every doctor's palette (hex RGB) with their first names."""


def _doctor(viewer: Viewer) -> str:
    if viewer.doctor_id is None:
        raise HTTPException(403, "labels belong to doctors")
    return viewer.doctor_id


async def palette(session: AsyncSession, doctor_id: str) -> list[Label]:
    """The doctor's labels in palette order, made first if the doctor has none yet (two requests doing it at once
    make one palette: the positions are unique per doctor)."""
    query = select(Label).where(Label.doctor_id == doctor_id).order_by(Label.position)  # type: ignore[arg-type]
    labels = list((await session.execute(query)).scalars())
    if labels:
        return labels
    for position, (color, name) in enumerate(PALETTE):
        row = {"id": new_id(), "doctor_id": doctor_id, "position": position, "color": color, "name": name}
        insert = upsert(session, Label.__table__).values(**row)
        await session.execute(insert.on_conflict_do_nothing(index_elements=["doctor_id", "position"]))
    await session.commit()
    return list((await session.execute(query)).scalars())


@router.get("/labels")
async def read_labels(viewer: Caller, session: Database) -> JSONResponse:
    """The doctor's palette: ``[{id, color, name}]`` in palette order."""
    return JSONResponse([label_body(label) for label in await palette(session, _doctor(viewer))])


@router.put("/labels")
async def rename_labels(body: list[LabelEdit], viewer: Caller, session: Database) -> JSONResponse:
    """Rename colours of the palette: ``[{id, name}]`` (colours not listed keep their names) → 200 the palette. 422
    naming each item whose id is not one of the doctor's labels, that tries to change a colour, or that is listed
    twice."""
    labels = {label.id: label for label in await palette(session, _doctor(viewer))}
    errors, seen = [], set()
    for index, edit in enumerate(body):
        label = labels.get(edit.id)
        if label is None:
            errors.append({"field": f"[{index}].id", "message": "not one of your labels"})
        elif edit.id in seen:
            errors.append({"field": f"[{index}].id", "message": "listed twice"})
        elif edit.color is not None and edit.color.upper() != label.color:
            errors.append({"field": f"[{index}].color", "message": "the colours of the palette cannot change"})
        seen.add(edit.id)
    if errors:
        raise invalid(errors)
    for edit in body:
        labels[edit.id].name = edit.name
    await session.commit()
    ordered = sorted(labels.values(), key=lambda label: label.position)
    return JSONResponse([label_body(label) for label in ordered])


@router.put("/cases/{case_id}/label")
async def set_label(case_id: str, body: LabelAssign, viewer: Caller, session: Database) -> JSONResponse:
    """Give the case one of the doctor's labels (replacing the one it had) → 200 the case; 422 when the label is not
    one of the doctor's."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner")
    if body.label_id not in {label.id for label in await palette(session, access.case.doctor_id)}:
        raise invalid([{"field": "label_id", "message": "not one of your labels"}])
    access.case.label_id = body.label_id
    await session.commit()
    return JSONResponse(await case_answer(session, access))


@router.delete("/cases/{case_id}/label", status_code=204)
async def remove_label(case_id: str, viewer: Caller, session: Database) -> Response:
    """Take the label off the case → 204."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner")
    access.case.label_id = None
    await session.commit()
    return Response(status_code=204)


@router.put("/cases/{case_id}/comment")
async def set_comment(case_id: str, body: CommentIn, viewer: Caller, session: Database) -> JSONResponse:
    """The doctor's comment on the case (2,000 characters at most; an empty text removes it) → 200 the case."""
    access = await find_case(session, case_id, viewer, lock=True)
    access.require("owner")
    access.case.comment = body.text or None
    await session.commit()
    return JSONResponse(await case_answer(session, access))
