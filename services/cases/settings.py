"""Settings of the cases service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from pydantic import Field

from shared.settings import PortalSettings

SERVICE = "cases"


class Settings(PortalSettings):
    """The cases service's settings (environment variables ``PORTAL_*``).

    ``expiry_check_seconds``: how often the expiry job runs (reminders 90, 30 and 7 days before, then expiry).
    Patient links last ``patient_link_default_days`` unless the doctor asks for another number of days (at most
    ``patient_link_max_days``); past ``patient_link_max_failures_per_link`` wrong passwords for one link, or
    ``patient_link_max_failures_per_address`` from one client address, within ``patient_link_window_seconds``, the
    link answers 429 until the window has moved on.
    """

    expiry_check_seconds: float = Field(300.0, gt=0)
    patient_link_default_days: int = Field(30, ge=1)
    patient_link_max_days: int = Field(365, ge=1)
    patient_link_window_seconds: int = Field(15 * 60, ge=1)
    patient_link_max_failures_per_link: int = Field(5, ge=1)
    patient_link_max_failures_per_address: int = Field(20, ge=1)
