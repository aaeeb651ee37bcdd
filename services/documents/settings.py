"""Settings of the documents service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from shared.settings import PortalSettings

SERVICE = "documents"


class Settings(PortalSettings):
    """The documents service's settings (environment variables ``PORTAL_*``)."""
