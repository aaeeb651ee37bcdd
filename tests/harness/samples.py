"""Where the real clinical records for tests are: ``../shared/samples`` beside the repository (read-only), found from
the repository upwards, or the folder ``PORTAL_SAMPLES_DIR`` names."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def samples_dir() -> Path:
    """The samples folder (holding ``case-01``); raises ``FileNotFoundError`` saying where it was looked for."""
    configured = os.environ.get("PORTAL_SAMPLES_DIR")
    candidates = [Path(configured)] if configured else [p / "shared" / "samples" for p in ROOT.parents]
    for candidate in candidates:
        if (candidate / "case-01").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no samples folder with case-01 (looked in {looked}); set PORTAL_SAMPLES_DIR")


CASE_01_DIR = samples_dir() / "case-01"
"""The sample case-01: ten records of one aligner submission (``../shared/samples/README.md``)."""
