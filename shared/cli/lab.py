"""``portal lab``: a simulated lab that works the cases through the gateway's staff API only (API.md "Staff (lab)
API"), as a lab's own system would, so the product can be seen and tested end to end without lab technicians.

What it does to each case, after a wait of its own:

- ``setup_in_progress``: before the first setup, quality control raises a records problem on a stable share of the
  cases (once per case); then a technician publishes the next treatment setup version with a PDF setup report;
- ``awaiting_records`` with PVS impressions: the impressions box arrives;
- ``in_production`` and ``shipped``: the phases of the approved setup are made ``steps_per_phase`` aligner steps at a
  time, each shipped with a carrier and a tracking number, then delivered, the last one as final.

Nothing is done twice, even across restarts of the system or of the simulator: every step is decided from what the
staff API shows now, a created setup or phase carries an ``Idempotency-Key`` made of the case and the version or
phase number, and a step the case has already gone past is refused (409) by the system and left at that. While the
system does not answer, the simulator says so once and keeps trying.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from shared.idempotency import REPLAY_HEADER

WORKED = ("setup_in_progress", "awaiting_records", "in_production", "shipped")
"""The statuses in which a case waits for the lab."""
PROBLEM_SLOT = "photo.upper_occlusal"
PROBLEM_REASON = "The upper occlusal photo is blurred and cut off at the molars: please take it again."


class LabRefused(Exception):
    """The system refused the lab's credentials (401) or its role (403): the simulator cannot go on."""


class Unavailable(Exception):
    """The system answered 502, 503 or 504: it is (re)starting or a service behind the gateway is down."""


@dataclass(frozen=True)
class LabPlan:
    """How the simulated lab works. Delays are seconds from the moment the lab first sees a case at a stage (a
    restarted simulator waits them again, which a real lab would too)."""

    setup_delay: float = 10.0
    """Seconds before a case in ``setup_in_progress`` gets its setup (or its records problem)."""
    production_delay: float = 10.0
    """Seconds between production steps: phase made, shipped, delivered; and before PVS impressions arrive."""
    problem_share: float = 0.0
    """Share of cases (0 to 1) whose records quality control rejects once, chosen by the case id."""
    steps_per_phase: int = 10
    """Aligner steps made and shipped in one phase."""
    carrier: str = "DHL Express"


