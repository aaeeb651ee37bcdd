"""Settings of the orders service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from shared.settings import PortalSettings

SERVICE = "orders"


class Settings(PortalSettings):
    """The orders service's settings (environment variables ``PORTAL_*``)."""
