"""What a benchmark hands back, and the Markdown report (with PNG charts) made of all of them.

A benchmark returns a :class:`Section`: a few lines of text, its tables, its goals (each a measured ratio or time
against its target, met or not) and the charts it drew. :func:`write_report` writes every section to one Markdown
file beside the charts.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Table:
    """A Markdown table: ``columns`` are the header, each row as many cells (numbers are formatted by
    :func:`cell`)."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)

    def markdown(self) -> str:
        """The table as Markdown, its title in bold above it."""
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("| " + " | ".join("---" for _ in self.columns) + " |")
        lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Goal:
    """One goal of the issue: ``measured`` against ``target`` (same unit, e.g. a ratio or milliseconds), met when
    ``measured >= target`` (``at_least``) or ``measured < target`` (otherwise)."""

    name: str
    measured: float
    target: float
    at_least: bool = True

    @property
    def met(self) -> bool:
        """Whether the measurement meets the target."""
        return self.measured >= self.target if self.at_least else self.measured < self.target

    def cells(self) -> list[object]:
        """``[name, measured, target, met]`` as a report's row shows them."""
        sign = "≥" if self.at_least else "<"
        return [self.name, self.measured, f"{sign} {cell(self.target)}", "yes" if self.met else "NO"]


@dataclass
class Section:
    """One benchmark's part of the report: ``notes`` are Markdown paragraphs (what was measured, what holds a goal
    back), ``charts`` PNG files in the report's folder."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def markdown(self) -> str:
        """The section as Markdown: title, goals table, notes, tables, charts."""
        parts = [f"## {self.title}", f"_{self.seconds:.0f} s_"]
        if self.goals:
            goals = Table("Goals", ["goal", "measured", "target", "met"])
            goals.rows += [goal.cells() for goal in self.goals]
            parts.append(goals.markdown())
        parts += self.notes
        parts += [table.markdown() for table in self.tables]
        parts += [f"![{chart.stem}]({chart.name})" for chart in self.charts]
        return "\n\n".join(parts)


def cell(value: object) -> str:
    """A table cell: floats with 3 significant digits (thousands separated), None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def line_chart(
    path: Path, title: str, x_label: str, y_label: str, series: dict[str, tuple[Sequence[float], Sequence[float]]]
) -> Path:
    """Draw each series (its name → ``(xs, ys)``) as a line with markers into the PNG ``path``; returns ``path``."""
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    for name, (xs, ys) in series.items():
        axes.plot(xs, ys, marker="o", label=name)
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(path: Path, sections: Sequence[Section], scale: float, seconds: float) -> None:
    """Write the Markdown report of ``sections`` to ``path`` with a summary of every goal at the top."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "# Benchmarks",
        f"{when}; scale {scale:g}; {seconds:.0f} s in all; Python {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} cores. Ratios compare the system with the raw ceiling of its own "
        "parts "
        "measured in the same run; absolute numbers only hold for this machine.",
    ]
    summary = Table("Every goal", ["benchmark", "goal", "measured", "target", "met"])
    for section in sections:
        summary.rows += [[section.title, *goal.cells()] for goal in section.goals]
    body = [*header, summary.markdown(), *(section.markdown() for section in sections)]
    path.write_text("\n\n".join(body) + "\n")
