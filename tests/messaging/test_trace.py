"""One business action is one trace: HTTP request → outbox row → broker → consumer → the consumer's HTTP call."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db import create_engine
from shared.messaging.outbox import OutboxMessage
from tests.harness.fixtures import doctor_headers
from tests.harness.servers import serve
from tests.messaging.helpers import eventually, probe_settings
from tests.probe import create_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class CallbackServer:
    """A plain HTTP server that records the headers of every request it gets."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                received.append({key.lower(): value for key, value in self.headers.items()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"


@pytest.fixture
def callback_server() -> Iterator[CallbackServer]:
    server = CallbackServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()


async def test_trace_and_correlation_follow_the_event_to_the_consumers_http_call(
    tmp_path: Path, vhost_url: str, callback_server: CallbackServer
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'orders.sqlite3'}"
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    async with serve(create_app(settings)) as base:
        headers = {
            **doctor_headers(settings),
            "traceparent": INCOMING_TRACEPARENT,
            "X-Correlation-ID": "order-42",
            "Content-Type": "application/json",
        }
        body = json.dumps({"subject": "s-trace", "versions": [1], "callback_url": callback_server.url}).encode()
        # a plain client: the process's instrumented httpx would replace the caller's traceparent with its own
        request = urllib.request.Request(f"{base}/v1/probe", data=body, headers=headers, method="POST")
        response = await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
        assert response.status == 201
        assert response.headers["x-correlation-id"] == "order-42"
        assert response.headers["traceparent"].split("-")[1] == TRACE_ID

        async def called_back() -> bool:
            return bool(callback_server.received)

        await eventually(called_back)
    [call] = callback_server.received
    assert call["traceparent"].split("-")[1] == TRACE_ID
    assert call["traceparent"] != INCOMING_TRACEPARENT  # a child span of the consumer, not the caller's span
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(sa.select(OutboxMessage.envelope))
    finally:
        await engine.dispose()
    envelope = json.loads(stored)
    assert envelope["traceparent"].split("-")[1] == TRACE_ID
    assert envelope["correlation_id"] == "order-42"
