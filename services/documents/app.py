"""App factory of the documents service (``uvicorn services.documents.app:create_app --factory``)."""

from fastapi import FastAPI

from services.documents.api import router
from services.documents.events import consumers
from services.documents.settings import SERVICE, Settings
from services.documents.storage import Storage, open_storage
from shared.service import Runtime, create_service_app
from shared.settings import PortalSettings


async def open_store(runtime: Runtime) -> None:
    """Start-up hook: the storage backend the settings choose, its directory or bucket made if missing."""
    storage = open_storage(runtime.settings)  # type: ignore[arg-type]
    await storage.prepare()
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
