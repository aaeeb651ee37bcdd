"""Objects as files in a directory: ``<root>/<key>``, written through ``<root>/.incoming`` and renamed into place."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from services.documents.storage import (
    CHECK_SECONDS,
    READ_CHUNK,
    ChunkReader,
    ObjectMissing,
    Storage,
    check_key,
    check_prefix,
    check_range,
)

INCOMING: Final = ".incoming"
"""The directory inside the root that holds files being written (no key can name it: see ``check_key``)."""

_WRITE_CHUNK: Final = 1024 * 1024
_MISSING: Final = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStorage(Storage):
    """Objects under the directory ``root``, one file per key (a key's ``/`` separate directories).

    :meth:`put` writes a temporary file in ``root/.incoming`` (so on the same filesystem), fsyncs it, and
    ``os.replace``-s it onto the key's path, which POSIX ``rename(2)`` makes atomic: a reader sees the old file or the
    new one, never a part. The content type is not kept (the service keeps it with the record). Blocking file calls
    run in threads, never on the event loop. Directories emptied by :meth:`delete` stay.
    """

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        """The directory of the objects."""
        self._incoming = root / INCOMING

    async def prepare(self) -> None:
        """Create ``root`` and ``root/.incoming`` when missing."""
        await asyncio.to_thread(_make_dirs, self._incoming)

    async def check(self) -> str | None:
        """None when ``root`` is a directory the process may write to, else why not (also when the filesystem does
        not answer within ``CHECK_SECONDS``)."""
        try:
            writable = await asyncio.wait_for(asyncio.to_thread(_writable_directory, self.root), CHECK_SECONDS)
        except TimeoutError:
            return f"storage directory {self.root} did not answer within {CHECK_SECONDS:g} s"
        return None if writable else f"storage directory {self.root} is missing or not writable"

    def _store(self, key: str, source: ChunkReader, content_type: str) -> None:
        """Write ``source`` to a new temporary file in ``.incoming``, fsync it, rename it onto the key's path and
        fsync that directory; the temporary file is removed on any failure."""
        target = self.root / key
        _make_dirs(self._incoming)
        descriptor, temporary = tempfile.mkstemp(dir=self._incoming, prefix="put-")
        try:
            with open(descriptor, "wb") as file:
                while chunk := source.read(_WRITE_CHUNK):
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            _make_dirs(target.parent)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
        _fsync_directory(target.parent)

    async def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes from ``start``, ``length`` of them or up to the end, in chunks of at most ``READ_CHUNK``
        bytes read with ``os.pread`` in a thread each; :class:`ObjectMissing` when there is no such file."""
        check_key(key)
        check_range(start, length)
        try:
            file = await asyncio.to_thread(open, self.root / key, "rb")
        except _MISSING:
            raise ObjectMissing(key) from None
        try:
            position = start
            end = None if length is None else start + length
            while end is None or position < end:
                wanted = READ_CHUNK if end is None else min(READ_CHUNK, end - position)
                chunk = await asyncio.to_thread(os.pread, file.fileno(), wanted, position)
                if not chunk:
                    return
                position += len(chunk)
                yield chunk
        finally:
            file.close()

    async def size(self, key: str) -> int:
        """The file's size in bytes; :class:`ObjectMissing` when there is no such file."""
        check_key(key)
        try:
            status = await asyncio.to_thread(os.stat, self.root / key)
        except _MISSING:
            raise ObjectMissing(key) from None
        if not stat.S_ISREG(status.st_mode):
            raise ObjectMissing(key)
        return status.st_size

    async def delete(self, key: str) -> None:
        """Remove the file; nothing happens when there is none."""
        check_key(key)
        try:
            await asyncio.to_thread(os.unlink, self.root / key)
        except _MISSING:
            return

    async def keys(self, prefix: str = "") -> list[str]:
        """The keys of the files under ``root`` (``.incoming`` left out) that start with ``prefix``, sorted; only the
        directory that the prefix's complete segments name is walked."""
        directory = check_prefix(prefix).rpartition("/")[0]
        return await asyncio.to_thread(self._keys, self.root / directory, prefix)

    def signed_url(self, key: str, *, content_disposition: str, content_type: str) -> None:
        """None: files on this backend are streamed by the service itself."""
        check_key(key)

    def _keys(self, base: Path, prefix: str) -> list[str]:
        found: list[str] = []
        for folder, folders, files in os.walk(base):
            if Path(folder) == self.root and INCOMING in folders:
                folders.remove(INCOMING)
            relative = Path(folder).relative_to(self.root).as_posix()
            found.extend(name if relative == "." else f"{relative}/{name}" for name in files)
        return sorted(key for key in found if key.startswith(prefix))


def _make_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, fsyncing the directory that holds each new one so that it
    survives a crash."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:
        if not directory.is_dir():
            raise
        return
    _fsync_directory(directory.parent)


def _fsync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries to disk: what makes a rename or a new entry durable (POSIX ``fsync(2)``)."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _writable_directory(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
