"""Composed views (ARCHITECTURE.md "Gateway composition"): the parts of one view asked of the services at once,
within one deadline.

A view names its parts; each is one ``GET`` to a service on behalf of the caller, all sent concurrently through the
long-lived clients of :mod:`services.gateway.downstream`, all bounded by the gateway's ``view_deadline_seconds``. A
required part that cannot be reached, or has not answered by the deadline, fails the view with 503 and
``Retry-After``; its own answers (404 included) are the view's to relay. An optional part that cannot be reached,
answers late or answers an error is left out: the view shows ``null`` in its place and names it in
``meta.degraded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import HTTPException, Request

from services.gateway.auth import Caller
from services.gateway.downstream import downstream, unavailable


@dataclass(frozen=True)
class Part:
    """One call of a view: ``GET path`` of ``service`` with ``params``, named ``name`` in ``meta.degraded``."""

    name: str
    service: str
    path: str
    required: bool = False
    params: Mapping[str, Any] | Sequence[tuple[str, Any]] = field(default_factory=dict)


@dataclass
class Composed:
    """The answers of a view's parts by name (None for an optional part left out) and the view's ``meta``."""

    answers: dict[str, httpx.Response | None]

    @property
    def degraded(self) -> list[str]:
        """The optional parts left out, in the view's order."""
        return [name for name, answer in self.answers.items() if answer is None]

    @property
    def meta(self) -> dict[str, Any]:
        """``{partial, degraded}`` (API.md "Conventions")."""
        return {"partial": bool(self.degraded), "degraded": self.degraded}

    def required(self, name: str) -> httpx.Response:
        """The answer of the required part ``name`` (never left out: :func:`compose` raised instead)."""
        answer = self.answers[name]
        assert answer is not None, f"{name} is not a required part"
        return answer

    def json(self, name: str) -> Any:
        """The JSON body of part ``name``'s answer, or None when it was left out."""
        answer = self.answers[name]
        return answer.json() if answer is not None else None


async def compose(request: Request, caller: Caller, *parts: Part) -> Composed:
    """Ask every part at once on behalf of ``caller``; returns their answers once all have answered or the deadline
    passed, or as soon as a required part answered an error (the view is then that answer: the other parts are
    dropped unasked-for). Raises 503 (``Retry-After``) when a required part could not be reached or answered too
    late."""
    deadline = request.app.state.runtime.settings.view_deadline_seconds
    asked = {asyncio.create_task(_ask(request, caller, part, deadline)): part for part in parts}
    answers: dict[str, httpx.Response | None] = {part.name: None for part in parts}
    pending = set(asked)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                part, answer = asked[task], task.result()
                answers[part.name] = answer
                if part.required and answer is None:
                    raise unavailable(part.service)
                if part.required and not answer.is_success:
                    return Composed(answers)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return Composed(answers)


async def _ask(request: Request, caller: Caller, part: Part, deadline: float) -> httpx.Response | None:
    call = downstream(request).call(part.service, "GET", part.path, caller.principal, params=part.params)
    try:
        answer = await asyncio.wait_for(call, deadline)
    except (HTTPException, TimeoutError):
        return None
    if not part.required and not answer.is_success:
        return None
    return answer
