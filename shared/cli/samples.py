"""The sample clinical records the demo submits and the tests use: ``../shared/samples`` beside the repository
(read-only), found from the repository upwards, or the folder ``PORTAL_SAMPLES_DIR`` names."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CASE_01 = {
    "photo.face_frontal": "face_frontal.jpg",
    "photo.face_smiling": "face_smiling.jpg",
    "photo.face_profile": "face_profile.jpg",
    "photo.intraoral_frontal": "frontal.png",
    "photo.right_buccal": "right_buccal.png",
    "photo.left_buccal": "left_buccal.png",
    "photo.upper_occlusal": "upper_occlusal.png",
    "photo.lower_occlusal": "lower_occlusal.png",
    "scan.upper": "upper_jaw.stl",
    "scan.lower": "lower_jaw.stl",
}
"""The ten records of the sample case-01 (one aligner submission, ``../shared/samples/README.md``): file name by
record slot (DOMAIN.md "Records checklist")."""


def samples_dir() -> Path:
    """The samples folder (holding ``case-01``); raises ``FileNotFoundError`` saying where it was looked for."""
    configured = os.environ.get("PORTAL_SAMPLES_DIR")
    candidates = [Path(configured)] if configured else [p / "shared" / "samples" for p in ROOT.parents]
    for candidate in candidates:
        if (candidate / "case-01").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"no samples folder with case-01 (looked in {looked}); set PORTAL_SAMPLES_DIR to the folder holding case-01"
    )
