"""App factory of the documents service (``uvicorn services.documents.app:create_app --factory``)."""

from fastapi import FastAPI

from services.documents.api import router
from services.documents.events import consumers
from services.documents.settings import SERVICE, Settings
from shared.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The documents service's ASGI app; settings are read from the environment unless given."""
    return create_service_app(SERVICE, routers=[router], consumers=consumers, settings=settings or Settings())
