"""``portal demo`` (``make demo``): the product at work in under two minutes, beside a running system.

It creates a lab account in the gateway's database (as ``portal admin`` does, since a fresh system has no admin to
create one: so it runs beside the system, with the same settings), a demo doctor through the public API (and prints
the sign-in), submits three aligner orders with the sample records of case-01 (``shared.cli.samples``), runs the lab
simulator (``shared.cli.lab``) with short delays on those three cases only, approves the first case's setup and
answers any records problem (another lab may be running) as the doctor would, and stops once the cases sit in three
statuses:

- the first ``shipped`` (setup approved with package ONE, phase 1 on its way, the expiry date set),
- the second ``setup_approval_pending`` (its setup waits for the doctor),
- the third ``awaiting_records`` (sent without the three face photos).

Then it prints the doctor's orders list as a table.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from services.gateway.accounts import create_account
from services.gateway.schemas import NewAccount
from services.gateway.settings import SERVICE as GATEWAY
from shared.cli.lab import Lab, LabPlan, LabRefused, Unavailable, available
from shared.cli.samples import CASE_01, samples_dir
from shared.db import create_engine, is_sqlite, session_factory
from shared.settings import PortalSettings

DEADLINE_SECONDS = 90.0
"""How long the demo waits for the cases to reach their statuses."""
FACE_PHOTOS = ("photo.face_frontal", "photo.face_smiling", "photo.face_profile")


class DemoFailed(Exception):
    """The demo could not go on: the system does not answer, refused a step, or the cases did not get there in
    time. The message says which."""


@dataclass(frozen=True)
class Login:
    """An account the demo made: its e-mail and password."""

    email: str
    password: str


@dataclass(frozen=True)
class DemoCase:
    """One order of the demo: the patient, the records sent (slots of case-01) and the status it should reach."""

    first_name: str
    last_name: str
    date_of_birth: str
    sex: str
    slots: tuple[str, ...]
    goal: str


WITHOUT_FACES = tuple(slot for slot in CASE_01 if slot not in FACE_PHOTOS)
CASES = (
    DemoCase("Léa", "Dubois", "2009-03-14", "female", tuple(CASE_01), "shipped"),
    DemoCase("Hugo", "Bernard", "1987-11-02", "male", tuple(CASE_01), "setup_approval_pending"),
    DemoCase("Inès", "Moreau", "2012-07-29", "female", WITHOUT_FACES, "awaiting_records"),
)


def _order(case: DemoCase) -> dict[str, Any]:
    """A complete aligner order from digital scans for ``case``'s patient (API.md "Order body")."""
    return {
        "kind": "aligner",
        "patient": {
            "first_name": case.first_name,
            "last_name": case.last_name,
            "date_of_birth": case.date_of_birth,
            "sex": case.sex,
        },
        "general": {"arches": "both", "chief_concern": "Lower incisors crowded", "duration": {"mode": "recommend"}},
        "records": {"scans": "digital", "scanner": "iTero Element"},
        "treatment_approach": {
            "ap_relationship": {"right": "maintain", "left": "maintain"},
            "overjet": "maintain",
            "overbite": "improve",
            "midline": "maintain",
            "crossbite": {"anterior": "maintain", "posterior": "maintain"},
            "crowding": {"upper": ["expand"], "lower": ["ipr", "procline"]},
            "spacing": "close",
            "extractions": [],
            "teeth_not_to_move": [],
        },
        "additional": {"instructions": "Keep the lower canines' roots upright."},
        "terms_accepted": True,
    }


async def create_lab_account(settings: PortalSettings) -> Login:
    """A new staff account with a random password, written to the gateway's database; raises :class:`DemoFailed`
    when that database is not there or not migrated (the demo is not run beside the system it talks to)."""
    url = settings.database_url_of(GATEWAY)
    hint = "run `make demo` from the repository's folder, with the same PORTAL_* settings as `make run`"
    if is_sqlite(url) and not Path(make_url(url).database or "").is_file():
        raise DemoFailed(f"no gateway database at {make_url(url).database}: {hint}")
    login = Login(f"lab-{uuid.uuid4().hex[:8]}@example.org", secrets.token_urlsafe(18))
    details = NewAccount(email=login.email, first_name="Demo", last_name="Lab", password=login.password)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            await create_account(db, details, "staff")
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise DemoFailed(f"could not write the lab's account to the gateway database ({reason}): {hint}") from None
    finally:
        await engine.dispose()
    return login


