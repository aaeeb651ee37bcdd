"""App factory of the notifications service (``uvicorn services.notifications.app:create_app --factory``)."""

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.deliveries import send_due
from services.notifications.digest import queue_digests
from services.notifications.events import Notifier
from services.notifications.settings import SERVICE, Settings
from shared.db import utcnow
from shared.service import Runtime, create_service_app, start_job
from shared.settings import PortalSettings


def create_app(settings: PortalSettings | None = None, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The notifications service's ASGI app; settings are read from the environment unless given (shared settings
    given get the service's own defaults added). ``clock`` gives the current instant to the routes, the e-mail
    sender and the digest job (tests pass a clock they move)."""
    resolved = (
        settings if isinstance(settings, Settings) else Settings(**settings.model_dump()) if settings else Settings()
    )

    async def start_jobs(runtime: Runtime) -> None:
        """Start-up hook: the clock for the routes, then the e-mail sender and the digest job in the background;
        they stop with the service."""
        runtime.extensions["clock"] = clock
        sessions = runtime.sessions
        start_job(runtime, "email-sender", lambda: send_due(sessions, resolved, clock), resolved.email_poll_seconds)
        start_job(runtime, "digest", lambda: queue_digests(sessions, resolved, clock()), resolved.digest_check_seconds)

    consumers = Notifier(resolved).consumers
    return create_service_app(SERVICE, routers=[router], consumers=consumers, settings=resolved, startup=[start_jobs])
