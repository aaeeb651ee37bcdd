"""Secrets a service keeps without storing them: password hashes and token digests.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile). Tokens are
256-bit random values (``secrets.token_urlsafe(32)``) stored only as SHA-256 digests: they are long and random, so a
fast digest is enough to make a stolen table useless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has, to spend the same time on unknown e-mails")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (a PHC string with its own salt and parameters). CPU-bound (tens of ms):
    call it off the event loop."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown account) spends the same time and answers False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str = "") -> str:
    """A fresh bearer secret: ``prefix`` followed by 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(token: str, expected_digest: str) -> bool:
    """Whether ``token`` has the digest ``expected_digest`` (compared in constant time)."""
    return hmac.compare_digest(digest(token), expected_digest)
