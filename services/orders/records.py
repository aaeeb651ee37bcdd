"""Which record slots a submitted order needs filled (DOMAIN.md "Records checklist"), for ``order.submitted``.

An aligner order needs the eight photos, and the upper and lower scans unless the arches come as PVS impressions
(both scans even when one arch is treated, as the checklist says). A retainer or modification made from new scans
needs the two scans; one made from an existing step or from PVS impressions needs no file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS


def required_slots(kind: str, body: Mapping[str, Any]) -> list[str]:
    """The record slots the documents service must see filled for a submitted order of ``kind`` with ``body``
    (the stored draft: ``records.scans`` for aligners, ``retainer.source`` for retainers, ``source`` for
    modifications)."""
    if kind == "aligner":
        scans = (body.get("records") or {}).get("scans")
        return [*PHOTO_SLOTS, *(SCAN_SLOTS if scans == "digital" else ())]
    if kind == "retainer":
        source = (body.get("retainer") or {}).get("source")
    else:
        source = body.get("source")
    return list(SCAN_SLOTS) if source == "new_scans" else []
