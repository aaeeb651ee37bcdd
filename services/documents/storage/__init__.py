"""Where the documents service keeps each case's files: one interface, :class:`Storage`, over a directory
(:mod:`.local`) or an S3-compatible bucket (:mod:`.s3`); :func:`open_storage` gives the one the settings choose.

Objects are named by keys the service makes itself (``cases/<uuid>/<uuid>`` and similar, see :func:`check_key`) and
move as async streams of bytes, so that memory stays bounded whatever the size of the file (up to 300 MB).
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextvars
import re
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Final, cast

from services.documents.settings import Settings

READ_CHUNK: Final = 1024 * 1024
"""Largest chunk :meth:`Storage.read` yields, in bytes (1 MiB)."""

CHECK_SECONDS: Final = 2.0
"""How long :meth:`Storage.check` waits for the backend before it gives a reason, in seconds."""

KEY_MAX_LENGTH: Final = 1024
"""Longest key, in characters: S3's limit on object key names (1,024 bytes of UTF-8; AWS, "Naming Amazon S3
objects"), which keys of ASCII characters meet."""

_HANDOFF_CHUNKS: Final = 4
_SEGMENT = r"[a-z0-9_-][a-z0-9._-]{0,254}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")


class ObjectMissing(Exception):
    """No object is stored under the key given (``args[0]``)."""


def check_key(key: str) -> str:
    """``key`` itself when it is a valid object key, else :class:`ValueError`.

    A key is one or more ``/``-separated segments of ``[a-z0-9._-]``, each of 1 to 255 characters (the file name
    limit, ``NAME_MAX``, of Linux filesystems) not starting with a dot, at most :data:`KEY_MAX_LENGTH` characters in
    all: so no empty or absolute key, no ``.`` or ``..`` segment, no backslash, no hidden name (the local backend
    keeps its temporary files in ``.incoming``).
    """
    if len(key) > KEY_MAX_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """``prefix`` itself when it may start keys: empty, or its complete segments (up to the last ``/``) form a valid
    key (:func:`check_key`); else :class:`ValueError`."""
    directory = prefix.rpartition("/")[0]
    if directory:
        check_key(directory)
    return prefix


def check_range(start: int, length: int | None) -> None:
    """:class:`ValueError` unless ``start`` (bytes, 0-based) is at least 0 and ``length`` is None or at least 0."""
    if start < 0 or (length is not None and length < 0):
        raise ValueError(f"invalid byte range: start {start}, length {length}")


