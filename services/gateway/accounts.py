"""Creating accounts other than a doctor's self-registration: staff (by an admin), the first admin (from the
configuration at start-up, or from the ``portal admin create-admin`` command).

Everything that creates such an account goes through :func:`create_account`, with details already validated by
:class:`~services.gateway.schemas.NewAccount` (e-mail syntax, names, the password strength rule); the unique e-mail
constraint of the table is what decides between two creations racing for the same e-mail.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import Account
from services.gateway.schemas import NewAccount
from services.gateway.settings import Settings
from shared.credentials import hash_password
from shared.service import Runtime

log = structlog.get_logger(__name__)

Role = Literal["staff", "admin"]
BOOTSTRAP_ADMIN_NAME = ("Portal", "Admin")
"""First and last name of the admin created from the configuration (the admin may change them afterwards)."""


class EmailTaken(Exception):
    """Another account already has this e-mail."""


async def create_account(db: AsyncSession, details: NewAccount, role: Role) -> Account:
    """Create and commit an account with ``role``; its e-mail is stored lower-cased and its password as an argon2id
    hash (computed in a thread, so the event loop keeps serving). Raises :class:`EmailTaken` (after rolling back)
    when the e-mail belongs to an account already."""
    account = Account(
        email=details.email.lower(),
        password_hash=await asyncio.to_thread(hash_password, details.password),
        role=role,
        first_name=details.first_name,
        last_name=details.last_name,
    )
    db.add(account)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise EmailTaken(account.email) from None
    return account


def problems_of(error: ValidationError) -> str:
    """The problems of a validation error on one line: ``field: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg'].removeprefix('Value error, ')}"
        for problem in error.errors()
    )


async def bootstrap_admin(runtime: Runtime) -> None:
    """Start-up hook of the gateway: create the admin of ``PORTAL_ADMIN_EMAIL``/``PORTAL_ADMIN_PASSWORD`` unless an
    account already has that e-mail (so restarts, and replicas starting together, leave exactly one).

    Raises ``RuntimeError`` (after logging it), which stops the start-up, when the password fails the strength rule;
    the rule is checked at every start, whether or not the admin exists already.
    """
    settings = runtime.settings
    if not isinstance(settings, Settings) or settings.admin_email is None or settings.admin_password is None:
        return
    first_name, last_name = BOOTSTRAP_ADMIN_NAME
    try:
        details = NewAccount(
            email=settings.admin_email,
            first_name=first_name,
            last_name=last_name,
            password=settings.admin_password.get_secret_value(),
        )
    except ValidationError as exc:
        message = f"PORTAL_ADMIN_PASSWORD refused, the gateway will not start: {problems_of(exc)}"
        log.error("admin_bootstrap_refused", reason=message)
        raise RuntimeError(message) from None
    async with runtime.sessions() as db:
        email = details.email.lower()
        role = (await db.execute(select(Account.role).where(Account.email == email))).scalar_one_or_none()
        if role is not None:
            if role != "admin":
                log.warning("admin_bootstrap_skipped", reason=f"PORTAL_ADMIN_EMAIL belongs to a {role} account")
            return
        try:
            account = await create_account(db, details, "admin")
        except EmailTaken:
            return  # another replica created it between our look-up and our insert
    log.info("admin_bootstrapped", account_id=account.id)
