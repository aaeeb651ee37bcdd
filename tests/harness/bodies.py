"""Bodies a doctor sends through the gateway in the journey tests."""

from __future__ import annotations

from typing import Any

PATIENT = {"first_name": "Zoë", "last_name": "Lefèvre", "date_of_birth": "2011-05-17", "sex": "female"}

APPROACH = {
    "ap_relationship": {"right": "maintain", "left": "improve"},
    "overjet": "maintain",
    "overbite": "improve",
    "midline": "maintain",
    "crossbite": {"anterior": "maintain", "posterior": "correct"},
    "crowding": {"upper": ["expand"]},
    "spacing": "close",
    "extractions": [14, 24],
    "teeth_not_to_move": [36],
}
"""The treatment approach a doctor types; dentition, IPR and attachments come from the doctor's preferences."""

PREFERRED_APPROACH = {"dentition": "permanent", "ipr_allowed": True, "attachments_allowed": True}
"""What the gateway fills into a new aligner order of a doctor who kept the default clinical preferences."""


def complete_aligner(**overrides: Any) -> dict[str, Any]:
    """An aligner order ready to submit once the gateway has filled in the doctor's defaults (practice, wear
    schedule, duration, dentition, IPR, attachments): a new patient typed in, PVS impressions."""
    return {
        "kind": "aligner",
        "patient": {**PATIENT, "first_name": "Noé"},
        "general": {"arches": "both", "chief_concern": "lower crowding"},
        "records": {"scans": "pvs_impressions"},
        "treatment_approach": dict(APPROACH),
        "terms_accepted": True,
        **overrides,
    }


def aligner(**overrides: Any) -> dict[str, Any]:
    """An aligner order from digital scans for :data:`PATIENT`, ready to submit once the gateway fills in the
    doctor's defaults (the scans themselves still to upload)."""
    records = {"scans": "digital", "scanner": "iTero Element"}
    return complete_aligner(patient=dict(PATIENT), records=records, **overrides)
