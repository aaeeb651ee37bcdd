"""The internal service token (ARCHITECTURE.md rule 10): who the gateway says the caller is.

The gateway authenticates the user, then sends each service ``Authorization: Bearer <internal token>``: a JWT
(RFC 7519) signed with HMAC-SHA256 under ``PORTAL_INTERNAL_TOKEN_SECRET``, valid for
``PORTAL_INTERNAL_TOKEN_TTL_SECONDS``, with issuer ``portal-gateway`` and audience ``portal-services``, carrying the
user id (``sub``), the role, the doctor id the request acts for and, for a doctor who is another doctor's
collaborator, those collaborations (``collaborations``: ``[[collaborator_id, owner doctor id, [permission, ...]]]``).
Services verify it and enforce ownership themselves; the client's own credentials never travel past the gateway.
The role ``patient`` is an anonymous visitor of a patient link: it may read that link's page and nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import jwt

from shared.db import utcnow
from shared.settings import PortalSettings

ISSUER = "portal-gateway"
AUDIENCE = "portal-services"
ALGORITHM = "HS256"
Role = Literal["doctor", "collaborator", "staff", "admin", "patient"]
ROLES: tuple[str, ...] = ("doctor", "collaborator", "staff", "admin", "patient")
STAFF_ROLES = frozenset({"staff", "admin"})
"""The lab's roles: staff, and admins acting as staff."""


class InvalidInternalToken(Exception):
    """The token is missing, malformed, expired, wrongly signed or carries an unknown role."""


@dataclass(frozen=True)
class Collaboration:
    """The caller is collaborator ``collaborator_id`` of doctor ``doctor_id`` with ``permissions`` among ``view``,
    ``comment`` and ``evaluate_setups`` (API.md "Identity and account"): it may work on the cases that doctor shared
    with that collaborator."""

    collaborator_id: str
    doctor_id: str
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """The caller a request acts for: user id, role, the doctor whose data it may touch (None for staff), and the
    doctors it collaborates with."""

    user_id: uuid.UUID
    role: Role
    doctor_id: uuid.UUID | None
    collaborations: tuple[Collaboration, ...] = ()


def mint_internal_token(settings: PortalSettings, principal: Principal) -> str:
    """A signed token for ``principal``, valid for the configured TTL from now."""
    now = utcnow()
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(principal.user_id),
        "role": principal.role,
        "doctor_id": str(principal.doctor_id) if principal.doctor_id else None,
        "collaborations": [[c.collaborator_id, c.doctor_id, list(c.permissions)] for c in principal.collaborations],
        "iat": now,
        "exp": now + timedelta(seconds=settings.internal_token_ttl_seconds),
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, settings.internal_token_secret.get_secret_value(), algorithm=ALGORITHM)


def verify_internal_token(settings: PortalSettings, token: str) -> Principal:
    """The principal of a valid token; raises :class:`InvalidInternalToken` otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.internal_token_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        role = claims.get("role")
        if role not in ROLES:
            raise InvalidInternalToken(f"unknown role {role!r}")
        doctor_id = claims.get("doctor_id")
        collaborations = tuple(
            Collaboration(str(collaborator), str(owner), tuple(str(p) for p in permissions))
            for collaborator, owner, permissions in claims.get("collaborations") or []
        )
        return Principal(uuid.UUID(claims["sub"]), role, uuid.UUID(doctor_id) if doctor_id else None, collaborations)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidInternalToken(str(exc)) from exc
