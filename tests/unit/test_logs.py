"""Logs are JSON lines carrying the service, trace and correlation ids (no I/O: written to a buffer)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from shared.logs import configure_logging
from shared.telemetry import correlation_id


def test_log_lines_are_json_with_trace_and_correlation_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("cases", "INFO")
        tracer = TracerProvider().get_tracer("test")
        token = correlation_id.set("corr-7")
        try:
            with tracer.start_as_current_span("work") as span:
                structlog.get_logger("portal.test").info("case opened", case_id="c-1")
                logging.getLogger("uvicorn.error").warning("from the standard library")
        finally:
            correlation_id.reset(token)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    first, second = (json.loads(line) for line in buffer.getvalue().splitlines())
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert first["event"] == "case opened" and first["case_id"] == "c-1" and first["level"] == "info"
    assert (first["service"], first["trace_id"], first["correlation_id"]) == ("cases", trace_id, "corr-7")
    assert second["event"] == "from the standard library" and second["trace_id"] == trace_id
