"""Photo thumbnails: made in the background after an upload (the upload does not wait), or on first request.

A thumbnail is a JPEG, longest side 320 px, EXIF orientation applied (:mod:`services.documents.thumbnails`), stored
next to its photo under ``<photo key>.thumbnail.jpg``. At most two are made at once, each in a worker thread.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.documents.models import Document
from services.documents.storage import ObjectMissing, Storage
from services.documents.thumbnails import ThumbnailError, make_thumbnail
from services.documents.uploads import one_chunk
from shared.events.orders import PHOTO_SLOTS

log = structlog.get_logger(__name__)
MAIN_PHOTO_SLOT = "photo.intraoral_frontal"
"""The case's main photo when present (DOMAIN.md "Orders list": the intra-oral frontal photo)."""
_making = asyncio.Semaphore(2)
_background: set[asyncio.Task[None]] = set()


def has_thumbnail(document: Document) -> bool:
    """Whether ``document`` is a photo, which has a thumbnail."""
    return document.slot in PHOTO_SLOTS


async def ensure_thumbnail(
    storage: Storage, sessions: async_sessionmaker[AsyncSession], document_id: str, spool_dir: Path
) -> str | None:
    """The storage key of the photo ``document_id``'s thumbnail, made now if it was not yet; None when the document
    is gone, is not a photo, or cannot be made into a thumbnail (logged)."""
    async with sessions() as session:
        document = await session.get(Document, document_id)
    if document is None or not has_thumbnail(document):
        return None
    if document.thumbnail_key is not None:
        return document.thumbnail_key
    async with _making:
        key = f"{document.storage_key}.thumbnail.jpg"
        spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.SpooledTemporaryFile(max_size=8 << 20, dir=spool_dir) as copy:
            try:
                async for chunk in storage.read(document.storage_key):
                    copy.write(chunk)
            except ObjectMissing:
                return None
            copy.seek(0)
            try:
                jpeg = await anyio.to_thread.run_sync(make_thumbnail, copy)
            except ThumbnailError as exc:
                log.warning("no thumbnail", document_id=document_id, reason=str(exc))
                return None
        await storage.put(key, one_chunk(jpeg), content_type="image/jpeg")
    async with sessions() as session, session.begin():
        stored = await session.get(Document, document_id)
        if stored is None:  # deleted meanwhile
            await storage.delete(key)
            return None
        stored.thumbnail_key = key
    return key


def make_later(
    storage: Storage, sessions: async_sessionmaker[AsyncSession], documents: list[Document], spool: Path
) -> None:
    """Make the thumbnails of the photos among ``documents`` in the background."""
    for document in documents:
        if has_thumbnail(document):
            task = asyncio.create_task(ensure_thumbnail(storage, sessions, document.id, spool))
            _background.add(task)
            task.add_done_callback(_background.discard)
