"""Events about notifications, published by the notifications service, and the notification kinds every service
names.

``notification.created`` has the notification as its aggregate (``subject`` = notification id, version 1);
``email.sent`` has the e-mail delivery as its aggregate (``subject`` = delivery id, version 1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.events.catalogue import event

NOTIFICATION_KINDS: tuple[str, ...] = (
    "setup_published",
    "records_missing",
    "submission_problem",
    "phase_shipped",
    "last_phase_delivered",
    "case_on_hold",
    "case_resumed",
    "case_expiring_soon",
    "case_expired",
    "setup_ready_for_approval",
)
"""Every kind of notification a doctor can receive from the life of a case, each with its own e-mail switch in the
doctor's account (all on by default). Staff broadcasts are of kind ``broadcast`` and have no switch."""

Severity = Literal["info", "warning", "critical"]
"""How much a notification asks of the doctor: ``info`` to know, ``warning`` to act on, ``critical`` to act on now."""


@event("notification.created", 1)
class NotificationCreated(BaseModel):
    """A notification reached a doctor's carousel (``doctor_id``), or a staff broadcast reached its ``audience``
    (``"all"`` or a list of doctor ids; ``doctor_id`` None). ``source_event_id`` is the event it tells of."""

    notification_id: str
    kind: str
    doctor_id: str | None
    audience: Literal["all"] | list[str] | None = None
    case_id: str | None = None
    severity: Severity
    title: str
    created_at: AwareDatetime
    expires_at: AwareDatetime
    source_event_id: str | None = None


@event("email.sent", 1)
class EmailSent(BaseModel):
    """An e-mail left for the doctor: one notification (``kind``) or the daily digest (``kind`` ``daily_digest``)
    of ``notification_ids``. ``transport`` is ``smtp``, or ``file`` when no SMTP server is configured (written as an
    ``.eml`` file); ``message_id`` is its RFC 5322 ``Message-ID``."""

    delivery_id: str
    doctor_id: str
    kind: str
    notification_ids: list[str] = Field(default_factory=list)
    language: str
    transport: Literal["smtp", "file"]
    message_id: str
    attempts: int = Field(ge=1)
    sent_at: AwareDatetime
