"""The internal service token: minted by the gateway, verified by every service (no I/O); the gateway reuses a
principal's token for half its lifetime and a service takes a token it verified at its word only until it expires."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import jwt
import pytest

from shared.db import utcnow
from shared.internal_token import (
    AUDIENCE,
    ISSUER,
    Collaboration,
    InvalidInternalToken,
    MintedTokens,
    Principal,
    VerifiedTokens,
    mint_internal_token,
)
from shared.settings import PortalSettings

SETTINGS = PortalSettings(internal_token_secret="s" * 40)
DOCTOR = Principal(user_id=uuid.uuid4(), role="doctor", doctor_id=uuid.uuid4())


def verify_internal_token(settings: PortalSettings, token: str) -> Principal:
    return VerifiedTokens(settings).principal(token)


def test_round_trip_keeps_user_role_and_doctor() -> None:
    assert verify_internal_token(SETTINGS, mint_internal_token(SETTINGS, DOCTOR)) == DOCTOR
    staff = Principal(user_id=uuid.uuid4(), role="staff", doctor_id=None)
    assert verify_internal_token(SETTINGS, mint_internal_token(SETTINGS, staff)) == staff


def test_round_trip_keeps_the_collaborations() -> None:
    shared_with = (Collaboration("c-1", str(uuid.uuid4()), ("view", "evaluate_setups")), Collaboration("c-2", "d", ()))
    colleague = Principal(user_id=uuid.uuid4(), role="doctor", doctor_id=uuid.uuid4(), collaborations=shared_with)
    assert verify_internal_token(SETTINGS, mint_internal_token(SETTINGS, colleague)) == colleague


def forged(**claims: object) -> str:
    now = utcnow()
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(DOCTOR.user_id),
        "role": "doctor",
        "iat": now,
        "exp": now + timedelta(seconds=60),
    }
    return jwt.encode(base | claims, "s" * 40, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(mint_internal_token(PortalSettings(internal_token_secret="t" * 40), DOCTOR), id="other-secret"),
        pytest.param(forged(exp=utcnow() - timedelta(seconds=1)), id="expired"),
        pytest.param(forged(role="superuser"), id="unknown-role"),
        pytest.param(forged(aud="someone-else"), id="wrong-audience"),
        pytest.param(forged(iss="someone-else"), id="wrong-issuer"),
        pytest.param(forged(sub="not-a-uuid"), id="bad-subject"),
        pytest.param(forged(collaborations=[["c-1"]]), id="bad-collaboration"),
        pytest.param(forged(collaborations=7), id="collaborations-not-a-list"),
        pytest.param(mint_internal_token(SETTINGS, DOCTOR)[:-2] + "xx", id="tampered"),
        pytest.param("not a token", id="garbage"),
    ],
)
def test_invalid_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(SETTINGS, token)


def test_the_gateway_reuses_a_principals_token_for_half_its_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = MintedTokens(SETTINGS)
    first = tokens.token(DOCTOR)
    staff = Principal(user_id=uuid.uuid4(), role="staff", doctor_id=None)
    assert tokens.token(DOCTOR) == first and tokens.token(staff) != first
    later = time.monotonic() + SETTINGS.internal_token_ttl_seconds / 2 + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    renewed = tokens.token(DOCTOR)
    assert renewed != first and verify_internal_token(SETTINGS, renewed) == DOCTOR


def test_a_verified_token_is_refused_once_it_expires_and_a_bad_one_every_time() -> None:
    tokens = VerifiedTokens(SETTINGS)
    short = forged(exp=utcnow() + timedelta(seconds=1))
    assert tokens.principal(short).user_id == DOCTOR.user_id
    assert tokens.principal(short).user_id == DOCTOR.user_id
    tampered = short[:-2] + "xx"
    for _ in range(2):
        with pytest.raises(InvalidInternalToken):
            tokens.principal(tampered)
    time.sleep(1.1)
    with pytest.raises(InvalidInternalToken):
        tokens.principal(short)
