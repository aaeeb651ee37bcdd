"""App factory of the orders service (``uvicorn services.orders.app:create_app --factory``)."""

from fastapi import FastAPI

from services.orders.api import router
from services.orders.events import consumers
from services.orders.settings import SERVICE, Settings
from shared.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The orders service's ASGI app; settings are read from the environment unless given."""
    return create_service_app(SERVICE, routers=[router], consumers=consumers, settings=settings or Settings())
