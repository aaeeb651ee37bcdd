"""OpenTelemetry tracing for a process, and the trace context carried by events.

Exporters come only from the standard variables: ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``;
comma-separated) or, when it is unset, ``otlp`` as soon as ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set. Nothing is exported by default; spans still get ids, so trace
context flows through HTTP and events and lands in the logs. Sampling follows ``OTEL_TRACES_SAMPLER`` (SDK default:
parent-based, always on). Spans are exported in batches.
"""

from __future__ import annotations

import os
from contextvars import ContextVar

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

UNTRACED_ROUTES = "livez,readyz,metrics"
"""Operations routes that never produce spans (TRAPS.md: spans on every probe cost throughput)."""

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
"""The correlation id of the business action being handled (from ``X-Correlation-ID`` or the event envelope)."""

_propagator = TraceContextTextMapPropagator()
_configured_pid: int | None = None


def setup_tracing(service: str) -> None:
    """Install this process's tracer provider and instrument httpx; once per process, again after a fork."""
    global _configured_pid
    if _configured_pid == os.getpid():
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"portal-{service}"}))
    for name in _exporter_names():
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    _configured_pid = os.getpid()


def _exporter_names() -> list[str]:
    configured = os.environ.get("OTEL_TRACES_EXPORTER")
    if configured:
        return [name.strip() for name in configured.split(",") if name.strip() not in ("", "none")]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return ["otlp"]
    return []


def instrument_app(app: FastAPI) -> None:
    """Trace every request of ``app`` with one server span (no ``receive``/``send`` spans, none for ops routes)."""
    FastAPIInstrumentor.instrument_app(app, excluded_urls=UNTRACED_ROUTES, exclude_spans=["receive", "send"])


def tracer(name: str) -> trace.Tracer:
    """A tracer from the process's provider."""
    return trace.get_tracer(name)


def current_trace_context() -> tuple[str | None, str | None]:
    """The W3C ``(traceparent, tracestate)`` of the current span, or ``(None, None)`` outside any span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")


def context_from(traceparent: str | None, tracestate: str | None) -> otel_context.Context:
    """The OpenTelemetry context described by W3C ``traceparent``/``tracestate`` values (empty when absent)."""
    carrier = {key: value for key, value in (("traceparent", traceparent), ("tracestate", tracestate)) if value}
    return _propagator.extract(carrier)
