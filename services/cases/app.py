"""App factory of the cases service (``uvicorn services.cases.app:create_app --factory``)."""

from fastapi import FastAPI

from services.cases.api import router
from services.cases.events import consumers
from services.cases.settings import SERVICE, Settings
from shared.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The cases service's ASGI app; settings are read from the environment unless given."""
    return create_service_app(SERVICE, routers=[router], consumers=consumers, settings=settings or Settings())
