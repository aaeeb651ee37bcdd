"""The ``portal`` command (typer). Settings come from the same ``PORTAL_*`` / ``RABBITMQ_URL`` variables as the
services, so a command talks to the system it is run beside."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from aio_pika.exceptions import AMQPError
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.exc import SQLAlchemyError

from services.gateway.cli import app as admin_app
from shared.cli.demo import DemoFailed, run_demo
from shared.cli.dlq import list_dead_letters, replay_dead_letters
from shared.cli.lab import Lab, LabPlan, LabRefused
from shared.cli.run import BrokerUnavailable, PortsTaken, run_system
from shared.db import create_engine, session_factory, transaction
from shared.messaging.outbox import OutboxStatus, outbox_status, redrive_parked
from shared.migrations import upgrade
from shared.settings import SERVICES, get_settings

T = TypeVar("T")
app = typer.Typer(help="Doctor Portal: run the system and operate its messaging.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and re-drive the services' transactional outboxes.", no_args_is_help=True)
dlq_app = typer.Typer(help="List and replay dead-lettered messages of a queue.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(dlq_app, name="dlq")
app.add_typer(admin_app, name="admin")
console = Console(log_path=False)
errors = Console(stderr=True)


def _run(work: Coroutine[Any, Any, T], doing: str) -> T:
    """Run ``work``; a broker or database that is not there, or not ready, ends the command with one line."""
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)  # its own error lines would repeat ours
    try:
        return asyncio.run(work)
    except (AMQPError, OSError, SQLAlchemyError, TimeoutError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        errors.print(f"portal: could not {doing}: {reason}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _service(name: str) -> str:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; one of: {', '.join(SERVICES)}")
    return name


@app.command()
def run() -> None:
    """Migrate every database and run all five services until Ctrl-C or SIGTERM."""
    try:
        code = run_system(get_settings())
    except (BrokerUnavailable, PortsTaken) as exc:
        errors.print(str(exc), markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:  # a setting the environment gives wrongly: one line each, naming it
        for error in exc.errors():
            named = f"PORTAL_{'_'.join(str(part) for part in error['loc']).upper()}: " if error["loc"] else ""
            errors.print(named + error["msg"].removeprefix("Value error, "), markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:  # Ctrl-C during the broker check or the migrations, before any service started
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@app.command()
def lab(
    email: Annotated[str, typer.Option(envvar="PORTAL_LAB_EMAIL", help="the staff account the lab signs in as")],
    password: Annotated[
        str, typer.Option(envvar="PORTAL_LAB_PASSWORD", prompt=True, hide_input=True, help="its password")
    ],
    url: Annotated[
        str | None, typer.Option(help="the gateway's address, e.g. http://127.0.0.1:8000 (default: PORTAL_PUBLIC_URL)")
    ] = None,
    setup_delay: Annotated[float, typer.Option(min=0, help="seconds before a setup is published")] = 10.0,
    production_delay: Annotated[float, typer.Option(min=0, help="seconds between production steps")] = 10.0,
    problem_share: Annotated[float, typer.Option(min=0, max=1, help="share of cases given a records problem")] = 0.0,
    steps_per_phase: Annotated[int, typer.Option(min=1, help="aligner steps made and shipped in one phase")] = 10,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between looks at the cases")] = 1.0,
) -> None:
    """Simulate a lab through the staff API until Ctrl-C: setups published, records problems raised, PVS
    impressions received, phases made, shipped and delivered, each once (see shared/cli/lab.py)."""
    plan = LabPlan(setup_delay, production_delay, problem_share, steps_per_phase)
    base = (url or get_settings().public_base).rstrip("/")

    def say(line: str) -> None:
        console.print(f"{datetime.now():%H:%M:%S} {line}", markup=False, highlight=False, soft_wrap=True)

    async def simulate() -> None:
        async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=60) as api:
            await Lab(api, email, password, plan, say=say).run(interval)

    if not base.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{base!r} is not an http:// or https:// address", param_hint="--url")
    try:
        asyncio.run(simulate())
    except LabRefused as exc:
        errors.print(f"portal lab: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command()
def demo() -> None:
    """With the system running (`make run`), create a demo doctor, submit three orders of the sample records, let a
    simulated lab work them into different statuses, and print the orders list."""
    try:
        asyncio.run(run_demo(get_settings(), console))
    except (DemoFailed, FileNotFoundError) as exc:
        errors.print(f"portal demo: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def migrate(
    service: Annotated[list[str] | None, typer.Argument(help="services to migrate (all when omitted)")] = None,
) -> None:
    """Bring the services' databases (every one, or those named) to their latest migration."""
    names = [_service(name) for name in service] if service else list(SERVICES)
    settings = get_settings()
    for name in names:
        upgrade(name, settings)
    console.print(f"migrated: {', '.join(names)}")


