"""Events of the gateway: it consumes none, and publishes what other services keep of doctors' accounts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import Account
from services.gateway.settings import SERVICE
from shared.events.doctors import DoctorRegistered, DoctorUpdated
from shared.messaging.consumer import Consumer
from shared.messaging.outbox import add_event

consumers: list[Consumer] = []


def profile_fields(account: Account) -> dict[str, object]:
    """The profile of ``doctor.*`` events, as the account is now."""
    return {
        "doctor_id": account.id,
        "email": account.email,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "language": account.language,
        "email_notifications": dict(account.email_notifications),
        "daily_digest": account.daily_digest,
        "time_zone": account.time_zone,
    }


def publish_registered(session: AsyncSession, account: Account, practice_name: str) -> None:
    """Write ``doctor.registered`` to the outbox (aggregate version 1)."""
    payload = DoctorRegistered(**profile_fields(account), practice_name=practice_name)  # type: ignore[arg-type]
    add_event(session, payload, source=SERVICE, subject=account.id, aggregate_version=account.version)


def publish_updated(session: AsyncSession, account: Account) -> None:
    """Bump the account's version and write ``doctor.updated`` with the whole profile to the outbox."""
    account.version += 1
    payload = DoctorUpdated(**profile_fields(account))  # type: ignore[arg-type]
    add_event(session, payload, source=SERVICE, subject=account.id, aggregate_version=account.version)
