"""The internal service token (ARCHITECTURE.md rule 10): who the gateway says the caller is.

The gateway authenticates the user, then sends each service ``Authorization: Bearer <internal token>``: a JWT
(RFC 7519) signed with HMAC-SHA256 under ``PORTAL_INTERNAL_TOKEN_SECRET``, valid for
``PORTAL_INTERNAL_TOKEN_TTL_SECONDS``, with issuer ``portal-gateway`` and audience ``portal-services``, carrying the
user id (``sub``), the role, the doctor id the request acts for and, for a doctor who is another doctor's
collaborator, those collaborations (``collaborations``: ``[[collaborator_id, owner doctor id, [permission, ...]]]``).
Services verify it and enforce ownership themselves; the client's own credentials never travel past the gateway.
Signing and verifying cost about 50 and 80 µs of CPU, paid once per view part: :class:`MintedTokens` reuses a
principal's token for the first half of its lifetime and :class:`VerifiedTokens` remembers the tokens it has verified
until they expire.
The role ``patient`` is an anonymous visitor of a patient link: it may read that link's page and nothing else.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, Literal, TypeVar

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


def _verified(settings: PortalSettings, token: str) -> tuple[Principal, float]:
    """The principal of a valid token and its expiry (POSIX seconds); raises :class:`InvalidInternalToken`."""
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
        principal = Principal(
            uuid.UUID(claims["sub"]), role, uuid.UUID(doctor_id) if doctor_id else None, collaborations
        )
        return principal, float(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidInternalToken(str(exc)) from exc


CACHED_TOKENS = 4096
"""How many principals' or tokens' entries a cache of this module keeps (the least recently used go first)."""


K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """At most :data:`CACHED_TOKENS` entries, each kept until its own deadline (in whatever clock its caller uses)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K, now: float) -> V | None:
        """The value of ``key`` while its deadline is after ``now``, else None."""
        found = self._entries.get(key)
        if found is None or found[1] <= now:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, until: float) -> None:
        """Keep ``value`` for ``key`` until ``until``, dropping the least recently used entry when full."""
        self._entries[key] = (value, until)
        self._entries.move_to_end(key)
        if len(self._entries) > CACHED_TOKENS:
            self._entries.popitem(last=False)


class MintedTokens:
    """The gateway's tokens by principal: a principal's token is reused while at least half its lifetime is left, so
    every call it makes in that time carries the same token (and the services' :class:`VerifiedTokens` know it)."""

    def __init__(self, settings: PortalSettings) -> None:
        self.settings = settings
        self._tokens: _Expiring[Principal, str] = _Expiring()

    def token(self, principal: Principal) -> str:
        """A valid token for ``principal`` with at least half the configured TTL left."""
        now = time.monotonic()
        token = self._tokens.get(principal, now)
        if token is None:
            token = mint_internal_token(self.settings, principal)
            self._tokens.put(principal, token, now + self.settings.internal_token_ttl_seconds / 2)
        return token


class VerifiedTokens:
    """A service's verified tokens: a token verified once is taken at its word until its ``exp`` (read again, a
    valid token says the same; only valid tokens are kept, so a bad one is refused every time)."""

    def __init__(self, settings: PortalSettings) -> None:
        self.settings = settings
        self._principals: _Expiring[str, Principal] = _Expiring()

    def principal(self, token: str) -> Principal:
        """The principal of ``token``; raises :class:`InvalidInternalToken` when it is not valid (now)."""
        principal = self._principals.get(token, time.time())
        if principal is None:
            principal, expires = _verified(self.settings, token)
            self._principals.put(token, principal, expires)
        return principal
