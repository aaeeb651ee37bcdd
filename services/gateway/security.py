"""The gateway's rules for credentials: what a password must be, and the prefixes of its tokens.

A password must pass :func:`password_problems`, a length-first rule after NIST SP 800-63B §5.1.1.2: at least 10
characters, at most 128, not a well-known password, not built from the account's own e-mail or name. Hashing and
token digests are ``shared.credentials``'.
"""

from __future__ import annotations

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
