"""Failpoints: named places where a process can be made to die on purpose, for fault tests.

``PORTAL_FAILPOINTS=relay.after_confirm`` (comma-separated names) makes :func:`failpoint` end the process at once
with exit code 137, as ``kill -9`` would, when execution reaches that name. Ignored when ``PORTAL_ENV=production``.
"""

from __future__ import annotations

import os

FAILPOINT_EXIT_CODE = 137

_ARMED = frozenset(
    name.strip()
    for name in os.environ.get("PORTAL_FAILPOINTS", "").split(",")
    if name.strip() and os.environ.get("PORTAL_ENV") != "production"
)


def failpoint(name: str) -> None:
    """End the process immediately (no clean-up, exit code 137) when ``name`` is armed."""
    if name in _ARMED:
        os._exit(FAILPOINT_EXIT_CODE)
