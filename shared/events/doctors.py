"""Events about doctors' accounts, published by the gateway (the aggregate is the doctor; subject = doctor id)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.events.catalogue import event


class DoctorProfile(BaseModel):
    """What other services keep of a doctor: how to address and reach them, and what they want to hear about.

    ``email_notifications`` maps a notification kind to whether the doctor wants an e-mail for it;
    ``language`` is an ISO 639-1 code (``en``, ``fr``); ``time_zone`` an IANA time zone name (``Europe/Paris``), in
    which the doctor's periods (month to date, ...) are counted.
    """

    doctor_id: str
    email: str
    first_name: str
    last_name: str
    language: str
    email_notifications: dict[str, bool] = Field(default_factory=dict)
    daily_digest: bool = False
    time_zone: str = "UTC"


@event("doctor.registered", 1)
class DoctorRegistered(DoctorProfile):
    """A doctor created an account (with their first practice)."""

    practice_name: str


@event("doctor.updated", 1)
class DoctorUpdated(DoctorProfile):
    """A doctor changed their name, e-mail, language or notification switches (the whole profile, as it is now)."""


@event("collaborator.invited", 1)
class CollaboratorInvited(BaseModel):
    """A doctor invited a colleague by e-mail, with permissions among ``view``, ``comment``, ``evaluate_setups``."""

    doctor_id: str
    collaborator_id: str
    email: str
    permissions: list[str]
