"""Draft bodies and their merge, search keys, record slots and order-number format, without I/O."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError

from services.orders.drafts import deep_merge, merge_draft, read_changes, read_kind
from services.orders.numbering import format_order_number
from services.orders.records import required_slots
from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS
from shared.search import like_pattern, normalise, search_key, search_terms


def test_deep_merge_merges_objects_replaces_the_rest_and_removes_nulls() -> None:
    base = {
        "general": {"arches": "both", "duration": {"mode": "limit", "max_steps": 20}, "chief_concern": "x"},
        "treatment_approach": {"extractions": [14, 24], "crowding": {"upper": ["ipr"]}},
        "terms_accepted": True,
    }
    patch = {
        "general": {"duration": {"max_steps": 12}, "chief_concern": None},
        "treatment_approach": {"extractions": [34], "crowding": {"lower": ["expand"]}},
        "terms_accepted": None,
        "records": {"scans": "digital", "scanner": None},
    }
    merged = deep_merge(base, patch)
    assert merged == {
        "general": {"arches": "both", "duration": {"mode": "limit", "max_steps": 12}},
        "treatment_approach": {"extractions": [34], "crowding": {"upper": ["ipr"], "lower": ["expand"]}},
        "records": {"scans": "digital"},
    }
    assert base["general"]["duration"]["max_steps"] == 20 and base["terms_accepted"] is True  # base untouched
    assert deep_merge({"general": {"arches": "both"}}, {"general": "x"}) == {"general": "x"}
    assert deep_merge({"general": "x"}, {"general": {"arches": "both"}}) == {"general": {"arches": "both"}}
    assert deep_merge({"a": 1}, {}) == {"a": 1}
    merged["treatment_approach"]["extractions"].append(1)
    assert patch["treatment_approach"]["extractions"] == [34]  # no list shared with the patch


def locations(excinfo: pytest.ExceptionInfo[RequestValidationError]) -> list[tuple[object, ...]]:
    return [tuple(error["loc"]) for error in excinfo.value.errors()]


def test_read_changes_keeps_known_fields_and_explicit_nulls() -> None:
    changes = read_changes("aligner", {"kind": "aligner", "general": {"arches": None, "duration": {"mode": 3}}})
    assert changes == {"general": {"arches": None, "duration": {"mode": 3}}}
    assert read_changes("modification", {"reason": "r", "step": None}) == {"reason": "r", "step": None}
    with pytest.raises(RequestValidationError) as excinfo:
        read_changes(
            "retainer",
            {
                "kind": "aligner",
                "status": "submitted",
                "records": {},
                "retainer": {"count": 2},
                "patient": {"name": "x"},
                "patient_id": "not-a-uuid",
            },
        )
    assert sorted(locations(excinfo)) == sorted(
        [
            ("body", "status"),
            ("body", "kind"),
            ("body", "patient_id"),
            ("body", "patient", "name"),
            ("body", "records"),
            ("body", "retainer", "count"),
        ]
    )
    with pytest.raises(RequestValidationError) as excinfo:
        read_changes("aligner", {"patient_id": "7d9b6c1e-3f57-4a0e-9d7e-1c2b3a4d5e6f", "patient": {}})
    assert locations(excinfo) == [("body", "patient")]
    with pytest.raises(RequestValidationError):
        read_changes("aligner", {"general": []})


def test_read_kind() -> None:
    assert read_kind({"kind": "retainer"}) == "retainer"
    for payload in ({}, {"kind": "modification"}, {"kind": ["aligner"]}):
        with pytest.raises(RequestValidationError):
            read_kind(payload)


def test_merge_draft_patient_link_or_new_patient() -> None:
    body = {"patient": {"first_name": "Noé"}, "general": {"arches": "both"}}
    merged, patient_id = merge_draft(body, None, {"patient": {"last_name": "Roux"}})
    assert merged["patient"] == {"first_name": "Noé", "last_name": "Roux"} and patient_id is None
    linked, patient_id = merge_draft(body, None, {"patient_id": "p1"})
    assert patient_id == "p1" and "patient" not in linked and linked["general"] == {"arches": "both"}
    with pytest.raises(RequestValidationError):
        merge_draft(linked, "p1", {"patient": {"first_name": "X"}})
    unlinked, patient_id = merge_draft(linked, "p1", {"patient_id": None, "patient": {"first_name": "X"}})
    assert patient_id is None and unlinked["patient"] == {"first_name": "X"}
    kept, patient_id = merge_draft(linked, "p1", {"general": {"arches": "upper"}})
    assert patient_id == "p1" and kept == {"general": {"arches": "upper"}}
    cleared, _ = merge_draft(body, None, {"patient": None})
    assert "patient" not in cleared


def test_search_keys_ignore_accents_case_and_spacing() -> None:
    assert normalise("  Zoë   LEFÈVRE ") == "zoe lefevre"
    assert normalise("Straße") == "strasse"
    assert normalise("Ａｎａ") == "ana"  # compatibility forms (NFKD)
    assert search_key("Zoë", "Lefèvre") == "lefevre zoe"
    assert search_terms(" Zoë  Lefevre") == ["zoe", "lefevre"]
    assert search_terms("   ") == []
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


def test_required_slots() -> None:
    assert required_slots("aligner", {"records": {"scans": "digital"}}) == [*PHOTO_SLOTS, *SCAN_SLOTS]
    assert required_slots("aligner", {"records": {"scans": "pvs_impressions"}}) == list(PHOTO_SLOTS)
    assert len(PHOTO_SLOTS) == 8 and SCAN_SLOTS == ("scan.upper", "scan.lower")
    assert required_slots("retainer", {"retainer": {"source": "new_scans"}}) == list(SCAN_SLOTS)
    assert required_slots("retainer", {"retainer": {"source": "existing_step", "step": 3}}) == []
    assert required_slots("retainer", {"retainer": {"source": "pvs_impressions"}}) == []
    assert required_slots("modification", {"source": "new_scans"}) == list(SCAN_SLOTS)
    assert required_slots("modification", {"source": "existing_step"}) == []


def test_order_number_format() -> None:
    assert format_order_number(2026, 123) == "DP-2026-000123"
    assert format_order_number(2027, 1) == "DP-2027-000001"
    assert format_order_number(2026, 1234567) == "DP-2026-1234567"
