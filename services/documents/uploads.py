"""Receiving one file: streamed from the request into storage with bounded memory, checked on the way.

:func:`receive` reads the first bytes to decide the type (:func:`~services.documents.content.sniff`): a type the slot
does not take is refused (415) before anything is stored. The rest streams into the storage backend through a
SHA-256, a byte counter that stops past the limit (413) and the content inspector, which decides at the end whether
the file is whole (a truncated STL is refused, 422). A refused or aborted upload leaves no object behind (the backend's
``put`` is atomic, and a refusal after it deletes the object). A ZIP goes to a temporary file first (an archive is
read from its end), is checked there, and is removed in every case.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio

from services.documents.content import (
    PREFIX_BYTES,
    SLOT_KINDS,
    Content,
    ContentInspector,
    ContentRefused,
    refusal_for,
    sniff,
)
from services.documents.storage import Storage
from shared.problems import ProblemError, content_too_large

CHUNK_BYTES = 1 << 20


class TooLarge(Exception):
    """Raised inside the stream once it passes the limit: the backend drops what it had written."""


@dataclass
class Received:
    """A file that arrived whole and fits its slot: its bytes' SHA-256 (hex), size and content; ``spooled`` is its
    temporary copy when it is an archive still to be unpacked (deleted by :meth:`discard`)."""

    sha256: str
    size_bytes: int
    content: Content
    spooled: Path | None = None

    def discard(self) -> None:
        """Remove the temporary copy, if any."""
        if self.spooled is not None:
            self.spooled.unlink(missing_ok=True)
            self.spooled = None


async def drain(stream: AsyncIterator[bytes]) -> None:
    """Read and drop the rest of a request body, so the client reads the refusal instead of a reset connection."""
    async for _ in stream:
        pass


async def _prefix(stream: AsyncIterator[bytes]) -> bytes:
    buffer = bytearray()
    async for chunk in stream:
        buffer += chunk
        if len(buffer) >= PREFIX_BYTES:
            break
    return bytes(buffer)


class Meter:
    """The SHA-256, size and content inspector every byte of one file passes through; raises :class:`TooLarge`
    past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.digest = hashlib.sha256()
        self.inspector = ContentInspector()
        self.size = 0

    def take(self, chunk: bytes) -> bytes:
        """``chunk``, counted, hashed and inspected."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge
        self.digest.update(chunk)
        self.inspector.feed(chunk)
        return chunk

    async def through(self, first: bytes, rest: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """``first`` then every chunk of ``rest``, each through :meth:`take`."""
        if first:
            yield self.take(first)
        async for chunk in rest:
            if chunk:
                yield self.take(chunk)

    def finish(self) -> Content:
        """The file's content once every byte passed; 422 (:class:`~shared.problems.ProblemError`) when it is not
        whole."""
        try:
            return self.inspector.finish()
        except ContentRefused as exc:
            raise ProblemError(422, "Unprocessable Content", exc.reason) from exc


async def receive(
    stream: AsyncIterator[bytes],
    storage: Storage,
    key: str,
    *,
    slot: str,
    limit: int,
    spool_dir: Path,
) -> Received:
    """Store the body ``stream`` of a file for ``slot`` under ``key``; ZIP files are spooled to ``spool_dir``
    instead and stored by the caller once unpacked. Raises :class:`~shared.problems.ProblemError`: 415 when the
    slot does not take the file's type, 422 when the file is empty or not whole, 413 past ``limit`` bytes (the rest of
    the body is read and dropped first). A client that goes away propagates its error; nothing is left stored."""
    first = await _prefix(stream)
    if not first:
        raise ProblemError(422, "Unprocessable Content", "the file is empty")
    kind = sniff(first)
    if kind is None or kind not in SLOT_KINDS[slot]:
        await drain(stream)
        raise ProblemError(415, "Unsupported Media Type", refusal_for(slot, kind), slot=slot)
    meter = Meter(limit)
    try:
        if kind == "zip":
            spooled = await _spool(meter.through(first, stream), spool_dir)
        else:
            spooled = None
            await storage.put(key, meter.through(first, stream), content_type="application/octet-stream")
    except TooLarge:
        await drain(stream)
        raise content_too_large(limit) from None
    try:
        content = meter.finish()
    except ProblemError:
        if spooled is not None:
            spooled.unlink(missing_ok=True)
        else:
            await storage.delete(key)
        raise
    return Received(meter.digest.hexdigest(), meter.size, content, spooled)


async def _spool(chunks: AsyncIterable[bytes], spool_dir: Path) -> Path:
    """Write ``chunks`` to a new temporary file in ``spool_dir``; removed again if they fail."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes] = tempfile.NamedTemporaryFile(dir=spool_dir, prefix="upload-", delete=False)
    path = Path(handle.name)
    try:
        async with anyio.wrap_file(handle) as spooled:
            async for chunk in chunks:
                await spooled.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """The bytes of the file at ``path`` in chunks of 1 MiB, read without blocking the event loop."""
    async with await anyio.open_file(path, "rb") as source:
        while chunk := await source.read(CHUNK_BYTES):
            yield chunk


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    """``data`` as a stream of one chunk (for :meth:`~services.documents.storage.Storage.put`)."""
    yield data
