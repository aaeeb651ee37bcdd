"""The envelope and the catalogue (no I/O)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import BaseModel, ValidationError

from shared.db import utcnow
from shared.events.catalogue import UnknownEventError, event, payload_model
from shared.events.envelope import Envelope, routing_key


def envelope(**overrides: object) -> Envelope:
    values: dict[str, object] = {
        "type": "order.submitted",
        "version": 2,
        "source": "orders",
        "occurred_at": utcnow(),
        "subject": "c0ffee",
        "aggregate_version": 3,
    }
    return Envelope(**(values | overrides))  # type: ignore[arg-type]


def test_routing_key_is_type_and_version() -> None:
    assert envelope().routing_key == "order.submitted.v2"
    assert routing_key("case.status_changed", 1) == "case.status_changed.v1"


def test_envelope_round_trips_through_json() -> None:
    original = envelope(payload={"kind": "aligner"}, correlation_id="c-1")
    assert Envelope.model_validate_json(original.model_dump_json()) == original


@pytest.mark.parametrize(
    "overrides",
    [
        {"type": "OrderSubmitted"},
        {"type": "order"},
        {"version": 0},
        {"subject": ""},
        {"aggregate_version": -1},
        {"occurred_at": datetime(2026, 1, 1, 12, 0)},  # naive: no instant
    ],
)
def test_malformed_envelopes_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        envelope(**overrides)


def test_catalogue_registers_once_and_refuses_unknown_types() -> None:
    @event("sample.recorded", 7)
    class SampleRecorded(BaseModel):
        n: int

    assert payload_model("sample.recorded", 7) is SampleRecorded
    event("sample.recorded", 7)(SampleRecorded)  # the same model again is harmless

    class Other(BaseModel):
        n: int

    with pytest.raises(ValueError, match="already registered"):
        event("sample.recorded", 7)(Other)
    with pytest.raises(UnknownEventError):
        payload_model("sample.recorded", 8)
    with pytest.raises(ValueError):
        event("Bad Name")
