"""App factory of the notifications service (``uvicorn services.notifications.app:create_app --factory``)."""

import asyncio
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.deliveries import run_sender
from services.notifications.digest import run_digests
from services.notifications.events import Notifier
from services.notifications.settings import SERVICE, Settings
from shared.db import utcnow
from shared.service import Runtime, create_service_app
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
        for name, job in (("email-sender", run_sender), ("digest", run_digests)):
            task = asyncio.create_task(job(runtime.sessions, resolved, clock), name=f"{SERVICE}-{name}")
            runtime.tasks.append(task)

    consumers = Notifier(resolved).consumers
    return create_service_app(SERVICE, routers=[router], consumers=consumers, settings=resolved, startup=[start_jobs])
