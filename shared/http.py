"""HTTP plumbing every service shares: RFC 9457 problem details, request context, operations routes.

:class:`RequestContextMiddleware` gives every request a correlation id (``X-Correlation-ID``, echoed or generated),
answers with ``X-Correlation-ID`` and ``traceparent`` headers, records the latency histogram by route template and,
on internal services, refuses with 401 any request without a valid internal token (operations routes excepted).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.internal_token import InvalidInternalToken, Principal, VerifiedTokens
from shared.metrics import REQUEST_LATENCY
from shared.settings import PortalSettings
from shared.telemetry import correlation_id, current_trace_context

log = structlog.get_logger(__name__)
OPERATIONS_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
FINGERPRINT_HEADER = "X-Request-Fingerprint"
"""Set by the gateway on a relayed create with an ``Idempotency-Key``: the fingerprint of the client's own request,
which the gateway may have completed (defaults) before relaying it."""
CASE_OWNER_HEADER = "X-Case-Owner"
CASE_ID_HEADER = "X-Case-Id"
"""Set by the cases service on every answer about one existing case, refusals included: the doctor who owns it and
the case, for the gateway's audit log only (the gateway never passes them on to a client)."""
PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 1_048_576
"""Largest JSON or form body a route reads (file uploads have their own limit): larger ones get 413."""
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""What an incoming ``X-Correlation-ID`` may look like; anything else is replaced by a new id."""


def problem(
    status: int, title: str, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem details response; ``extra`` adds members (``type`` defaults to ``about:blank``)."""
    body: dict[str, Any] = {"type": extra.pop("type", "about:blank"), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 (hex) of a request's method, path and canonical JSON body (key order and spacing do not matter): what
    makes two requests under one ``Idempotency-Key`` "the same request" (API.md "Conventions")."""
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
"""PostgreSQL's SQLSTATEs for text it cannot store: an invalid byte sequence, a NUL character."""


def _field_path(location: tuple[Any, ...] | list[Any], kind: str = "") -> str:
    """The field an error's location names, as the API writes it: ``general.patient.date_of_birth``, list items by
    index (``[0].name``, ``treatment_approach.extractions[1]``); the request body itself is ``body`` (a body that
    is missing or not JSON)."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    if kind == "json_invalid" or not parts:
        return "body"
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f"{'.' if path else ''}{part}"
    return path


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details; validation errors list every field at once (422)."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return http_problem(exc)

    @app.exception_handler(DBAPIError)
    async def _database_error(_request: Request, exc: DBAPIError) -> Response:
        if getattr(exc.orig, "sqlstate", None) in UNSTORABLE_TEXT:
            return problem(422, "Invalid input", "text must not contain NUL characters or invalid UTF-8")
        log.error("database error", error=repr(exc))
        return problem(500, "Internal Server Error", "the request could not be completed")

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _exc: ClientDisconnect) -> Response:
        log.info("client went away before sending the whole request", path=request.url.path)
        return problem(400, "Bad Request", "the request body ended before it was complete")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unexpected error", error=repr(exc), exc_info=exc)
        return problem(500, "Internal Server Error", "the request could not be completed")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": _field_path(error["loc"], error.get("type", "")),
                "message": error["msg"].removeprefix("Value error, "),
            }
            for error in exc.errors()
        ]
        return problem(422, "Invalid input", f"{len(errors)} field(s) are missing or invalid", errors=errors)


def http_problem(exc: StarletteHTTPException) -> JSONResponse:
    """The problem details answer of an ``HTTPException`` (its status, detail and headers)."""
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(exc.status_code, _reason(exc.status_code), detail, headers=dict(exc.headers or {}))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class BodyTooLarge(StarletteHTTPException):
    """A request body (not a file upload) grew past :data:`MAX_BODY_BYTES` while being read: answered 413."""

    def __init__(self) -> None:
        super().__init__(413, f"a request body may hold {MAX_BODY_BYTES} bytes at most")


def _is_upload(headers: dict[bytes, bytes], internal: bool) -> bool:
    """A file upload, which the route limits itself: a multipart form, or on an internal service (reached with the
    internal token only) the raw bytes the gateway relays (``application/octet-stream``)."""
    kind = headers.get(b"content-type", b"")
    return kind.startswith(b"multipart/") or (internal and kind.startswith(b"application/octet-stream"))


def _limited(receive: Receive) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once the body passes :data:`MAX_BODY_BYTES` (no length given)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise BodyTooLarge
        return message

    return counted


class RequestContextMiddleware:
    """Correlation id, response headers, latency metric and (when ``settings`` is given) internal-token checks."""

    def __init__(self, app: ASGIApp, service: str, settings: PortalSettings | None) -> None:
        self.app = app
        self.service = service
        self.settings = settings
        self.tokens = VerifiedTokens(settings) if settings is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-correlation-id", b"").decode("latin-1").strip()
        token = correlation_id.set(incoming if CORRELATION_ID.fullmatch(incoming) else str(uuid.uuid4()))
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = [(b"x-correlation-id", (correlation_id.get() or "").encode("latin-1"))]
                traceparent, _ = current_trace_context()
                if traceparent:
                    extra.append((b"traceparent", traceparent.encode("latin-1")))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            path = scope.get("path", "")
            declared = headers.get(b"content-length", b"")
            upload = _is_upload(headers, internal=self.settings is not None)
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES and not upload:
                response = problem(413, "Content Too Large", f"a request body may hold {MAX_BODY_BYTES} bytes at most")
                await response(scope, receive, send_with_headers)
                return
            if not upload:
                receive = _limited(receive)
            if self.settings is not None and path not in OPERATIONS_PATHS:
                principal = self._principal(headers)
                if principal is None:
                    response = problem(401, "Unauthorized", "a valid internal service token is required")
                    await response(scope, receive, send_with_headers)
                    return
                scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            REQUEST_LATENCY.labels(
                self.service, scope.get("method", ""), template, str(status_holder["status"])
            ).observe(time.perf_counter() - started)
            correlation_id.reset(token)

    def _principal(self, headers: dict[bytes, bytes]) -> Principal | None:
        assert self.tokens is not None
        scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        try:
            return self.tokens.principal(value.strip())
        except InvalidInternalToken:
            return None


def current_principal(request: Request) -> Principal:
    """The verified caller of a request to an internal service (set by :class:`RequestContextMiddleware`)."""
    return request.state.principal


def metrics_response() -> Response:
    """The process's Prometheus metrics in the text exposition format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