def share_of(case_id: str, purpose: str) -> float:
    """A number in [0, 1) that depends only on ``case_id`` and ``purpose``: a decision taken with it is the same
    after a restart."""
    digest = hashlib.sha256(f"{case_id}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def setup_steps(case_id: str, version: int) -> tuple[int, int]:
    """The aligner steps of setup ``version`` of the case, ``(upper, lower)``: 12 to 27 upper, 4 fewer lower."""
    upper = 12 + int(share_of(case_id, f"steps-{version}") * 16)
    return upper, upper - 4


def setup_report(order_number: str, version: int, steps: tuple[int, int]) -> bytes:
    """A one-page PDF treatment setup report (the setup's file as a lab exports it), A4."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    lines = [
        f"Treatment setup v{version} - {order_number}",
        f"Upper arch: {steps[0]} steps; lower arch: {steps[1]} steps",
        "IPR: 0.2 mm between 31/41 and 32/42 at step 4",
        "Attachments: 13, 23 (vertical rectangular), 35, 45 (optimised rotation)",
    ]
    for row, line in enumerate(lines):
        canvas.drawString(72, 770 - 22 * row, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class Lab:
    """The simulated lab, signed in as the staff account ``email`` on the gateway ``api`` (an
    :class:`httpx.AsyncClient` whose base URL ends in ``/api/v1``), working every case, or only those of ``cases``.
    ``say`` gets one line per thing done."""

    api: httpx.AsyncClient
    email: str
    password: str
    plan: LabPlan = field(default_factory=LabPlan)
    say: Callable[[str], None] = print
    cases: frozenset[str] | None = None
    clock: Callable[[], float] = time.monotonic
    _next: dict[str, float] = field(default_factory=dict)
    _stage: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    _signed_in: bool = False

    async def sign_in(self) -> None:
        """Sign in (``POST /auth/login``); raises :class:`LabRefused` when the credentials are refused."""
        answer = await self.api.post("/auth/login", json={"email": self.email, "password": self.password})
        if answer.status_code in (401, 403, 422, 429):
            raise LabRefused(f"the lab's sign-in as {self.email} was refused: {_detail(answer)}")
        body = _json(self._check(answer))
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            status = answer.status_code
            raise LabRefused(
                f"{self.api.base_url} is not the Doctor Portal API (its sign-in answered {status}): "
                "--url is the gateway's root address, e.g. http://127.0.0.1:8000"
            )
        self.api.headers["Authorization"] = f"Bearer {token}"
        if not self._signed_in:
            self.say(f"the lab works the cases at {self.api.base_url} as {self.email}")
        self._signed_in = True

    async def tick(self) -> int:
        """Look once at every case waiting for the lab and do what is due; returns how many things were done.
        Raises :class:`Unavailable` or :class:`httpx.TransportError` when the system does not answer, and
        :class:`LabRefused` when it refuses the lab."""
        if not self._signed_in:
            await self.sign_in()
        done = 0
        rows = await self._cases()
        for gone in set(self._stage) - {row["id"] for row in rows}:
            del self._stage[gone], self._next[gone]
        for row in rows:
            if await self._work(row):
                done += 1
        return done

    async def run(self, interval: float = 1.0) -> None:
        """Tick every ``interval`` seconds until cancelled, riding out the system's restarts and outages (said once
        each). Raises :class:`LabRefused`."""
        down = False
        while True:
            try:
                await self.tick()
            except (httpx.TransportError, Unavailable) as exc:
                if not down:
                    self.say(f"the portal does not answer ({type(exc).__name__}: {exc}); trying again")
                down = True
            else:
                if down:
                    self.say("the portal answers again")
                down = False
            await asyncio.sleep(interval)

    async def _work(self, row: dict[str, Any]) -> bool:
        """Do the case's next step if it is due; whether something was done."""
        case_id, status = row["id"], row["status"]
        stage = (status, (row["setup"] or {}).get("version"))
        delay = self.plan.setup_delay if status == "setup_in_progress" else self.plan.production_delay
        now = self.clock()
        if self._stage.get(case_id) != stage:
            self._stage[case_id], self._next[case_id] = stage, now + delay
        if now < self._next[case_id]:
            return False
        self._next[case_id] = now + delay
        if status == "setup_in_progress":
            return await self._prepare_setup(row)
        if status == "awaiting_records":
            return await self._receive_impressions(row)
        return await self._produce(row)

    async def _prepare_setup(self, row: dict[str, Any]) -> bool:
        case_id, number = row["id"], row["order_number"]
        if row["setup"] is None and share_of(case_id, "records-problem") < self.plan.problem_share:
            page = await self._get(f"/staff/cases/{case_id}")
            if not any(entry["kind"] == "raise_records_problem" for entry in page["history"]):
                body = {"reason": PROBLEM_REASON, "slots": [PROBLEM_SLOT]}
                answer = await self._send("POST", f"/staff/cases/{case_id}/records-problem", json=body)
                return self._report(answer, number, f"records problem raised ({PROBLEM_SLOT})")
        version = (row["setup"] or {}).get("version", 0) + 1
        steps = setup_steps(case_id, version)
        form = {
            "technician_comment": "IPR 0.2 mm 31/41 and 32/42 at step 4; attachments on 13, 23, 35, 45.",
            "steps_upper": str(steps[0]),
            "steps_lower": str(steps[1]),
        }
        report = (f"setup-{number}-v{version}.pdf", setup_report(number, version, steps), "application/pdf")
        answer = await self._send(
            "POST",
            f"/staff/cases/{case_id}/setups",
            data=form,
            files={"file": report},
            headers={"Idempotency-Key": f"lab-setup-{case_id}-v{version}"},
        )
        return self._report(answer, number, f"setup v{version} published ({steps[0]} upper, {steps[1]} lower steps)")

    async def _receive_impressions(self, row: dict[str, Any]) -> bool:
        records = (await self._get(f"/staff/cases/{row['id']}"))["case"]["records"]
        if not records["pvs_impressions"] or records["impressions_received_at"]:
            self._next[row["id"]] = float("inf")  # it waits for the doctor's uploads, until its status changes
            return False
        answer = await self._send("POST", f"/staff/cases/{row['id']}/impressions-received")
        return self._report(answer, row["order_number"], "PVS impressions received")

    async def _produce(self, row: dict[str, Any]) -> bool:
        """Make, ship or deliver the next phase of the approved setup."""
        case_id, number = row["id"], row["order_number"]
        case = (await self._get(f"/staff/cases/{case_id}"))["case"]
        setups = (await self._get(f"/staff/cases/{case_id}/setups", params={"page_size": 200}))["items"]
        approved = max((s for s in setups if s["state"] == "approved"), key=lambda s: s["version"], default=None)
        if approved is None:
            return False
        total = max(approved["steps_upper"], approved["steps_lower"])
        since = _moment(case["approved_at"])
        phases = case["phases"]
        current = [p for p in phases if since is None or _moment(p["created_at"]) >= since]
        last = current[-1] if current else None
        base = f"/staff/cases/{case_id}/phases"
        if last is None or (last["delivered_at"] and last["steps_to"] < total):
            following = phases[-1]["number"] + 1 if phases else 1
            first = last["steps_to"] + 1 if last else 1
            body = {
                "number": following,
                "steps_from": first,
                "steps_to": min(total, first + self.plan.steps_per_phase - 1),
            }
            key = {"Idempotency-Key": f"lab-phase-{case_id}-{following}"}
            answer = await self._send("POST", base, json=body, headers=key)
            return self._report(answer, number, f"phase {following} in production (steps {first}-{body['steps_to']})")
        if last["shipped_at"] is None:
            tracking = f"JD{int(share_of(case_id, 'tracking-' + str(last['number'])) * 10**16):016d}"
            body = {"carrier": self.plan.carrier, "tracking_number": tracking}
            answer = await self._send("POST", f"{base}/{last['number']}/ship", json=body)
            return self._report(answer, number, f"phase {last['number']} shipped with {self.plan.carrier}, {tracking}")
        if last["delivered_at"] is None:
            final = last["steps_to"] >= total
            answer = await self._send("POST", f"{base}/{last['number']}/deliver", json={"final": final})
            return self._report(answer, number, f"phase {last['number']} delivered" + (" (last)" if final else ""))
        return False

    async def _cases(self) -> list[dict[str, Any]]:
        """Every case in a status the lab works, oldest first, all pages."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            params = [("status", s) for s in WORKED] + [("sort", "created_at"), ("page_size", "200"), ("page", page)]
            found = await self._get("/staff/cases", params=params)
            rows += [row for row in found["items"] if self.cases is None or row["id"] in self.cases]
            if page * found["page_size"] >= found["total"]:
                return rows
            page += 1

    async def _get(self, path: str, **options: Any) -> Any:
        answer = await self._send("GET", path, **options)
        if answer.status_code != 200:
            raise Unavailable(f"GET {path} answered {answer.status_code}: {_detail(answer)}")
        return _json(answer)

    async def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """The answer to the request, signing in again once when the session has ended; raises
        :class:`Unavailable` on 502/503/504 and :class:`LabRefused` on 403."""
        answer = await self.api.request(method, path, **options)
        if answer.status_code == 401:
            await self.sign_in()
            answer = await self.api.request(method, path, **options)
        return self._check(answer)

    @staticmethod
    def _check(answer: httpx.Response) -> httpx.Response:
        if available(answer).status_code == 403:
            raise LabRefused(f"the lab's account may not use the staff API: {_detail(answer)}")
        return answer

    def _report(self, answer: httpx.Response, order_number: str, done: str) -> bool:
        """Say what was done, or why the system refused it (a 409: the case had moved on; it is looked at again).
        A replay of an earlier answer (``Idempotent-Replayed``: another lab on the same account did it) says
        nothing."""
        if answer.headers.get(REPLAY_HEADER) == "true":
            return False
        if answer.is_success:
            self.say(f"{order_number}: {done}")
            return True
        self.say(f"{order_number}: not done ({done}): {answer.status_code} {_detail(answer)}")
        return False


def available(answer: httpx.Response) -> httpx.Response:
    """``answer``, unless it is 502, 503 or 504: then raises :class:`Unavailable` (the system is (re)starting or a
    service behind the gateway is down; asking again later is the remedy)."""
    if answer.status_code in (502, 503, 504):
        raise Unavailable(f"{answer.request.method} {answer.request.url.path} answered {answer.status_code}")
    return answer


def _json(answer: httpx.Response) -> Any:
    """The answer's JSON body; raises :class:`LabRefused` when it has none (the URL is not the portal's)."""
    try:
        return answer.json()
    except ValueError:
        url = answer.request.url
        raise LabRefused(
            f"{url} did not answer as the Doctor Portal API does (no JSON): --url is the gateway's root address, "
            "e.g. http://127.0.0.1:8000"
        ) from None


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("detail") or body.get("title") or body)[:300] if isinstance(body, dict) else str(body)[:300]