async def _ok(answer: httpx.Response, *statuses: int) -> Any:
    """The answer's JSON body; raises :class:`~shared.cli.lab.Unavailable` while the system is down and
    :class:`DemoFailed` for any other status than ``statuses`` (200 by default)."""
    if available(answer).status_code not in (statuses or (200,)):
        asked = f"{answer.request.method} {answer.request.url.path}"
        raise DemoFailed(f"{asked} answered {answer.status_code}: {answer.text[:300]}")
    return answer.json() if answer.content else None


async def register_doctor(api: httpx.AsyncClient) -> Login:
    """Register a demo doctor and sign ``api`` in as them."""
    login = Login(f"demo-{uuid.uuid4().hex[:8]}@example.org", secrets.token_urlsafe(18))
    body = {
        "email": login.email,
        "password": login.password,
        "first_name": "Jeanne",
        "last_name": "Roussel",
        "country": "FR",
        "language": "en",
        "practice": {
            "name": "Cabinet dentaire du Parc",
            "address": {"line1": "8 place Bellecour", "city": "Lyon", "postal_code": "69002", "country": "FR"},
            "phone": "+33 4 78 00 00 00",
        },
    }
    await _ok(await api.post("/auth/register", json=body), 201)
    token = await _ok(await api.post("/auth/login", json={"email": login.email, "password": login.password}))
    api.headers["Authorization"] = f"Bearer {token['access_token']}"
    return login


async def submit_orders(api: httpx.AsyncClient, folder: Path, console: Console) -> list[str]:
    """Create the demo's orders, upload their records with a progress bar, submit them; the case ids, in order."""
    drafts = [await _ok(await api.post("/orders", json=_order(case)), 201) for case in CASES]
    uploads = [(draft, slot) for draft, case in zip(drafts, CASES, strict=True) for slot in case.slots]
    total = sum((folder / CASE_01[slot]).stat().st_size for _, slot in uploads)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("uploading records", total=total)
        for draft, slot in uploads:
            path = folder / CASE_01[slot]
            progress.update(task, description=f"{draft['order_number']} {slot:<24}")
            with path.open("rb") as file:
                sent = await api.post(
                    f"/cases/{draft['case_id']}/documents", data={"slot": slot}, files={"file": (path.name, file)}
                )
            await _ok(sent, 201)
            progress.advance(task, path.stat().st_size)
        progress.update(task, description="records uploaded")
    for draft in drafts:
        await _ok(await api.post(f"/orders/{draft['id']}/submit"), 202)
    return [draft["case_id"] for draft in drafts]


async def rows_of(api: httpx.AsyncClient, case_ids: list[str]) -> list[dict[str, Any] | None]:
    """The doctor's orders list row of each case (None while it is not listed yet)."""
    items = (await _ok(await api.get("/cases", params={"page_size": 200})))["items"]
    found = {item["id"]: item for item in items}
    return [found.get(case_id) for case_id in case_ids]


async def work_cases(doctor: httpx.AsyncClient, lab: Lab, case_ids: list[str], console: Console) -> None:
    """Run the lab on the demo's cases, approve the first case's setup and answer records problems as the doctor,
    until every case reached its goal, riding out the system's short outages; raises :class:`DemoFailed` after
    :data:`DEADLINE_SECONDS` or when the system refuses the lab."""
    goals = [case.goal for case in CASES]
    deadline = time.monotonic() + DEADLINE_SECONDS
    now: list[str | None] = [None] * len(case_ids)
    with console.status("the lab works the cases") as status:
        while now != goals:
            if time.monotonic() > deadline:
                raise DemoFailed(f"the cases did not reach {goals} within {DEADLINE_SECONDS:.0f} s (now {now})")
            try:
                rows = await rows_of(doctor, case_ids)
                now = [row["status"] if row else None for row in rows]
                status.update("the lab works the cases: " + ", ".join(s or "not listed yet" for s in now))
                await _act_as_doctor(doctor, rows, console)
                await lab.tick()
            except (httpx.TransportError, Unavailable) as exc:
                status.update(f"the portal does not answer ({exc}); waiting")
            except LabRefused as exc:
                raise DemoFailed(str(exc)) from None
            await asyncio.sleep(0.5)


