"""The gateway's links to the internal services (ARCHITECTURE.md "Gateway composition", rule 10).

Two long-lived ``httpx.AsyncClient`` per replica of each service (``PORTAL_<SERVICE>_URL`` may list several), with
explicit timeouts and pool limits, opened at start-up and closed at shutdown. Requests take the replicas in turn (round
robin); one that could not be sent to a replica (it refused the connection) goes to the next. Calls whose bodies are
JSON (:meth:`Downstream.call`, every view) go through aiohttp's connection pool (``httpx-aiohttp``), as TRAPS.md
advises: httpx's own pool is several times slower under concurrency (encode/httpx#3215), and a connection reset at the
wrong moment made it raise an ``AttributeError`` instead of a transport error. Streams of files
(:meth:`Downstream.open`) keep httpx's own pool, which reads a service's early answer (413 to an upload past the limit)
while the body is still being sent, where aiohttp fails the request. Both are traced by OpenTelemetry. Every call
carries an internal token for the caller (``Authorization: Bearer``) and the request's correlation id; nothing of the
client's own request (its credentials, cookies or other headers) is forwarded. A service that cannot be reached answers
503 with ``Retry-After``; a change (POST, PATCH) sent to a service that then did not answer in time answers 504 without
it, since the service may have made the change (RFC 9110 sections 15.6.4 and 15.6.5); the services' own answers (404
included) pass through unchanged.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from httpx_aiohttp import AiohttpTransport
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport
from starlette.responses import Response, StreamingResponse

from services.gateway.auth import Caller
from shared.http import FINGERPRINT_HEADER, request_fingerprint
from shared.idempotency import HEADER, KEY_RULE, valid_key
from shared.internal_token import MintedTokens, Principal
from shared.service import Runtime
from shared.settings import PortalSettings
from shared.telemetry import correlation_id

INTERNAL_SERVICES: tuple[str, ...] = ("orders", "cases", "documents", "notifications")
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)
RETRY_AFTER_SECONDS = "5"
PASSED_HEADERS = (
    "content-type",
    "content-disposition",
    "content-range",
    "content-length",
    "accept-ranges",
    "etag",
    "cache-control",
    "location",
    "retry-after",
    "idempotent-replayed",
)
"""Headers of a service's answer that reach the client (hop-by-hop and internal ones do not)."""


class Downstream:
    """The clients of the internal services; use as an async context manager."""

    def __init__(self, settings: PortalSettings) -> None:
        self.settings = settings
        self.tokens = MintedTokens(settings)
        self.clients = {
            name: [
                httpx.AsyncClient(
                    base_url=url,
                    timeout=TIMEOUT,
                    transport=AsyncOpenTelemetryTransport(AiohttpTransport(limits=LIMITS)),
                )
                for url in settings.urls_of(name)
            ]
            for name in INTERNAL_SERVICES
        }
        self.streams = {
            name: [httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=LIMITS) for url in settings.urls_of(name)]
            for name in INTERNAL_SERVICES
        }
        self._turns = {name: itertools.count() for name in INTERNAL_SERVICES}

    async def __aenter__(self) -> Downstream:
        return self

    async def __aexit__(self, *_: object) -> None:
        for replicas in [*self.clients.values(), *self.streams.values()]:
            for client in replicas:
                await client.aclose()

    def headers(self, principal: Principal) -> dict[str, str]:
        """What every call carries: the internal token of who it acts for, and the correlation id."""
        token = self.tokens.token(principal)
        return {"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation_id.get() or ""}

    def replicas(self, service: str, clients: dict[str, list[httpx.AsyncClient]]) -> list[httpx.AsyncClient]:
        """The clients of ``service``'s replicas, starting with the next one in turn (round robin): a request goes
        to the first and, when it could not be sent there (:data:`NOT_SENT`), to the next."""
        replicas = clients[service]
        turn = next(self._turns[service]) % len(replicas)
        return replicas[turn:] + replicas[:turn]

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        principal: Principal,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> httpx.Response:
        """One request to ``service`` on behalf of ``principal`` (a caller's, see
        :attr:`~services.gateway.auth.Caller.principal`); raises 503 when no replica of the service can be
        reached."""
        sent = {**(headers or {}), **self.headers(principal)}

        def send(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return client.request(method, path, params=params, json=json, headers=sent)

        return await self._answer(service, method, self.clients, send)

    async def open(
        self,
        service: str,
        method: str,
        path: str,
        principal: Principal,
        *,
        params: Mapping[str, Any] | None = None,
        content: AsyncIterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request to ``service`` whose answer's body is left to read as a stream (close it with
        ``aclose()``), and whose own body, when given, is streamed from ``content`` (chunked); raises 503 when the
        service cannot be reached. An error raised by ``content`` propagates (the request to the service is
        aborted)."""
        sent = {**(headers or {}), **self.headers(principal)}

        def send(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            request = client.build_request(method, path, params=params, content=content, headers=sent)
            return client.send(request, stream=True)

        return await self._answer(service, method, self.streams, send)

    async def _answer(
        self,
        service: str,
        method: str,
        clients: dict[str, list[httpx.AsyncClient]],
        send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    ) -> httpx.Response:
        """The answer of the first replica of ``service`` the request could be sent to (:meth:`replicas`); raises
        :func:`unavailable` when none could, or when the one that got it did not answer."""
        error: httpx.TransportError | None = None
        for client in self.replicas(service, clients):
            try:
                return await send(client)
            except NOT_SENT as exc:
                error = exc
            except httpx.TransportError as exc:
                raise unavailable(service, method, exc) from exc
        raise unavailable(service, method, error) from error


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before a request reached the service."""
UNSAFE = frozenset({"POST", "PATCH"})
"""Methods whose repetition may change something again (PUT and DELETE are idempotent, RFC 9110 section 9.2.2)."""


def unavailable(service: str, method: str = "GET", error: httpx.TransportError | None = None) -> HTTPException:
    """503 with ``Retry-After`` for a service that cannot be reached, or did not answer a request that changes
    nothing when repeated; 504 without it for a POST or PATCH the service may have received before it stopped
    answering (its outcome is unknown: the client reads the state before deciding to send it again)."""
    if method.upper() in UNSAFE and error is not None and not isinstance(error, NOT_SENT):
        detail = f"the {service} service did not answer in time; the change may have been made: read it before retrying"
        return HTTPException(504, detail)
    return HTTPException(503, f"the {service} service is unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS})


def finite(body: Any) -> Any:
    """``body`` unchanged when every number in it is finite; 422 otherwise (JSON has no NaN or infinity, and a
    number such as ``1e400`` overflows to infinity)."""
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "numbers must be finite (no NaN, no infinity)", "type": "value_error"}]
        ) from None
    return body


