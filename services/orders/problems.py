"""Errors the orders service answers as RFC 9457 problem details with extra members.

Raise :class:`ProblemError` anywhere below a route; the routes' class (``services.orders.api.common.ProblemRoute``)
turns it into the response. Plain ``HTTPException`` still works for problems without extra members.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from shared.http import problem


class ProblemError(Exception):
    """A problem response: ``status``, ``title``, optional ``detail`` and extra members (``errors``, ``status`` of
    the order, ...)."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def response(self) -> JSONResponse:
        """The problem details response."""
        return problem(self.status, self.title, self.detail, **self.extra)


def not_found(what: str) -> ProblemError:
    """404 for an object that does not exist or is not the caller's (never tell the two apart)."""
    return ProblemError(404, "Not Found", f"no {what} with this id")


def invalid(errors: list[dict[str, str]], title: str = "Invalid input", **extra: Any) -> ProblemError:
    """422 listing every ``{field, message}`` at once."""
    return ProblemError(422, title, f"{len(errors)} field(s) are missing or invalid", errors=errors, **extra)
