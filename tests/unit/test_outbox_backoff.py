"""The outbox relay's per-row backoff (no I/O)."""

from shared.messaging.outbox import backoff_seconds
from shared.messaging.topology import dlq_name, retry_queue_name


def test_backoff_doubles_from_half_a_second_and_stops_at_a_minute() -> None:
    assert [backoff_seconds(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert backoff_seconds(30) == 60.0


def test_dead_letter_and_retry_queue_names() -> None:
    assert dlq_name("cases.order-events") == "cases.order-events.dlq"
    assert retry_queue_name("cases.order-events", 1.5) == "cases.order-events.retry.1500ms"
