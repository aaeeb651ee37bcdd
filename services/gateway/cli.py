"""``portal admin``: commands on the gateway's accounts, run beside the system (same ``PORTAL_*`` settings).

``portal admin create-admin`` creates an admin in the gateway database (``PORTAL_GATEWAY_DATABASE_URL``, or the
SQLite file under the data directory), which must already be migrated (``portal migrate gateway``).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from services.gateway.accounts import EmailTaken, create_account, problems_of
from services.gateway.models import Account
from services.gateway.schemas import NewAccount
from services.gateway.settings import SERVICE
from shared.db import create_engine, session_factory
from shared.settings import get_settings

app = typer.Typer(help="Manage the gateway's administrator accounts.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="the admin's e-mail (the sign-in name)")],
    first_name: Annotated[str, typer.Option(help="the admin's first name")],
    last_name: Annotated[str, typer.Option(help="the admin's last name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input instead of a prompt")
    ] = False,
) -> None:
    """Create an admin account and print its id. The password is asked twice (hidden) unless --password-stdin is
    given. Exits 1 when the e-mail is taken, the password is too weak or the database cannot be written."""
    password = _password_from_stdin() if password_stdin else _password_from_prompt()
    try:
        details = NewAccount(email=email, first_name=first_name, last_name=last_name, password=password)
    except ValidationError as exc:
        raise _fail(f"refused: {problems_of(exc)}") from None
    try:
        account = asyncio.run(_create(details))
    except EmailTaken:
        raise _fail(f"refused: an account with the e-mail {details.email.lower()} already exists") from None
    except (DBAPIError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise _fail(f"cannot write the gateway database (is it migrated? `portal migrate gateway`): {reason}") from None
    typer.echo(account.id)


def _password_from_prompt() -> str:
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending."""
    return sys.stdin.readline().rstrip("\r\n")


async def _create(details: NewAccount) -> Account:
    engine = create_engine(get_settings().database_url_of(SERVICE))
    try:
        async with session_factory(engine)() as db:
            return await create_account(db, details, "admin")
    finally:
        await engine.dispose()