def service_path(template: str, *ids: str) -> str:
    """``template`` with each ``{}`` replaced by an id, percent-encoded so it stays one path segment."""
    return template.format(*(quote(value, safe="") for value in ids))


async def send(
    request: Request,
    caller: Caller,
    service: str,
    path: str,
    body: Any = None,
    *,
    sent: Any = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send the request's method, query and JSON ``body`` to ``service`` at ``path`` and return its answer, with the
    request's ``Idempotency-Key`` (422 when it is not one) and the fingerprint of what the client ``sent`` (when the
    gateway completed or translated the body, the client's retry must still match); 503 when the service cannot be
    reached."""
    extra = dict(headers or {})
    if "idempotency-key" in request.headers:
        if not valid_key(request.headers["idempotency-key"]):
            raise RequestValidationError([{"loc": (HEADER,), "msg": KEY_RULE, "type": "value_error"}])
        extra["Idempotency-Key"] = request.headers["idempotency-key"]
        client_body = body if sent is None else sent
        extra[FINGERPRINT_HEADER] = request_fingerprint(request.method, request.url.path, client_body)
    return await downstream(request).call(
        service,
        request.method,
        path,
        caller.principal,
        params=list(request.query_params.multi_items()),
        json=finite(body),
        headers=extra,
    )


async def forward(
    request: Request, caller: Caller, service: str, path: str, body: Any = None, *, sent: Any = None
) -> Response:
    """:func:`send` the request to ``service`` and answer what it answers (:func:`relayed`)."""
    return relayed(await send(request, caller, service, path, body, sent=sent))


def passed_headers(answer: httpx.Response) -> dict[str, str]:
    """The headers of a service's answer that the client gets (:data:`PASSED_HEADERS`)."""
    return {name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers}


def relayed(answer: httpx.Response) -> Response:
    """A service's answer as the gateway's own: same status, body and content headers."""
    headers = passed_headers(answer)
    headers.pop("content-length", None)
    return Response(answer.content, status_code=answer.status_code, headers=headers)


def streamed(answer: httpx.Response) -> Response:
    """A service's answer opened with :meth:`Downstream.open`, relayed as it arrives (its connection is released
    once the client has it all, or went away)."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        finally:
            await answer.aclose()

    return StreamingResponse(body(), status_code=answer.status_code, headers=passed_headers(answer))


def downstream(request: Request) -> Downstream:
    """The running gateway's :class:`Downstream` (made at start-up by :func:`open_downstream`)."""
    return request.app.state.runtime.extensions["downstream"]


async def open_downstream(runtime: Runtime) -> None:
    """Start-up hook: open the clients, closed again at shutdown."""
    runtime.extensions["downstream"] = await runtime.resources.enter_async_context(Downstream(runtime.settings))
