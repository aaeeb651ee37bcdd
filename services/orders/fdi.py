"""Tooth numbers in FDI notation (ISO 3950), the notation of every tooth list of an order.

A tooth is two digits: the quadrant, then the tooth's place counted from the midline. Permanent teeth are in
quadrants 1-4 (upper right, upper left, lower left, lower right), places 1-8: 11-18, 21-28, 31-38, 41-48. Primary
(deciduous) teeth are in quadrants 5-8, places 1-5: 51-55, 61-65, 71-75, 81-85; they exist in an order only when its
dentition is ``mixed``. Every other number (19, 50, 9, 56, ...) is no tooth at all.
"""

from __future__ import annotations

from typing import Literal

Dentition = Literal["permanent", "mixed"]

PERMANENT_TEETH: frozenset[int] = frozenset(10 * quadrant + place for quadrant in range(1, 5) for place in range(1, 9))
"""The 32 permanent teeth: 11-18, 21-28, 31-38, 41-48."""

PRIMARY_TEETH: frozenset[int] = frozenset(10 * quadrant + place for quadrant in range(5, 9) for place in range(1, 6))
"""The 20 primary teeth: 51-55, 61-65, 71-75, 81-85."""


def teeth_of(dentition: str | None) -> frozenset[int]:
    """The tooth numbers an order of ``dentition`` may name: permanent teeth, plus primary ones when ``mixed``.

    Any other value (absent, unknown) gives the permanent teeth only.
    """
    return PERMANENT_TEETH | PRIMARY_TEETH if dentition == "mixed" else PERMANENT_TEETH


def tooth_problem(value: object, dentition: str | None) -> str | None:
    """Why ``value`` is not a tooth of an order of ``dentition``, or None when it is one.

    ``value`` must be an ``int`` (a bool is not a number here). A primary tooth in a permanent dentition gets its own
    message, since the number exists but cannot be used without ``dentition: "mixed"``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a tooth number in FDI notation (ISO 3950), e.g. 14"
    if value in teeth_of(dentition):
        return None
    if value in PRIMARY_TEETH:
        return f"{value} is a primary tooth: primary teeth (51-55, 61-65, 71-75, 81-85) need dentition 'mixed'"
    return f"{value} is not a tooth in FDI notation (ISO 3950): permanent teeth are 11-18, 21-28, 31-38 and 41-48"