@outbox_app.command("status")
def outbox_status_command(
    service: Annotated[list[str] | None, typer.Argument(help="services to show (all when omitted)")] = None,
) -> None:
    """Rows pending, parked and sent in each service's outbox, and the age of the oldest pending one."""
    names = [_service(name) for name in service] if service else list(SERVICES)
    statuses = _run(_statuses(names), "read the outboxes (is every database migrated? `portal migrate`)")
    table = Table("service", "pending", "parked", "sent", "oldest pending (s)")
    for name, status in zip(names, statuses, strict=True):
        age = f"{status.oldest_pending_age_seconds:.1f}" if status.oldest_pending_age_seconds is not None else "-"
        table.add_row(name, str(status.pending), str(status.parked), str(status.sent), age)
    console.print(table)


async def _statuses(names: list[str]) -> list[OutboxStatus]:
    settings = get_settings()
    found = []
    for name in names:
        engine = create_engine(settings.database_url_of(name))
        try:
            async with session_factory(engine)() as session:
                found.append(await outbox_status(session))
        finally:
            await engine.dispose()
    return found


@outbox_app.command("redrive")
def outbox_redrive(
    service: Annotated[str, typer.Argument(help="the service whose parked rows to re-drive")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="only these event ids (repeatable)")] = None,
) -> None:
    """Give parked outbox rows a fresh set of publish attempts (the running relay picks them up)."""

    async def redrive() -> int:
        engine = create_engine(get_settings().database_url_of(_service(service)))
        try:
            async with transaction(session_factory(engine)) as session:
                return await redrive_parked(session, ids)
        finally:
            await engine.dispose()

    console.print(f"re-driven: {_run(redrive(), f're-drive the {service} outbox')}")


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str, typer.Argument(help="the consumer queue, e.g. cases.order-events")],
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line instead of a table")] = False,
) -> None:
    """Show the messages in ``<queue>.dlq`` (they stay there)."""
    letters = _run(list_dead_letters(get_settings(), queue, limit), f"read {queue}.dlq")
    if as_json:
        for letter in letters:
            fields = {"message_id": letter.message_id, "type": letter.event_type, "kind": letter.kind}
            typer.echo(json.dumps({**fields, "reason": letter.reason, "body": letter.body.decode("utf-8", "replace")}))
        return
    table = Table(
        Column("message id", no_wrap=True), "type", "kind", "reason", title=f"{queue}.dlq: {len(letters)} message(s)"
    )
    for letter in letters:
        table.add_row(letter.message_id or "-", letter.event_type or "-", letter.kind, letter.reason)
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    queue: Annotated[str, typer.Argument(help="the consumer queue, e.g. cases.order-events")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="only these message ids (repeatable)")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", exists=True, dir_okay=False, help="repaired body for one --id")
    ] = None,
) -> None:
    """Move messages from ``<queue>.dlq`` back to ``<queue>`` with a fresh set of attempts."""
    body = body_file.read_bytes() if body_file else None
    try:
        moved = _run(replay_dead_letters(get_settings(), queue, set(ids) if ids else None, body), f"replay {queue}.dlq")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"replayed: {moved}")
