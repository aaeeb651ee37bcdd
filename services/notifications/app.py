"""App factory of the notifications service (``uvicorn services.notifications.app:create_app --factory``)."""

from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.events import consumers
from services.notifications.settings import SERVICE, Settings
from shared.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The notifications service's ASGI app; settings are read from the environment unless given."""
    return create_service_app(SERVICE, routers=[router], consumers=consumers, settings=settings or Settings())
