"""App factory of the gateway service (``uvicorn services.gateway.app:create_app --factory``)."""

from fastapi import FastAPI

from services.gateway.accounts import bootstrap_admin
from services.gateway.api import router
from services.gateway.downstream import open_downstream
from services.gateway.events import consumers
from services.gateway.settings import SERVICE, Settings
from shared.service import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway service's ASGI app; settings are read from the environment unless given. At start-up it creates
    the first admin from the configuration when there is one (:func:`~services.gateway.accounts.bootstrap_admin`)
    and opens its clients of the internal services (:mod:`services.gateway.downstream`)."""
    return create_service_app(
        SERVICE,
        routers=[router],
        consumers=consumers,
        settings=settings or Settings(),
        public=True,
        startup=[bootstrap_admin, open_downstream],
    )
