"""App factory of the cases service (``uvicorn services.cases.app:create_app --factory``)."""

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm.exc import StaleDataError

from services.cases.api import router
from services.cases.events import consumers
from services.cases.expiry import expiry_run
from services.cases.settings import SERVICE, Settings
from shared.problems import ProblemError
from shared.service import Runtime, create_service_app, start_job
from shared.settings import PortalSettings


async def start_expiry_job(runtime: Runtime) -> None:
    """Start-up hook: run the expiry job (:func:`~services.cases.expiry.expiry_run`) every
    ``expiry_check_seconds`` in the background; it stops with the service."""
    every = runtime.settings.expiry_check_seconds  # type: ignore[attr-defined]
    start_job(runtime, "expiry", lambda: expiry_run(runtime.sessions), every)


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    """The cases service's ASGI app; settings are read from the environment unless given (shared settings given
    get the service's own defaults added). A change that lost a race with another change of the same case (its
    version moved meanwhile) answers 409."""
    resolved = (
        settings if isinstance(settings, Settings) else Settings(**settings.model_dump()) if settings else Settings()
    )
    app = create_service_app(
        SERVICE, routers=[router], consumers=consumers, settings=resolved, startup=[start_expiry_job]
    )

    @app.exception_handler(StaleDataError)
    async def _changed_meanwhile(_request: Request, _exc: StaleDataError) -> Response:
        return ProblemError(
            409, "Conflict", "the case was changed by another request meanwhile; read it and try again"
        ).response()

    return app
