"""Registration, sign-in, throttling, sign-out, the session cookie with its CSRF token, and password changes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from services.gateway.tests.conftest import (
    PASSWORD,
    Gateway,
    gateway_settings,
    listening,
    next_envelope,
    registration,
    running_gateway,
    sign_up,
)

WINDOW_SECONDS = 2
MAX_PER_ACCOUNT = 3
MAX_PER_ADDRESS = 5
WRONG_PASSWORD = "Not-The-Password-99"


@pytest.fixture
async def throttled(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """A gateway that throttles sign-in after 3 failures for one e-mail or 5 from one address, over 2 s."""
    settings = gateway_settings(
        tmp_path,
        vhost_url,
        database_url,
        login_max_failures_per_account=MAX_PER_ACCOUNT,
        login_max_failures_per_address=MAX_PER_ADDRESS,
        login_window_seconds=WINDOW_SECONDS,
    )
    async with running_gateway(settings) as gateway:
        yield gateway


async def login(client: httpx.AsyncClient, email: object, password: str = PASSWORD) -> httpx.Response:
    """Try to sign in."""
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_register_refuses_a_taken_email_and_a_weak_password(gateway: Gateway) -> None:
    account, _ = await sign_up(gateway)
    async with gateway.client() as client:
        taken = await client.post("/auth/register", json=registration(str(account["email"]).upper()))
        assert taken.status_code == 409, taken.text
        assert taken.headers["content-type"].startswith("application/problem+json")
        for weak in ("short", "password123", "aaaaaaaaaaaa", "Lefèvre-2026-x"):
            refused = await client.post("/auth/register", json=registration(password=weak))
            assert refused.status_code == 422, (weak, refused.text)
            assert "password" in [error["field"] for error in refused.json()["errors"]], (weak, refused.text)
        role = await client.post("/auth/register", json=registration(role="admin"))
        assert role.status_code == 422 and [e["field"] for e in role.json()["errors"]] == ["role"]


async def test_unknown_email_and_wrong_password_look_the_same(gateway: Gateway) -> None:
    account, _ = await sign_up(gateway)
    async with gateway.client() as client:
        wrong = await login(client, account["email"], WRONG_PASSWORD)
        unknown = await login(client, f"nobody-{uuid.uuid4().hex[:8]}@example.org", WRONG_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def fail_then_sign_in(client: httpx.AsyncClient, wrong: list[str], email: object) -> httpx.Response | None:
    """Fail to sign in once as each of ``wrong``, then sign in as ``email`` with the right password. None when that
    took longer than the window, a 200 then proving nothing (the first failures may have left the window): the
    caller waits for the window to pass and tries again."""
    started = time.monotonic()
    for tried in wrong:
        failed = await login(client, tried, WRONG_PASSWORD)
        assert failed.status_code == 401, failed.text
    answer = await login(client, email)
    if answer.status_code != 429 and time.monotonic() - started >= WINDOW_SECONDS:
        return None
    return answer


async def throttled_sign_in(client: httpx.AsyncClient, wrong: list[str], email: object) -> httpx.Response:
    """The answer to a sign-in after the failures of ``wrong`` (tried again when the machine was too slow)."""
    for _ in range(3):
        answer = await fail_then_sign_in(client, wrong, email)
        if answer is not None:
            return answer
        await asyncio.sleep(WINDOW_SECONDS + 0.3)
    raise AssertionError(f"{len(wrong)} failed sign-ins never fitted in {WINDOW_SECONDS} s")


async def test_failures_for_one_account_are_throttled_until_the_window_passes(throttled: Gateway) -> None:
    account, _ = await sign_up(throttled)
    other, _ = await sign_up(throttled)
    email = str(account["email"])
    wrong = [email.upper() if attempt % 2 else email for attempt in range(MAX_PER_ACCOUNT)]
    async with throttled.client() as client:
        blocked = await throttled_sign_in(client, wrong, email)
        assert blocked.status_code == 429, blocked.text
        assert 1 <= int(blocked.headers["retry-after"]) <= WINDOW_SECONDS
        assert "access_token" not in blocked.text and "set-cookie" not in blocked.headers
        assert (await login(client, other["email"])).status_code == 200, "another account is not throttled"
        await asyncio.sleep(WINDOW_SECONDS + 0.3)
        released = await login(client, email)
        assert released.status_code == 200, released.text


async def test_failures_from_one_address_are_throttled_until_the_window_passes(throttled: Gateway) -> None:
    account, _ = await sign_up(throttled)
    async with throttled.client() as client:
        wrong = [f"guess-{uuid.uuid4().hex[:8]}@example.org" for _ in range(MAX_PER_ADDRESS)]
        blocked = await throttled_sign_in(client, wrong, account["email"])
        assert blocked.status_code == 429, blocked.text
        assert 1 <= int(blocked.headers["retry-after"]) <= WINDOW_SECONDS
        await asyncio.sleep(WINDOW_SECONDS + 0.3)
        released = await login(client, account["email"])
        assert released.status_code == 200, released.text


async def test_guesses_sent_at_once_cannot_pass_the_limit_together(gateway: Gateway) -> None:
    account, _ = await sign_up(gateway)
    async with gateway.client() as client:
        answers = await asyncio.gather(*(login(client, account["email"], WRONG_PASSWORD) for _ in range(40)))
    statuses = sorted(answer.status_code for answer in answers)
    limit = gateway.settings.login_max_failures_per_account
    assert statuses.count(401) <= limit and set(statuses) <= {401, 429}, statuses


async def test_logout_revokes_the_token(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    _, other_token = await sign_up(gateway)
    async with gateway.client(token) as client:
        assert (await client.get("/account")).status_code == 200
        assert (await client.post("/auth/logout")).status_code == 204
        after = await client.get("/account")
        assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"
        assert (await client.post("/auth/logout")).status_code == 401
    async with gateway.client(other_token) as client:
        assert (await client.get("/account")).status_code == 200, "another session lives on"


async def test_session_cookie_needs_the_csrf_token_to_change_state(gateway: Gateway) -> None:
    account, _ = await sign_up(gateway)
    async with gateway.client() as client:
        signed_in = await login(client, account["email"])
    assert signed_in.status_code == 200
    cookie = SimpleCookie(signed_in.headers["set-cookie"])
    name = gateway.settings.session_cookie_name
    assert cookie[name]["httponly"] and cookie[name]["samesite"].lower() == "lax"
    assert cookie[name]["secure"]  # outside development (these tests run with PORTAL_ENV=test)
    csrf = signed_in.json()["csrf_token"]
    headers = {"Cookie": f"{name}={cookie[name].value}"}
    async with httpx.AsyncClient(base_url=gateway.base, headers=headers, timeout=30) as browser:
        read = await browser.get("/account")
        assert read.status_code == 200 and read.json()["email"] == account["email"]
        forged = await browser.patch("/account", json={"wear_schedule_days": 21})
        assert forged.status_code == 403, forged.text
        wrong = await browser.patch("/account", json={"wear_schedule_days": 21}, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403, wrong.text
        assert (await browser.get("/account")).json()["wear_schedule_days"] == 14
        changed = await browser.patch("/account", json={"wear_schedule_days": 21}, headers={"X-CSRF-Token": csrf})
        assert changed.status_code == 200, changed.text
        assert changed.json()["wear_schedule_days"] == 21
    async with httpx.AsyncClient(base_url=gateway.base, timeout=30) as stranger:
        foreign = await stranger.patch(
            "/account", json={"wear_schedule_days": 7}, headers={"X-CSRF-Token": csrf, "Cookie": f"{name}=dps_forged"}
        )
        assert foreign.status_code == 401


async def test_password_change_needs_the_current_one_and_ends_the_other_sessions(gateway: Gateway) -> None:
    account, other_session = await sign_up(gateway)
    _, someone_else = await sign_up(gateway)
    async with gateway.client() as client:
        current = (await login(client, account["email"])).json()["access_token"]
    new_password = "Another-Long-Passphrase-77"
    async with gateway.client(current) as client:
        wrong = await client.put(
            "/account/password", json={"current_password": WRONG_PASSWORD, "new_password": new_password}
        )
        assert wrong.status_code == 403, wrong.text
        async with gateway.client(other_session) as other:
            assert (await other.get("/account")).status_code == 200, "a refused change ends nothing"
        weak = await client.put("/account/password", json={"current_password": PASSWORD, "new_password": "short"})
        assert weak.status_code == 422 and "new_password" in [e["field"] for e in weak.json()["errors"]]
        changed = await client.put(
            "/account/password", json={"current_password": PASSWORD, "new_password": new_password}
        )
        assert changed.status_code == 204, changed.text
        assert (await client.get("/account")).status_code == 200, "the current session lives on"
    async with gateway.client(other_session) as other:
        assert (await other.get("/account")).status_code == 401
    async with gateway.client(someone_else) as client:
        assert (await client.get("/account")).status_code == 200, "another account's sessions live on"
    async with gateway.client() as client:
        assert (await login(client, account["email"])).status_code == 401
        assert (await login(client, account["email"], new_password)).status_code == 200


async def test_registration_is_published(gateway: Gateway) -> None:
    body = registration()
    async with listening(gateway, "doctor.registered.v1") as queue:
        async with gateway.client() as client:
            created = await client.post("/auth/register", json=body)
            assert created.status_code == 201, created.text
        envelope = await next_envelope(queue)
    assert envelope["type"] == "doctor.registered" and envelope["version"] == 1
    assert envelope["subject"] == created.json()["id"]
    payload = envelope["payload"]
    assert isinstance(payload, dict)
    assert payload["email"] == body["email"] and payload["doctor_id"] == created.json()["id"]
    assert payload["practice_name"] == "Cabinet Lefèvre"
