"""Submission rules (services.orders.validation), without I/O: each rule of DOMAIN.md's order form and API.md's body."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.orders.tests.conftest import complete_aligner, complete_retainer, new_patient
from services.orders.validation import (
    Problem,
    check_order,
    incomplete_sections,
    patient_problems,
    section_of,
    today_anywhere,
)

TODAY = date(2026, 3, 15)


def aligner(**changes: Any) -> dict[str, Any]:
    """A complete aligner body as stored, with ``changes`` applied at dotted paths (None deletes)."""
    body = complete_aligner()
    for key in ("kind", "patient"):
        body.pop(key)
    return _apply(body, changes)


def _apply(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = body
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


def fields(kind: str, body: dict[str, Any], patient: dict[str, Any] | None = None) -> list[str]:
    person = new_patient() if patient is None else patient
    return [problem.field for problem in check_order(kind, body, person, TODAY)]


def test_complete_orders_have_no_problem() -> None:
    assert check_order("aligner", aligner(), new_patient(), TODAY) == []
    retainer = complete_retainer()
    assert check_order("retainer", retainer, new_patient(), TODAY) == []
    modification = {"reason": "relapse", "source": "new_scans", "instructions": "close the gap"}
    assert check_order("modification", modification, None, TODAY) == []
    with pytest.raises(ValueError):
        check_order("bracket", {}, None, TODAY)


def test_an_empty_aligner_draft_names_every_required_field() -> None:
    problems = check_order("aligner", {}, None, TODAY)
    assert [problem.field for problem in problems] == [
        "general.patient",
        "general.practice_id",
        "general.arches",
        "general.chief_concern",
        "general.duration.mode",
        "general.wear_schedule_days",
        "records.scans",
        "treatment_approach.dentition",
        "treatment_approach.ap_relationship.right",
        "treatment_approach.ap_relationship.left",
        "treatment_approach.overjet",
        "treatment_approach.overbite",
        "treatment_approach.midline",
        "treatment_approach.crossbite.anterior",
        "treatment_approach.crossbite.posterior",
        "treatment_approach.spacing",
        "treatment_approach.ipr_allowed",
        "treatment_approach.attachments_allowed",
        "terms_accepted",
    ]
    assert all(problem.message == "required" for problem in problems[1:-1])
    assert incomplete_sections("aligner", problems) == ["general", "records", "treatment_approach", "terms"]


def test_patient_rules() -> None:
    assert patient_problems(new_patient(), TODAY) == []
    assert patient_problems(None, TODAY) == [
        Problem("general.patient", "choose an existing patient (patient_id) or enter a new one (patient)")
    ]
    assert patient_problems(new_patient(date_of_birth=TODAY.isoformat()), TODAY) == []
    assert patient_problems(new_patient(date_of_birth=TODAY), TODAY) == []
    assert patient_problems(new_patient(date_of_birth="2026-03-16"), TODAY) == [
        Problem("general.patient.date_of_birth", "must not be in the future")
    ]
    assert patient_problems(new_patient(date_of_birth="1900-01-01"), TODAY) == []
    assert patient_problems(new_patient(date_of_birth="1899-12-31"), TODAY) == [
        Problem("general.patient.date_of_birth", "must not be before 1900-01-01")
    ]
    for bad in ("12/04/1990", "1990-02-30", "1990-4-1", 19900412, datetime(1990, 4, 12, tzinfo=UTC)):
        assert [p.message for p in patient_problems(new_patient(date_of_birth=bad), TODAY)] == [
            "must be a date as YYYY-MM-DD"
        ]
    problems = patient_problems({"first_name": " ", "last_name": "x" * 101, "sex": "f"}, TODAY)
    assert problems == [
        Problem("general.patient.first_name", "required"),
        Problem("general.patient.last_name", "at most 100 characters"),
        Problem("general.patient.date_of_birth", "required"),
        Problem("general.patient.sex", "must be one of female, male, other"),
    ]


def test_today_anywhere_is_the_date_at_utc_plus_14() -> None:
    assert today_anywhere(datetime(2026, 3, 15, 9, 59, tzinfo=UTC)) == date(2026, 3, 15)
    assert today_anywhere(datetime(2026, 3, 15, 10, 0, tzinfo=UTC)) == date(2026, 3, 16)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"general__practice_id": ""}, ["general.practice_id"]),
        ({"general__practice_id": 12}, ["general.practice_id"]),
        ({"general__arches": "all"}, ["general.arches"]),
        ({"general__chief_concern": "   "}, ["general.chief_concern"]),
        ({"general__chief_concern": "x" * 5001}, ["general.chief_concern"]),
        ({"general__duration": {"mode": "fast"}}, ["general.duration.mode"]),
        ({"general__duration": {"mode": "limit"}}, ["general.duration.max_steps"]),
        ({"general__duration": {"mode": "limit", "max_steps": 0}}, ["general.duration.max_steps"]),
        ({"general__duration": {"mode": "limit", "max_steps": 101}}, ["general.duration.max_steps"]),
        ({"general__duration": {"mode": "limit", "max_steps": True}}, ["general.duration.max_steps"]),
        ({"general__duration": {"mode": "limit", "max_steps": "20"}}, ["general.duration.max_steps"]),
        ({"general__duration": {"mode": "limit", "max_steps": 100}}, []),
        ({"general__duration": {"mode": "limit", "max_steps": 1}}, []),
        ({"general__duration": {"mode": "recommend", "max_steps": 500}}, []),
        ({"general__duration": "recommend"}, ["general.duration", "general.duration.mode"]),
        ({"general__wear_schedule_days": 12}, ["general.wear_schedule_days"]),
        ({"general__wear_schedule_days": True}, ["general.wear_schedule_days"]),
        ({"general__wear_schedule_days": "7"}, ["general.wear_schedule_days"]),
        ({"records__scans": "cbct"}, ["records.scans"]),
        ({"records__scanner": None}, ["records.scanner"]),
        ({"records": {"scans": "pvs_impressions"}}, []),
        ({"treatment_approach__dentition": "adult"}, ["treatment_approach.dentition"]),
        ({"treatment_approach__ap_relationship__left": "fix"}, ["treatment_approach.ap_relationship.left"]),
        ({"treatment_approach__overjet": "correct"}, ["treatment_approach.overjet"]),
        ({"treatment_approach__overbite": None}, ["treatment_approach.overbite"]),
        ({"treatment_approach__midline": "move_both"}, ["treatment_approach.midline"]),
        ({"treatment_approach__crossbite__anterior": "improve"}, ["treatment_approach.crossbite.anterior"]),
        ({"treatment_approach__crowding__upper": ["ipr", "glue"]}, ["treatment_approach.crowding.upper[1]"]),
        ({"treatment_approach__crowding__lower": ["ipr", "ipr"]}, ["treatment_approach.crowding.lower[1]"]),
        ({"treatment_approach__crowding__lower": "ipr"}, ["treatment_approach.crowding.lower"]),
        ({"treatment_approach__crowding": None}, []),
        ({"treatment_approach__spacing": "open"}, ["treatment_approach.spacing"]),
        ({"treatment_approach__ipr_allowed": "yes"}, ["treatment_approach.ipr_allowed"]),
        ({"treatment_approach__attachments_allowed": None}, ["treatment_approach.attachments_allowed"]),
        ({"treatment_approach__extractions": None, "treatment_approach__teeth_not_to_move": None}, []),
        ({"treatment_approach__extractions": [19]}, ["treatment_approach.extractions[0]"]),
        ({"treatment_approach__teeth_not_to_move": [36, 50]}, ["treatment_approach.teeth_not_to_move[1]"]),
        ({"treatment_approach__extractions": [14, 24, 14]}, ["treatment_approach.extractions[2]"]),
        ({"treatment_approach__extractions": [14, 36]}, ["treatment_approach.extractions[1]"]),
        ({"treatment_approach__extractions": [55]}, ["treatment_approach.extractions[0]"]),
        ({"treatment_approach__extractions": [55], "treatment_approach__dentition": "mixed"}, []),
        ({"treatment_approach__extractions": 14}, ["treatment_approach.extractions"]),
        ({"additional": None}, []),
        ({"additional__instructions": 5}, ["additional.instructions"]),
        (
            {"additional__collaborator_ids": ["a", "a", ""]},
            ["additional.collaborator_ids[1]", "additional.collaborator_ids[2]"],
        ),
        ({"terms_accepted": None}, ["terms_accepted"]),
        ({"terms_accepted": False}, ["terms_accepted"]),
        ({"terms_accepted": "true"}, ["terms_accepted"]),
    ],
)
def test_aligner_rules(changes: dict[str, Any], expected: list[str]) -> None:
    assert fields("aligner", aligner(**changes)) == expected


def test_a_section_that_is_not_an_object_is_named_before_its_fields() -> None:
    problems = check_order("aligner", aligner(treatment_approach="all"), new_patient(), TODAY)
    assert problems[0] == Problem("treatment_approach", "must be an object")
    assert {problem.field for problem in problems[1:]} >= {"treatment_approach.dentition", "treatment_approach.midline"}


def test_tooth_list_problems_say_what_is_wrong() -> None:
    body = aligner(treatment_approach__extractions=[14, 19, 36, 14], treatment_approach__teeth_not_to_move=[36, 50])
    problems = {problem.field: problem.message for problem in check_order("aligner", body, new_patient(), TODAY)}
    assert problems == {
        "treatment_approach.extractions[1]": "19 is not a tooth in FDI notation (ISO 3950): permanent teeth are "
        "11-18, 21-28, 31-38 and 41-48",
        "treatment_approach.extractions[3]": "tooth 14 is listed twice",
        "treatment_approach.teeth_not_to_move[1]": "50 is not a tooth in FDI notation (ISO 3950): permanent teeth are "
        "11-18, 21-28, 31-38 and 41-48",
        "treatment_approach.extractions[2]": "tooth 36 is also listed in teeth_not_to_move",
    }


def test_several_problems_are_listed_at_once_in_form_order() -> None:
    body = aligner(general__arches=None, records__scans="cbct", terms_accepted=False)
    body["treatment_approach"]["extractions"] = [19]
    problems = check_order("aligner", body, new_patient(date_of_birth="2030-01-01"), TODAY)
    assert [problem.field for problem in problems] == [
        "general.patient.date_of_birth",
        "general.arches",
        "records.scans",
        "treatment_approach.extractions[0]",
        "terms_accepted",
    ]
    assert incomplete_sections("aligner", problems) == ["general", "records", "treatment_approach", "terms"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"retainer__source": "existing_step"}, ["retainer.step"]),
        ({"retainer__source": "existing_step", "retainer__step": 12}, []),
        ({"retainer__source": "existing_step", "retainer__step": 0}, ["retainer.step"]),
        ({"retainer__source": "copy"}, ["retainer.source"]),
        ({"retainer__source": "pvs_impressions"}, []),
        ({"retainer__sets": 0}, ["retainer.sets"]),
        ({"retainer__sets": 10}, []),
        ({"retainer__sets": 11}, ["retainer.sets"]),
        ({"retainer__shipping_method": "overnight"}, ["retainer.shipping_method"]),
        ({"general__practice_id": None}, ["general.practice_id"]),
        ({"general__arches": "left"}, ["general.arches"]),
        ({"terms_accepted": False}, ["terms_accepted"]),
    ],
)
def test_retainer_rules(changes: dict[str, Any], expected: list[str]) -> None:
    body = _apply(complete_retainer(), changes)
    assert fields("retainer", body) == expected


def test_retainer_needs_a_patient_not_before_1900() -> None:
    body = complete_retainer()
    assert [p.field for p in check_order("retainer", body, None, TODAY)] == ["general.patient"]
    problems = check_order("retainer", body, new_patient(date_of_birth="1850-01-01"), TODAY)
    assert incomplete_sections("retainer", problems) == ["general"]
    assert incomplete_sections("retainer", check_order("retainer", {}, None, TODAY)) == ["general", "retainer", "terms"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ["reason", "source", "instructions"]),
        ({"reason": "r", "source": "existing_step", "instructions": "i"}, ["step"]),
        ({"reason": "r", "source": "existing_step", "step": 3, "instructions": "i"}, []),
        ({"reason": "r", "source": "pvs_impressions", "instructions": "i"}, ["source"]),
        ({"reason": " ", "source": "new_scans", "instructions": 4}, ["reason", "instructions"]),
    ],
)
def test_modification_rules(body: dict[str, Any], expected: list[str]) -> None:
    problems = check_order("modification", body, None, TODAY)
    assert [problem.field for problem in problems] == expected
    assert incomplete_sections("modification", problems) == (["modification"] if expected else [])


def test_sections_of_fields() -> None:
    assert section_of("aligner", "general.patient.date_of_birth") == "general"
    assert section_of("aligner", "treatment_approach.extractions[1]") == "treatment_approach"
    assert section_of("aligner", "terms_accepted") == "terms"
    assert section_of("retainer", "retainer.sets") == "retainer"
    assert section_of("modification", "step") == "modification"
