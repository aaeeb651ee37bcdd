"""Scanner exports: a ZIP an intra-oral scanner exported, unpacked into the case's slots on upload.

The archive (spooled to a temporary file by :mod:`services.documents.uploads`) is checked for traversal, links, too
many entries and zip bombs (:mod:`services.documents.scanner_exports`); each file its manifest places (arch scans into
``scan.upper`` / ``scan.lower`` / ``scan.bite``, renders into ``scan.render``) is streamed out of the archive into
storage through the same checks as an upload of its own. Any refusal removes every object already stored for the
archive.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from services.documents.content import SLOT_KINDS, Content, refusal_for, sniff
from services.documents.models import new_id
from services.documents.scanner_exports import ArchiveRefused, ScannerExport, open_entry, read_export
from services.documents.storage import Storage
from services.documents.uploads import Meter, TooLarge
from shared.problems import ProblemError, content_too_large


@dataclass(frozen=True)
class Unpacked:
    """One file taken out of a scanner export and stored: its new document id and key, where it goes, and what it
    is."""

    document_id: str
    storage_key: str
    slot: str
    filename: str
    sha256: str
    size_bytes: int
    content: Content


def refused(reason: str) -> ProblemError:
    """422 for an archive that may not be unpacked."""
    return ProblemError(422, "Unprocessable Content", f"the ZIP archive was refused: {reason}")


def read_manifest(path: Path, limit: int) -> ScannerExport | None:
    """The scanner export in the archive at ``path``, None for a plain ZIP; 422 for an archive that is unsafe."""
    try:
        with zipfile.ZipFile(path) as archive:
            return read_export(archive, max_uncompressed_bytes=limit)
    except ArchiveRefused as exc:
        raise refused(exc.reason) from exc
    except zipfile.BadZipFile as exc:
        raise refused(f"it cannot be read ({exc})") from exc


async def _entry_chunks(entries: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks of an archive entry, each inflated in a worker thread."""
    while True:
        chunk = await anyio.to_thread.run_sync(next, entries, None)
        if chunk is None:
            return
        yield chunk


async def unpack(path: Path, export: ScannerExport, storage: Storage, case_id: str, *, limit: int) -> list[Unpacked]:
    """Store every file ``export`` places, out of the archive at ``path``, under new keys of case ``case_id``;
    returns them in manifest order. Raises 422 (:class:`~shared.problems.ProblemError`) for an entry that inflates
    past its size or the limit, does not fit its slot, or is not whole; then nothing of the archive stays stored."""
    stored: list[Unpacked] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for exported in export.files:
                stored.append(await _store_entry(archive, exported.entry, exported.slot, storage, case_id, limit))
    except BaseException:
        for done in stored:
            await storage.delete(done.storage_key)
        raise
    return stored


async def _store_entry(
    archive: zipfile.ZipFile, entry: str, slot: str, storage: Storage, case_id: str, limit: int
) -> Unpacked:
    document_id = new_id()
    key = f"cases/{case_id}/{document_id}"
    meter = Meter(limit)
    chunks = _entry_chunks(open_entry(archive, entry, max_bytes=limit))
    first = await anext(chunks, b"")
    kind = sniff(first)
    if kind is None or kind not in SLOT_KINDS[slot]:
        raise refused(f"{entry}: {refusal_for(slot, kind)}")
    try:
        await storage.put(key, meter.through(first, chunks), content_type="application/octet-stream")
    except ArchiveRefused as exc:
        raise refused(exc.reason) from exc
    except TooLarge:
        raise content_too_large(limit) from None
    try:
        content = meter.finish()
    except ProblemError as exc:
        await storage.delete(key)
        raise refused(f"{entry}: {exc.detail}") from exc
    filename = entry.rsplit("/", 1)[-1]
    return Unpacked(document_id, key, slot, filename, meter.digest.hexdigest(), meter.size, content)
