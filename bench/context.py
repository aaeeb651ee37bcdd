"""What every benchmark is given: the run's scale and the folder its report and charts go to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Context:
    """``scale`` (0 < scale ≤ 1) shrinks every duration and data set of a full run, for short smoke runs; ``out`` is
    the folder of the report and its charts."""

    scale: float
    out: Path

    def seconds(self, full: float, least: float = 2.0) -> float:
        """A load run's duration: ``full`` seconds at scale 1, never under ``least``."""
        return max(least, full * self.scale)

    def count(self, full: int, least: int = 1) -> int:
        """A data set's size: ``full`` at scale 1, never under ``least``."""
        return max(least, round(full * self.scale))
