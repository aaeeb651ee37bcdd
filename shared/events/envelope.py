"""The JSON envelope every event travels in (ARCHITECTURE.md rule 5)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

TYPE_PATTERN = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
"""``<aggregate>.<past_tense>``, lower case with underscores, e.g. ``order.draft_created``."""


class Envelope(BaseModel):
    """One event: identity, routing, ordering and tracing fields around a payload.

    ``id`` is also the AMQP ``message_id``; the routing key is ``<type>.v<version>``. ``subject`` is the id of the
    aggregate the event is about and ``aggregate_version`` its version after the change, so consumers can ignore
    stale events. ``traceparent``/``tracestate`` carry the W3C trace context of the action that caused it.
    Raises ``pydantic.ValidationError`` when a field is missing or malformed.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = Field(ge=1)
    source: str
    occurred_at: AwareDatetime
    subject: str = Field(min_length=1)
    aggregate_version: int = Field(ge=0)
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type_shape(cls, value: str) -> str:
        if not TYPE_PATTERN.match(value):
            raise ValueError("type must look like '<aggregate>.<past_tense>' (lower case, underscores)")
        return value

    @property
    def routing_key(self) -> str:
        """The topic routing key ``<type>.v<version>``."""
        return routing_key(self.type, self.version)


def routing_key(event_type: str, version: int) -> str:
    """The routing key of an event type at a version: ``order.submitted`` v1 → ``order.submitted.v1``."""
    return f"{event_type}.v{version}"
