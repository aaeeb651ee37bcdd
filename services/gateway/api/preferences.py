"""Routes of the account area: e-mail notification switches and clinical preferences (API.md "Identity and
account"). Both are read with defaults filled in and replaced whole by PUT."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway.auth import Database, Doctor
from services.gateway.events import publish_updated
from services.gateway.models import Account
from services.gateway.schemas import ClinicalPreferences, EmailNotifications
from shared.db import utcnow
from shared.events.notifications import NOTIFICATION_KINDS

router = APIRouter(tags=["account"])
CLINICAL_DEFAULTS: dict[str, Any] = {
    "ipr_allowed": True,
    "attachments_allowed": True,
    "arches": "both",
    "dentition": "permanent",
    "duration_mode": "recommend",
}
"""Clinical preferences of a doctor who has not set them (the wear schedule's default is the account's, 14)."""


def notifications_of(account: Account) -> EmailNotifications:
    """The account's switches: every kind of ``NOTIFICATION_KINDS`` (on unless switched off), and the digest."""
    kinds = {kind: account.email_notifications.get(kind, True) for kind in NOTIFICATION_KINDS}
    return EmailNotifications.model_validate({"kinds": kinds, "daily_digest": account.daily_digest})


def preferences_of(account: Account) -> ClinicalPreferences:
    """The account's clinical preferences, with ``CLINICAL_DEFAULTS`` for those never set."""
    stored = {**CLINICAL_DEFAULTS, **account.clinical_preferences, "wear_schedule_days": account.wear_schedule_days}
    return ClinicalPreferences.model_validate(stored)


@router.get("/account/email-notifications", response_model=EmailNotifications)
async def read_email_notifications(caller: Doctor) -> EmailNotifications:
    """The doctor's e-mail switches: ``{"kinds": {kind: bool, ...}, "daily_digest": bool}`` with every kind of
    ``NOTIFICATION_KINDS``. 403 for other roles."""
    return notifications_of(caller.account)


@router.put("/account/email-notifications", response_model=EmailNotifications)
async def replace_email_notifications(body: EmailNotifications, caller: Doctor, db: Database) -> EmailNotifications:
    """Replace the switches with ``{"kinds": {kind: bool, ...}, "daily_digest": bool}`` and answer them. Every kind
    must be given: 422 names each missing or unknown one (``kinds.<kind>``). A change publishes ``doctor.updated``
    in the same transaction, so the notifications service hears of it; the same switches again publish nothing.
    403 for other roles."""
    account = caller.account
    if body.model_dump() != notifications_of(account).model_dump():
        account.email_notifications = body.kinds.model_dump()  # type: ignore[attr-defined]
        account.daily_digest = body.daily_digest
        account.updated_at = utcnow()
        publish_updated(db, account)
        await db.commit()
    return body


@router.get("/account/preferences", response_model=ClinicalPreferences)
async def read_preferences(caller: Doctor) -> ClinicalPreferences:
    """The doctor's clinical defaults for new orders: ``{wear_schedule_days, ipr_allowed, attachments_allowed,
    arches, dentition, duration_mode, max_steps, instructions}``, with defaults for those never set (14, true,
    true, "both", "permanent", "recommend", null, null). 403 for other roles."""
    return preferences_of(caller.account)


@router.put("/account/preferences", response_model=ClinicalPreferences)
async def replace_preferences(body: ClinicalPreferences, caller: Doctor, db: Database) -> ClinicalPreferences:
    """Replace the clinical defaults (same shape as the GET; every field required but ``max_steps``, which goes
    with ``duration_mode: "limit"`` only, and ``instructions``) and answer them. 422 lists every invalid, missing
    or unknown field at once; 403 for other roles. The wear schedule is the account's (also in PATCH /account)."""
    account = caller.account
    account.wear_schedule_days = body.wear_schedule_days
    account.clinical_preferences = body.model_dump(exclude={"wear_schedule_days"})
    account.updated_at = utcnow()
    await db.commit()
    return body
