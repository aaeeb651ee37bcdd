"""Settings of the cases service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from shared.settings import PortalSettings

SERVICE = "cases"


class Settings(PortalSettings):
    """The cases service's settings (environment variables ``PORTAL_*``)."""
