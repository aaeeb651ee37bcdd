"""Settings of the notifications service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from shared.settings import PortalSettings

SERVICE = "notifications"


class Settings(PortalSettings):
    """The notifications service's settings (environment variables ``PORTAL_*``)."""
