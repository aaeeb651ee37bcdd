"""The catalogue: which (type, version) pairs exist and the Pydantic model of each payload.

Publishing validates a payload against its model; consuming parses it, and a type/version missing from the
catalogue is a poison message (dead-lettered at once). Services add their events by decorating the payload model
with :func:`event`; this module is the source of truth for the names once they are registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from shared.events.envelope import TYPE_PATTERN

P = TypeVar("P", bound=type[BaseModel])

_CATALOGUE: dict[tuple[str, int], type[BaseModel]] = {}


class UnknownEventError(LookupError):
    """Raised for an event type and version the catalogue does not hold."""


def event(event_type: str, version: int = 1) -> Callable[[P], P]:
    """Register the decorated Pydantic model as the payload of ``event_type`` at ``version``.

    Raises ``ValueError`` for a malformed type name or when another model already holds that (type, version).
    """
    if not TYPE_PATTERN.match(event_type) or version < 1:
        raise ValueError(f"bad event name {event_type!r} v{version}")

    def register(model: P) -> P:
        existing = _CATALOGUE.get((event_type, version))
        if existing is not None and existing is not model:
            raise ValueError(f"{event_type} v{version} is already registered to {existing.__qualname__}")
        _CATALOGUE[(event_type, version)] = model
        model.event_type = event_type  # type: ignore[attr-defined]
        model.event_version = version  # type: ignore[attr-defined]
        return model

    return register


def payload_model(event_type: str, version: int) -> type[BaseModel]:
    """The payload model of (type, version); raises :class:`UnknownEventError` when none is registered."""
    try:
        return _CATALOGUE[(event_type, version)]
    except KeyError:
        raise UnknownEventError(f"{event_type} v{version} is not in the event catalogue") from None


def registered() -> list[tuple[str, int]]:
    """Every registered (type, version), sorted."""
    return sorted(_CATALOGUE)
