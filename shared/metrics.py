"""Prometheus metrics every service exposes at ``/metrics`` (ARCHITECTURE.md rule 8).

All metrics carry a ``service`` label so one process (or one scrape target per service) reads unambiguously.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "HTTP request latency in seconds, by route template and status code.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_PUBLISHED = Counter("portal_events_published_total", "Events confirmed by the broker.", ["service", "type"])
PUBLISH_FAILURES = Counter(
    "portal_events_publish_failures_total", "Publish attempts that failed (nack, return, timeout).", ["service"]
)
EVENTS_CONSUMED = Counter(
    "portal_events_consumed_total",
    "Events taken from a queue, by outcome (applied, duplicate, stale).",
    ["service", "queue", "type", "outcome"],
)
EVENTS_RETRIED = Counter("portal_events_retried_total", "Events sent to a delayed retry.", ["service", "queue"])
EVENTS_DEAD_LETTERED = Counter(
    "portal_events_dead_lettered_total",
    "Events sent to a dead-letter queue, by reason.",
    ["service", "queue", "reason"],
)
OUTBOX_BACKLOG = Gauge("portal_outbox_backlog", "Outbox rows not yet published (parked ones excluded).", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "portal_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row, in seconds.", ["service"]
)
OUTBOX_PARKED = Gauge("portal_outbox_parked", "Outbox rows parked after too many failed attempts.", ["service"])
CONSUMERS_ATTACHED = Gauge(
    "portal_consumers_attached", "1 while the queue's consumer is attached to the broker, else 0.", ["service", "queue"]
)
