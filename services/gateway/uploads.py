"""Multipart file uploads read as they arrive, never held whole (TRAPS.md: Starlette's form parser spools files).

A client sends ``multipart/form-data`` (RFC 7578) with its small fields first and the ``file`` part last, as S3's
browser uploads do: :meth:`MultipartUpload.fields` reads up to the file part's headers, then
:meth:`MultipartUpload.file_bytes` yields the file's bytes as they come, to be relayed to the documents service.
Parsing is python-multipart's streaming parser; the byte limit is counted here, so a file past it is refused (413)
after the rest of the body is read and dropped (a client that is still sending then reads the answer instead of a
reset connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from shared.problems import ProblemError, content_too_large, invalid

READ_TIMEOUT_SECONDS = 60.0
"""How long an upload may send nothing before it is given up (a stalled client holds no resource forever)."""
MAX_FIELD_BYTES = 10_000
MAX_FIELDS = 20


def multipart_form(fields: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route read with :class:`MultipartUpload` (FastAPI cannot see it): its text
    ``fields`` (name → JSON schema) in order, then ``file`` (binary); ``required`` names the ones that must be sent."""
    properties = {**fields, "file": {"type": "string", "format": "binary"}}
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


class MultipartUpload:
    """One multipart request read as a stream: fields (at most 20 of 10,000 bytes each) before the ``file`` part,
    then the file's bytes, counted against ``limit``. Raises :class:`~shared.problems.ProblemError`: 415 for a body
    that is not ``multipart/form-data``, 422 for a malformed body or one without a ``file`` part, 413 past the
    limit (from ``Content-Length`` at once, or while streaming)."""

    def __init__(self, request: Request, *, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.filename = ""
        self.has_file = False
        self._stream = request.stream()
        self._events: list[tuple[str, Any]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]
        self._parser = self._make_parser()

    def _make_parser(self) -> MultipartParser:
        kind, options = parse_options_header(self.request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise ProblemError(415, "Unsupported Media Type", "send the file as multipart/form-data")

        def header_field(data: bytes, start: int, end: int) -> None:
            self._header[0] += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._header[1] += data[start:end]

        def header_end() -> None:
            self._headers[self._header[0].lower()] = self._header[1]
            self._header[:] = [b"", b""]

        def headers_finished() -> None:
            _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
            self._events.append(("part", disposition))
            self._headers = {}

        callbacks = {
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": headers_finished,
            "on_part_data": lambda data, start, end: self._events.append(("data", data[start:end])),
            "on_part_end": lambda: self._events.append(("end", None)),
        }
        try:
            return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        except FormParserError as exc:
            raise ProblemError(415, "Unsupported Media Type", f"unusable multipart boundary: {exc}") from exc

    async def _next_events(self) -> bool:
        """Feed the parser the next chunk of the body; False at the end of the body."""
        try:
            chunk = await asyncio.wait_for(anext(self._stream), READ_TIMEOUT_SECONDS)
        except StopAsyncIteration:
            return False
        except TimeoutError:
            raise ProblemError(
                408, "Request Timeout", f"no byte of the upload arrived for {READ_TIMEOUT_SECONDS:.0f} s"
            ) from None
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            await self.drain()
            raise invalid([{"field": "body", "message": f"malformed multipart body: {exc}"}]) from exc
        return True

    async def drain(self) -> None:
        """Read and drop what is left of the body."""
        async for _ in self._stream:
            pass

    async def fields(self) -> dict[str, str]:
        """The fields sent before the ``file`` part, by name (text, UTF-8); :attr:`has_file` says whether a file
        part follows, :attr:`filename` is its name."""
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit + 64 * 1024:
            await self.drain()
            raise content_too_large(self.limit)
        found: dict[str, str] = {}
        name: str | None = None
        value = bytearray()
        while True:
            while self._events:
                kind, data = self._events.pop(0)
                if kind == "part":
                    name = data.get(b"name", b"").decode("utf-8", "replace")
                    if name == "file" or b"filename" in data:
                        self.filename = data.get(b"filename", b"").decode("utf-8", "replace")
                        self.has_file = True
                        return found
                    value.clear()
                elif kind == "data":
                    value += data
                    if len(value) > MAX_FIELD_BYTES:
                        await self.drain()
                        raise invalid([{"field": name or "body", "message": "a field may hold 10,000 bytes at most"}])
                elif kind == "end" and name is not None:
                    found[name] = value.decode("utf-8", "replace")
                    if len(found) > MAX_FIELDS:
                        await self.drain()
                        raise invalid([{"field": "body", "message": "too many fields"}])
            if not await self._next_events():
                return found

    async def file_bytes(self) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive (after :meth:`fields`); what follows the file is read and dropped.
        Raises 413 (:class:`~shared.problems.ProblemError`) once past the limit, having dropped the rest."""
        seen = 0
        while True:
            while self._events:
                kind, data = self._events.pop(0)
                if kind == "end":
                    await self.drain()
                    return
                if kind == "data" and data:
                    seen += len(data)
                    if seen > self.limit:
                        await self.drain()
                        raise content_too_large(self.limit)
                    yield data
            if not await self._next_events():
                raise invalid([{"field": "file", "message": "the body ended inside the file part"}])