async def _act_as_doctor(doctor: httpx.AsyncClient, rows: list[dict[str, Any] | None], console: Console) -> None:
    """What the demo doctor does, from the orders list's ``rows`` of the demo's cases: approve the first case's
    pending setup (package ONE), and answer a records problem a lab raised (another ``portal lab`` may run)."""
    first = rows[0]
    if first is not None and first["status"] == "setup_approval_pending":
        version = first["setup"]["version"]
        approve = f"/cases/{first['id']}/setups/{version}/approve"
        await _ok(await doctor.post(approve, json={"package": "ONE"}))
        console.log(f"{first['order_number']}: setup v{version} approved by the doctor, package ONE")
    for row in rows:
        if row is not None and row["status"] == "submission_problem":
            answer = {"answer": "The photos were taken again and sent by e-mail to the lab."}
            await _ok(await doctor.post(f"/cases/{row['id']}/records-problem/answer", json=answer))
            console.log(f"{row['order_number']}: the doctor answered the lab's records problem")


def orders_table(items: list[dict[str, Any]]) -> Table:
    """The orders list as a table: order number, patient, status, setup, expiry."""
    table = Table("order number", "patient", "status", "treatment setup", "expires", title="Orders list")
    for item in items:
        setup = item["setup"]
        shown = f"v{setup['version']} {setup['state']}" if setup else "-"
        table.add_row(
            item["order_number"],
            f"{item['patient']['first_name']} {item['patient']['last_name']}",
            item["status_label"],
            shown,
            (item["expires_at"] or "-")[:10],
        )
    return table


@contextmanager
def _answering(url: str) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        hint = "start it with `make run` in another terminal"
        raise DemoFailed(f"the portal does not answer at {url} ({exc}): {hint}") from exc


async def run_demo(settings: PortalSettings, console: Console) -> None:
    """The whole demo against the system ``settings`` describe; raises :class:`DemoFailed`."""
    base = f"{settings.public_base}/api/v1"
    folder = samples_dir() / "case-01"
    absent = [name for name in CASE_01.values() if not (folder / name).is_file()]
    if absent:
        raise DemoFailed(f"the samples folder {folder} lacks {', '.join(absent)}")
    with _answering(settings.public_base):
        async with (
            httpx.AsyncClient(base_url=base, timeout=60) as doctor,
            httpx.AsyncClient(base_url=base, timeout=60) as staff,
        ):
            await _ok(await doctor.get(f"{settings.public_base}/readyz"))
            lab_login = await create_lab_account(settings)
            login = await register_doctor(doctor)
            console.print(f"Demo doctor: {login.email}, password {login.password}", markup=False)
            case_ids = await submit_orders(doctor, folder, console)
            plan = LabPlan(setup_delay=1.0, production_delay=1.0)
            say = lambda line: console.log(line, markup=False)  # noqa: E731
            lab = Lab(staff, lab_login.email, lab_login.password, plan, say=say, cases=frozenset(case_ids))
            await work_cases(doctor, lab, case_ids, console)
            items = (await _ok(await doctor.get("/cases", params={"page_size": 200})))["items"]
    console.print(orders_table(items))
    console.print(f"Sign in as {login.email} with the password {login.password} to look around.")
    console.print(
        "Keep the lab going: "
        f"PORTAL_LAB_EMAIL={lab_login.email} PORTAL_LAB_PASSWORD={lab_login.password} "
        f".venv/bin/portal lab --url {settings.public_base}",
        markup=False,
        soft_wrap=True,
    )
