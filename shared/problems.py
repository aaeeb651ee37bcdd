"""Errors a service answers as RFC 9457 problem details with extra members, and the route class that answers them.

Raise :class:`ProblemError` anywhere below a route whose router uses :class:`ProblemRoute`; it becomes the response.
Plain ``HTTPException`` still works for problems without extra members.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from shared.http import CASE_ID_HEADER, CASE_OWNER_HEADER, http_problem, problem


class ProblemError(Exception):
    """A problem response: ``status``, ``title``, optional ``detail``, extra members (``errors``, ``case_status``,
    ``allowed_actions``, ...) and response ``headers``."""

    def __init__(
        self, status: int, title: str, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def response(self) -> JSONResponse:
        """The problem details response."""
        return problem(self.status, self.title, self.detail, headers=self.headers, **self.extra)


def not_found(what: str, *, headers: dict[str, str] | None = None) -> ProblemError:
    """404 for an object that does not exist or is not the caller's (never tell the two apart to the caller)."""
    return ProblemError(404, "Not Found", f"no {what} with this id", headers=headers)


def content_too_large(limit: int) -> ProblemError:
    """413 for an uploaded file over ``limit`` bytes (RFC 9110 §15.5.14)."""
    return ProblemError(413, "Content Too Large", f"a file may hold {limit:,} bytes at most")


def invalid(errors: list[dict[str, str]], title: str = "Invalid input", **extra: Any) -> ProblemError:
    """422 listing every ``{field, message}`` at once."""
    return ProblemError(422, title, f"{len(errors)} field(s) are missing or invalid", errors=errors, **extra)


class ProblemRoute(APIRoute):
    """A route that answers a :class:`ProblemError` raised by it or its dependencies as problem details."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ProblemError as exc:
                return exc.response()

        return handle


class CaseRoute(ProblemRoute):
    """A :class:`ProblemRoute` that also answers ``HTTPException`` as problem details, and whose answer about an
    existing case carries :data:`~shared.http.CASE_ID_HEADER` and :data:`~shared.http.CASE_OWNER_HEADER` (for the
    gateway's audit log) when the route set ``request.state.viewer`` with ``case_id`` and ``case_owner``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as exc:  # a refusal (403) about an existing case names its owner too
                response = http_problem(exc)
            seen = getattr(request.state, "viewer", None)
            if seen is not None and seen.case_id is not None:
                response.headers[CASE_ID_HEADER] = seen.case_id
                response.headers[CASE_OWNER_HEADER] = seen.case_owner
            return response

        return handle
