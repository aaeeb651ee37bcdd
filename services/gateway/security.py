"""Passwords, tokens and their digests.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile) and must pass
:func:`password_problems`, a length-first rule after NIST SP 800-63B §5.1.1.2: at least 10 characters, at most 128,
not a well-known password, not built from the account's own e-mail or name. Tokens are 256-bit random values
(``secrets.token_urlsafe(32)``) stored only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_TOKEN_PREFIX = "dps_"
API_KEY_PREFIX = "dpk_"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password12", "password123", "passw0rd", "1234567890", "12345678910",
        "0123456789", "qwertyuiop", "qwerty1234", "iloveyou12", "abcdefghij", "1q2w3e4r5t", "letmein123",
        "welcome123", "changeme12", "administrator", "aligner123", "orthodontics", "dentist123",
    }
)  # fmt: skip

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has, to spend the same time on unknown e-mails")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (a PHC string with its own salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown account) spends the same time and answers False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, *, email: str = "", names: tuple[str, ...] = ()) -> list[str]:
    """Why ``password`` is too weak (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append("is too common or too repetitive")
    personal = [email.split("@")[0].lower(), *(name.lower() for name in names)]
    if any(part and len(part) >= 3 and part in lowered for part in personal):
        problems.append("must not contain your e-mail or name")
    return problems


def new_token(prefix: str) -> str:
    """A fresh bearer secret: ``prefix`` followed by 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(token: str, expected_digest: str) -> bool:
    """Whether ``token`` has the digest ``expected_digest`` (compared in constant time)."""
    return hmac.compare_digest(digest(token), expected_digest)
