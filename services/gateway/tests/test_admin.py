"""The first admin (from the configuration at start-up, or from ``portal admin create-admin``) and the staff
accounts admins create."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.gateway.app import create_app
from services.gateway.models import Account
from services.gateway.tests.conftest import (
    PASSWORD,
    Gateway,
    database_rows,
    gateway_settings,
    running_gateway,
    sign_in,
    sign_up,
)
from tests.harness.fixtures import migrate

ADMIN_EMAIL = "chief@example.org"
REPOSITORY = Path(__file__).resolve().parents[3]


async def start_and_stop(app: FastAPI) -> None:
    """Run the app's start-up and shut-down, as a replica that starts and is stopped again."""
    async with app.router.lifespan_context(app):
        pass


@pytest.fixture
async def admin_gateway(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway configured with a first admin (``ADMIN_EMAIL``, ``PASSWORD``), on each kind of database."""
    settings = gateway_settings(tmp_path, vhost_url, database_url, admin_email=ADMIN_EMAIL, admin_password=PASSWORD)
    async with running_gateway(settings) as gateway:
        yield gateway


async def test_the_configured_admin_is_created_once_across_starts(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = gateway_settings(tmp_path, vhost_url, database_url, admin_email=ADMIN_EMAIL, admin_password=PASSWORD)
    await migrate("gateway", settings)
    await asyncio.gather(start_and_stop(create_app(settings)), start_and_stop(create_app(settings)))  # two replicas
    async with running_gateway(settings) as gateway:  # and a restart
        async with gateway.client(await sign_in(gateway, ADMIN_EMAIL)) as admin:
            assert (await admin.get("/account")).json()["role"] == "admin"
    admins = await database_rows(gateway.settings, select(Account.email).where(Account.role == "admin"))
    assert admins == [(ADMIN_EMAIL,)]


async def test_a_weak_configured_admin_password_stops_the_start(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    settings = gateway_settings(tmp_path, vhost_url, database_url, admin_email=ADMIN_EMAIL, admin_password="short")
    await migrate("gateway", settings)
    with pytest.raises(RuntimeError, match="PORTAL_ADMIN_PASSWORD refused.*at least 10 characters"):
        await start_and_stop(create_app(settings))
    assert await database_rows(settings, select(Account.id)) == []


async def test_the_admin_creates_a_staff_account_that_can_sign_in(admin_gateway: Gateway) -> None:
    staff = {"email": "Lab.Tech@Example.org", "password": PASSWORD, "first_name": "Lin", "last_name": "Okafor"}
    async with admin_gateway.client(await sign_in(admin_gateway, ADMIN_EMAIL)) as admin:
        created = await admin.post("/admin/staff", json=staff)
        assert created.status_code == 201, created.text
        assert (created.json()["role"], created.json()["email"]) == ("staff", "lab.tech@example.org")
        assert "password" not in created.text
        duplicate = await admin.post("/admin/staff", json={**staff, "email": "lab.tech@example.org"})
        assert duplicate.status_code == 409, duplicate.text
        for refused_body in ({**staff, "email": "other@example.org", "role": "admin"}, {**staff, "password": "short"}):
            refused = await admin.post("/admin/staff", json=refused_body)
            assert refused.status_code == 422, refused.text
    async with admin_gateway.client(await sign_in(admin_gateway, "lab.tech@example.org")) as member:
        account = (await member.get("/account")).json()
        assert (account["id"], account["role"]) == (created.json()["id"], "staff")


async def test_only_admins_create_staff(admin_gateway: Gateway) -> None:
    staff = {"email": "lab@example.org", "password": PASSWORD, "first_name": "Lin", "last_name": "Okafor"}
    async with admin_gateway.client(await sign_in(admin_gateway, ADMIN_EMAIL)) as admin:
        assert (await admin.post("/admin/staff", json=staff)).status_code == 201
    _, doctor_token = await sign_up(admin_gateway)
    staff_token = await sign_in(admin_gateway, staff["email"])
    attempt = {**staff, "email": f"new-{uuid.uuid4().hex[:8]}@example.org"}
    for token in (doctor_token, staff_token):
        async with admin_gateway.client(token) as caller:
            refused = await caller.post("/admin/staff", json=attempt)
            assert refused.status_code == 403, refused.text
    async with admin_gateway.client() as anonymous:
        assert (await anonymous.post("/admin/staff", json=attempt)).status_code == 401
    created = await database_rows(admin_gateway.settings, select(Account.id).where(Account.email == attempt["email"]))
    assert created == []


def portal(database_url: str, data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """Run ``portal <args>`` as its own process on the gateway database ``database_url``, without a terminal."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PORTAL_")}
    env |= {"PORTAL_GATEWAY_DATABASE_URL": database_url, "PORTAL_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        input=stdin,
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no controlling terminal: a hidden prompt reads standard input
    )


async def create_admin_with_cli(
    gateway: Gateway, tmp_path: Path, email: str, *options: str, stdin: str
) -> subprocess.CompletedProcess[str]:
    """``portal admin create-admin`` for ``email`` against the gateway's database."""
    args = ("admin", "create-admin", "--email", email, "--first-name", "Ada", "--last-name", "Byron", *options)
    url = gateway.settings.database_url_of("gateway")
    return await asyncio.to_thread(portal, url, tmp_path / "cli", *args, stdin=stdin)


async def test_the_cli_creates_an_admin_who_can_sign_in_and_refuses_a_duplicate(
    gateway: Gateway, tmp_path: Path
) -> None:
    created = await create_admin_with_cli(gateway, tmp_path, "Ada@Example.org", "--password-stdin", stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    account_id = created.stdout.strip()
    assert str(uuid.UUID(account_id)) == account_id
    async with gateway.client(await sign_in(gateway, "ada@example.org")) as admin:
        account = (await admin.get("/account")).json()
        assert (account["id"], account["role"]) == (account_id, "admin")
        staff = {"email": "lab@example.org", "password": PASSWORD, "first_name": "Lin", "last_name": "Okafor"}
        assert (await admin.post("/admin/staff", json=staff)).status_code == 201
    duplicate = await create_admin_with_cli(gateway, tmp_path, "ada@example.org", "--password-stdin", stdin=PASSWORD)
    assert (duplicate.returncode, duplicate.stdout) == (1, "")
    assert "already exists" in duplicate.stderr


async def test_the_cli_refuses_a_weak_or_unconfirmed_password(gateway: Gateway, tmp_path: Path) -> None:
    weak = await create_admin_with_cli(gateway, tmp_path, "ada@example.org", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    mismatch = await create_admin_with_cli(gateway, tmp_path, "ada@example.org", stdin=f"{PASSWORD}\nsomething else\n")
    assert mismatch.returncode == 1 and "do not match" in mismatch.stderr + mismatch.stdout
    prompted = await create_admin_with_cli(gateway, tmp_path, "ada@example.org", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.returncode == 0, prompted.stderr
    roles = await database_rows(gateway.settings, select(Account.role).where(Account.email == "ada@example.org"))
    assert roles == [("admin",)]