class ChunkReader:
    """A bounded hand-off of chunks from the event loop to one worker thread, which reads them like a binary file.

    :meth:`feed` runs on the loop and waits while a few chunks (``_HANDOFF_CHUNKS``) wait in its queue; :meth:`read`
    runs in the worker thread and takes every waiting chunk in one call to the loop, so at most twice that many chunks
    are held between the two. When the chunks fail (or :meth:`fail` is called), :meth:`read` raises
    :class:`SourceFailed` (then and on every later call) instead of returning data, so the worker gives up; the
    chunks' own exception stays with :meth:`feed`'s caller.
    """

    _END: Final = object()
    _FAILED: Final = object()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[bytes | object] = asyncio.Queue(_HANDOFF_CHUNKS)
        self._pending = memoryview(b"")
        self._waiting: collections.deque[bytes | object] = collections.deque()
        self._ended = False
        self.size = 0
        """Bytes fed so far."""

    async def feed(self, chunks: AsyncIterable[bytes]) -> None:
        """Hand every chunk (empty ones skipped) to the reader, then the end; on any exception, :meth:`fail` first,
        then the exception propagates."""
        try:
            async for chunk in chunks:
                if chunk:
                    self.size += len(chunk)
                    await self._queue.put(chunk)
        except BaseException:
            self.fail()
            raise
        await self._queue.put(self._END)

    def fail(self) -> None:
        """Drop the chunks not read yet and make the reader's next :meth:`read` raise :class:`SourceFailed`. Call on
        the event loop."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(self._FAILED)

    def read(self, size: int = -1) -> bytes:
        """The next ``size`` bytes (all the rest when negative), fewer only at the end, ``b""`` after it. Blocks until
        they are fed; call from the worker thread, never the loop. Raises :class:`SourceFailed`."""
        pieces: list[memoryview] = []
        taken = 0
        while (size < 0 or taken < size) and self._fill():
            piece = self._pending if size < 0 else self._pending[: size - taken]
            self._pending = self._pending[len(piece) :]
            pieces.append(piece)
            taken += len(piece)
        return b"".join(pieces)

    async def _take(self) -> list[bytes | object]:
        items = [await self._queue.get()]
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def _fill(self) -> bool:
        if self._pending or self._ended:
            return bool(self._pending)
        if not self._waiting:
            self._waiting.extend(asyncio.run_coroutine_threadsafe(self._take(), self._loop).result())
        if self._waiting[0] is self._FAILED:
            raise SourceFailed
        item = self._waiting.popleft()
        if item is self._END:
            self._ended = True
            return False
        self._pending = memoryview(cast(bytes, item))
        return True


class SourceFailed(Exception):
    """Raised by :meth:`ChunkReader.read` when the chunks failed: the worker reading them must give up."""


class Storage(abc.ABC):
    """Objects (bytes under a key, see :func:`check_key`) in one backend: ``backend`` is ``"local"`` or ``"s3"``.

    Every method validates its key first (:class:`ValueError`); the backends' own errors (``OSError``, minio's
    ``S3Error``, urllib3's errors) propagate as they are, except a missing object, which is :class:`ObjectMissing`.
    """

    backend: str

    @abc.abstractmethod
    async def prepare(self) -> None:
        """Create the directory or bucket when missing; does nothing when it exists."""

    @abc.abstractmethod
    async def check(self) -> str | None:
        """None when the backend is reachable and ready, else a short reason; answers within about
        :data:`CHECK_SECONDS` seconds (``/readyz``)."""

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, content_type: str) -> int:
        """Store ``chunks`` (bytes of any sizes) under ``key``, replacing any object there, and return the number of
        bytes stored. ``content_type`` is the MIME type kept with the object where the backend keeps one.

        The object appears only whole. When iterating ``chunks`` raises, storing fails, or the call is cancelled,
        nothing is left (no partial object, no temporary file, no incomplete multipart upload; a replaced object
        stays as it was) and the exception propagates unchanged, the chunks' own when they failed. Memory stays
        bounded: a few chunks and what the backend buffers (:meth:`_store`). :class:`ValueError` for an invalid key,
        before any chunk is read.

        The backend writes in a thread of its own for the whole call (so that slow uploads never occupy the event
        loop's default executor, which reads also use) and reads the chunks through a :class:`ChunkReader`.
        """
        check_key(key)
        source = ChunkReader(asyncio.get_running_loop())
        storing = _in_own_thread(self._store, key, source, content_type)
        feeding = asyncio.create_task(source.feed(chunks))
        try:
            await asyncio.wait({storing})
        finally:
            if not storing.done():
                source.fail()
                await asyncio.wait({storing})
            source_failed_first = feeding.done()
            feeding.cancel()
            await asyncio.wait({feeding})
            fed, stored = _outcome(feeding), _outcome(storing)
        if fed is not None and source_failed_first:
            raise fed
        if stored is not None:
            raise stored
        return source.size

    @abc.abstractmethod
    def _store(self, key: str, source: ChunkReader, content_type: str) -> None:
        """Blocking, in a worker thread: store what ``source`` reads under ``key``, whole or not at all; on any
        exception (:class:`SourceFailed` among them) leave nothing behind and re-raise."""

    @abc.abstractmethod
    def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """An async generator of the object's bytes from ``start`` (0-based), ``length`` bytes or up to the end (fewer
        when the object is shorter; none when ``start`` is at or past the end), in chunks of at most
        :data:`READ_CHUNK` bytes. Raises :class:`ObjectMissing` before yielding anything when there is no object,
        :class:`ValueError` for a negative ``start`` or ``length``."""

    @abc.abstractmethod
    async def size(self, key: str) -> int:
        """The object's size in bytes; :class:`ObjectMissing` when there is none."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""

    @abc.abstractmethod
    async def keys(self, prefix: str = "") -> list[str]:
        """Every key that starts with ``prefix`` (a plain string prefix, not only whole segments), sorted;
        :class:`ValueError` when the prefix could start no key (:func:`check_prefix`)."""

    @abc.abstractmethod
    def signed_url(self, key: str, *, content_disposition: str, content_type: str) -> str | None:
        """A URL valid for ``signed_url_seconds`` that a client outside the deployment's network can GET the object
        from, answered with these ``Content-Disposition`` and ``Content-Type`` headers; None when the backend has no
        such URL and the service streams the bytes itself."""


def open_storage(settings: Settings) -> Storage:
    """The backend ``settings.storage_backend`` names: objects under ``<data_dir>/objects`` (``local``) or in the
    ``s3_bucket`` of the server at ``s3_endpoint`` (``s3``). Nothing is created or contacted: see
    :meth:`Storage.prepare`."""
    if settings.storage_backend == "s3":
        from services.documents.storage.s3 import S3Storage

        return S3Storage(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            secure=settings.s3_secure,
            public_endpoint=settings.s3_public_endpoint or settings.s3_endpoint,
            public_secure=settings.s3_secure if settings.s3_public_secure is None else settings.s3_public_secure,
            signed_url_seconds=settings.signed_url_seconds,
        )
    from services.documents.storage.local import LocalStorage

    return LocalStorage(settings.data_dir / "objects")


def _outcome(future: asyncio.Future[None]) -> BaseException | None:
    """The exception ``future`` (done) ended with, None when it succeeded or was cancelled; marks it retrieved."""
    return None if future.cancelled() else future.exception()


def _in_own_thread(function: Callable[..., None], *args: object) -> asyncio.Future[None]:
    """Run ``function(*args)`` in a new thread (with the caller's context variables); the future gets its outcome."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            context.run(function, *args)
        except BaseException as exc:
            loop.call_soon_threadsafe(future.set_exception, exc)
        else:
            loop.call_soon_threadsafe(future.set_result, None)

    threading.Thread(target=run, name="storage-put", daemon=True).start()
    return future
