"""Settings of the gateway service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from shared.settings import PortalSettings

SERVICE = "gateway"


class Settings(PortalSettings):
    """The gateway service's settings (environment variables ``PORTAL_*``)."""
