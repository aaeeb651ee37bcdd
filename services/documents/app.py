"""App factory of the documents service (``uvicorn services.documents.app:create_app --factory``)."""

import time
from pathlib import Path

from fastapi import FastAPI

from services.documents.api import router
from services.documents.api.documents import spool_dir
from services.documents.events import consumers
from services.documents.settings import SERVICE, Settings
from services.documents.storage import Storage, open_storage
from services.documents.storage.local import INCOMING
from shared.service import Runtime, create_service_app
from shared.settings import PortalSettings

STALE_SECONDS = 24 * 3600
"""Age past which a temporary upload file can only be a leftover of a process that died mid-upload."""


def sweep_leftovers(settings: Settings) -> list[Path]:
    """Remove the temporary files of uploads a crashed process left (spooled archives and photo copies, the local
    backend's incoming files) once older than :data:`STALE_SECONDS`; returns what was removed. Younger ones may
    belong to an upload still running in another process."""
    removed = []
    cutoff = time.time() - STALE_SECONDS
    for folder in (spool_dir(settings), settings.data_dir / "objects" / INCOMING):
        for path in folder.glob("*") if folder.is_dir() else ():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


async def open_store(runtime: Runtime) -> None:
    """Start-up hook: the storage backend the settings choose, its directory or bucket made if missing, and the
    leftovers of crashed uploads swept (:func:`sweep_leftovers`)."""
    storage = open_storage(runtime.settings)  # type: ignore[arg-type]
    await storage.prepare()
    sweep_leftovers(runtime.settings)  # type: ignore[arg-type]
    runtime.extensions["storage"] = storage


async def check_storage(runtime: Runtime) -> str | None:
    """Readiness: the storage backend answers."""
    storage: Storage = runtime.extensions["storage"]
    return await storage.check()


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    """The documents service's ASGI app; settings are read from the environment unless given (shared settings
    given get the service's own defaults added)."""
    resolved = (
        settings if isinstance(settings, Settings) else Settings(**settings.model_dump()) if settings else Settings()
    )
    return create_service_app(
        SERVICE,
        routers=[router],
        consumers=consumers,
        settings=resolved,
        startup=[open_store],
        readiness_checks=[check_storage],
    )
