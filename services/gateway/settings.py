"""Settings of the gateway: the shared :class:`~shared.settings.PortalSettings` plus sign-in and session rules."""

from pydantic import EmailStr, Field, SecretStr, model_validator

from shared.settings import PortalSettings

SERVICE = "gateway"


class Settings(PortalSettings):
    """The gateway's settings (environment variables ``PORTAL_*``).

    ``admin_email``/``admin_password`` create the first admin at start-up when no account has that e-mail yet.
    Sign-in failures are counted over ``login_window_seconds``: past ``login_max_failures_per_account`` for one
    e-mail or ``login_max_failures_per_address`` for one client address, sign-in answers 429 until the window
    has moved on. ``view_deadline_seconds`` bounds each composed view (dashboard, case page): a part of it that has
    not answered by then is left out (optional) or fails the view with 503 (required).
    """

    session_ttl_seconds: int = Field(12 * 3600, ge=60)
    session_cookie_name: str = "portal_session"
    login_window_seconds: int = Field(15 * 60, ge=1)
    login_max_failures_per_account: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(20, ge=1)
    view_deadline_seconds: float = Field(3.0, gt=0, le=60)
    admin_email: EmailStr | None = None
    admin_password: SecretStr | None = None

    @model_validator(mode="after")
    def _admin_needs_both(self) -> "Settings":
        if (self.admin_email is None) != (self.admin_password is None):
            raise ValueError("PORTAL_ADMIN_EMAIL and PORTAL_ADMIN_PASSWORD go together")
        return self

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` everywhere but in development (a developer's plain-HTTP loopback); a production
        gateway must then be reached over HTTPS (a TLS-terminating proxy in front of it)."""
        return self.env != "development"
