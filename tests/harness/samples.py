"""Where the real clinical records for tests are (``shared.cli.samples``): found once, when the tests start."""

from __future__ import annotations

from shared.cli.samples import CASE_01, samples_dir

CASE_01_DIR = samples_dir() / "case-01"
"""The sample case-01: ten records of one aligner submission (``../shared/samples/README.md``)."""

__all__ = ["CASE_01", "CASE_01_DIR"]
