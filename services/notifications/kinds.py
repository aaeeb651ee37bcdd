"""The kinds of notification made from the life of a case: how much each asks of the doctor, and while which case
status it stays true.

A notice that asks the doctor to act while the case is in one status (``holds_while``) is retired, i.e. expires at
once, when the case leaves that status: the approval request goes when the setup is approved or rejected, the records
request when the records arrive. Severity follows :data:`~shared.events.notifications.Severity`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A notification kind: its ``severity`` and the case status it ``holds_while`` (None: true for good)."""

    severity: str
    holds_while: str | None = None


KINDS: dict[str, Kind] = {
    "setup_published": Kind("warning", "setup_approval_pending"),
    "records_missing": Kind("warning", "awaiting_records"),
    "submission_problem": Kind("critical", "submission_problem"),
    "phase_shipped": Kind("info"),
    "last_phase_delivered": Kind("info"),
    "case_on_hold": Kind("warning", "on_hold"),
    "case_resumed": Kind("info"),
    "case_expiring_soon": Kind("warning"),
    "case_expired": Kind("info"),
    "setup_ready_for_approval": Kind("warning", "setup_approval_pending"),
}
"""One entry for every kind of :data:`~shared.events.notifications.NOTIFICATION_KINDS`."""

BROADCAST = "broadcast"
"""The kind of a staff broadcast."""


def retired_by_leaving(status: str) -> list[str]:
    """The kinds that stop being true when a case leaves ``status``."""
    return [name for name, kind in KINDS.items() if kind.holds_while == status]
