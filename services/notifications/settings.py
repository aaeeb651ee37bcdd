"""Settings of the notifications service: the shared :class:`~shared.settings.PortalSettings` plus its own."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from shared.events.notifications import NOTIFICATION_KINDS
from shared.settings import PortalSettings

SERVICE = "notifications"

DEFAULT_EXPIRY_DAYS: dict[str, int] = {
    "setup_published": 30,
    "records_missing": 30,
    "submission_problem": 30,
    "phase_shipped": 14,
    "last_phase_delivered": 14,
    "case_on_hold": 30,
    "case_resumed": 7,
    "case_expiring_soon": 14,
    "case_expired": 30,
    "setup_ready_for_approval": 30,
}
"""Days a notification of each kind stays in the carousel unless its case moves on first. A case-expiring-soon
notice also ends on the case's expiry day at the latest."""


class Settings(PortalSettings):
    """The notifications service's settings (environment variables ``PORTAL_*``).

    - ``notification_expiry_days``: days each kind stays in the carousel, e.g.
      ``PORTAL_NOTIFICATION_EXPIRY_DAYS='{"phase_shipped": 7}'``; kinds not named keep :data:`DEFAULT_EXPIRY_DAYS`.
    - ``smtp_host`` (none by default: e-mails are written as ``.eml`` files under ``<data_dir>/mail``),
      ``smtp_port``, ``smtp_username``, ``smtp_password``, ``smtp_tls`` (``starttls`` when the server offers it,
      ``implicit`` for TLS from the first byte, port 465, or ``none``), ``smtp_timeout_seconds``; ``mail_from`` is
      the ``From`` address.
    - ``email_max_attempts``: sends of one e-mail before it is given up as failed; between them the delay starts at
      ``email_retry_initial_seconds`` and doubles up to ``email_retry_max_seconds``. ``email_poll_seconds``: how often
      the sender looks for e-mails due.
    - ``case_url_template``: the address an e-mail links a case to, with ``{case_id}`` in it (a web client's case
      page, e.g. ``https://portal.example.org/cases/{case_id}``); by default the case in the gateway's API,
      ``<public_url>/api/v1/cases/{case_id}``.
    - ``digest_hour``: the hour (0-23, in each doctor's own time zone) the daily digest goes out, gathering the
      notifications of the 24 hours before; ``digest_check_seconds``: how often the digest job looks.

    Raises ``pydantic.ValidationError`` for an unknown notification kind or a value out of range.
    """

    notification_expiry_days: dict[str, int] = Field(default_factory=dict)
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: str = Field("starttls", pattern="^(starttls|implicit|none)$")
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    mail_from: str = "Doctor Portal <no-reply@doctor-portal.invalid>"
    email_max_attempts: int = Field(8, ge=1)
    email_retry_initial_seconds: float = Field(5.0, gt=0)
    email_retry_max_seconds: float = Field(900.0, gt=0)
    email_poll_seconds: float = Field(1.0, gt=0)
    case_url_template: str | None = Field(None, pattern=r"\{case_id\}")
    digest_hour: int = Field(7, ge=0, le=23)
    digest_check_seconds: float = Field(300.0, gt=0)

    @field_validator("notification_expiry_days")
    @classmethod
    def _known_kinds(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(NOTIFICATION_KINDS))
        if unknown:
            raise ValueError(
                f"unknown notification kind(s) {', '.join(unknown)}; known: {', '.join(NOTIFICATION_KINDS)}"
            )
        if any(days < 1 for days in value.values()):
            raise ValueError("a notification lasts at least 1 day")
        return value

    def case_url(self, case_id: str) -> str:
        """Where an e-mail sends the doctor to see case ``case_id``."""
        template = self.case_url_template or f"{self.public_base}/api/v1/cases/{{case_id}}"
        return template.replace("{case_id}", case_id)

    def expiry_days(self, kind: str) -> int:
        """Days a notification of ``kind`` lasts (configured, else :data:`DEFAULT_EXPIRY_DAYS`)."""
        return self.notification_expiry_days.get(kind, DEFAULT_EXPIRY_DAYS[kind])
