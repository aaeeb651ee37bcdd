"""``portal lab``, the simulated lab, as a process of its own against ``portal run``, both started as a user starts
them (its own data directory, ports and RabbitMQ virtual host).

Proven here: with every case given a records problem, a digital case and a PVS case each get exactly one, the PVS
box is received, setups are published (a rejected one followed by the next version), and the phases of each approved
setup are made, shipped and delivered in order until ``last_phase_delivered``; the whole system stopped and started
again while the lab runs, and the lab itself killed and started again mid-production, nothing is done twice (one
history entry per action and version or phase, one setup file per version, the phases' steps contiguous); the lab
says once that the portal does not answer and once that it answers again."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.tests.conftest import PASSWORD, registration
from shared.events.orders import PHOTO_SLOTS
from tests.harness.api import case_reaches, ok, submitted_case
from tests.harness.bodies import aligner, complete_aligner
from tests.harness.portal_run import ROOT, portal_run
from tests.harness.samples import CASE_01

pytestmark = pytest.mark.timeout(420)
ADMIN = {"email": "admin@example.org", "password": "Rhone-River-Keys-2026"}
STAFF = {"email": "t.lambert@example.org", "password": "Setup-Technician-2026", "first_name": "Tom", "last_name": "L"}
LAB_OPTIONS = ["--setup-delay", "0.3", "--production-delay", "0.3", "--problem-share", "1", "--interval", "0.2"]


def start_lab(env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    """``portal lab`` signed in as :data:`STAFF` against ``url``, its output appended to ``log``."""
    lab_env = {**env, "PORTAL_LAB_EMAIL": STAFF["email"], "PORTAL_LAB_PASSWORD": STAFF["password"]}
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "lab", "--url", url, *LAB_OPTIONS],
            cwd=ROOT,
            env=lab_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` (SIGTERM, as a crash or an operator would) and wait for it."""
    process.terminate()
    process.wait(timeout=20)


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], within: float = 60) -> None:
    """Wait until ``log`` holds ``text``; fails when ``process`` exits first or after ``within`` seconds."""
    deadline = time.monotonic() + within
    while text not in log.read_text():
        assert process.poll() is None, f"portal lab exited ({process.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} after {within} s:\n{log.read_text()}"
        time.sleep(0.1)


def check_worked_once(page: dict[str, Any], setups: list[dict[str, Any]], documents: list[dict[str, Any]]) -> None:
    """One history entry per action of the lab (per version or phase), the phases' steps contiguous up to the
    approved setup's, every phase shipped and delivered, the last one final, one setup file per version."""
    kinds = Counter(entry["kind"] for entry in page["history"])
    assert kinds["raise_records_problem"] == 1 and kinds["publish_setup"] == len(setups), kinds
    for action in ("start_phase", "ship_phase", "deliver_phase"):
        numbers = [entry["number"] for entry in page["history"] if entry["kind"] == action]
        assert numbers == list(range(1, len(page["case"]["phases"]) + 1)), (action, numbers)
    approved = max(s["version"] for s in setups if s["state"] == "approved")
    [setup] = [s for s in setups if s["version"] == approved]
    phases = page["case"]["phases"]
    assert [p["steps_from"] for p in phases] == [1] + [p["steps_to"] + 1 for p in phases[:-1]]
    assert phases[-1]["steps_to"] == max(setup["steps_upper"], setup["steps_lower"])
    assert all(p["shipped_at"] and p["delivered_at"] and p["tracking_number"] for p in phases)
    assert [p["final"] for p in phases] == [False] * (len(phases) - 1) + [True]
    assert sorted(d["setup_version"] for d in documents if d["slot"] == "setup") == [s["version"] for s in setups]


async def test_the_lab_works_cases_to_their_last_phase_once_across_restarts(
    portal_env: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    env = {**portal_env(), "PORTAL_ADMIN_EMAIL": ADMIN["email"], "PORTAL_ADMIN_PASSWORD": ADMIN["password"]}
    log = tmp_path / "lab.log"
    log.touch()
    labs: list[subprocess.Popen[bytes]] = []
    try:
        with portal_run(env) as portal:
            url = portal.url
            async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60) as api:
                admin = (await ok(await api.post("/auth/login", json=ADMIN)))["access_token"]
                await ok(await api.post("/admin/staff", json=STAFF, headers={"Authorization": f"Bearer {admin}"}), 201)
                body = registration()
                await ok(await api.post("/auth/register", json=body), 201)
                login = await ok(await api.post("/auth/login", json={"email": body["email"], "password": PASSWORD}))
                doctor = {"Authorization": f"Bearer {login['access_token']}"}
                api.headers.update(doctor)
                digital = (await submitted_case(api, aligner(), list(CASE_01)))["case_id"]
                pvs = (await submitted_case(api, complete_aligner(), list(PHOTO_SLOTS)))["case_id"]
                labs.append(start_lab(env, url, log))
                for case_id in (digital, pvs):
                    await case_reaches(api, case_id, "submission_problem", within=60)
                    answer = {"answer": "Sent again by post, sharper."}
                    await ok(await api.post(f"/cases/{case_id}/records-problem/answer", json=answer))
                await case_reaches(api, digital, "setup_approval_pending", within=60)
                wait_for_line(log, "PVS impressions received", labs[-1])
        wait_for_line(log, "the portal does not answer", labs[-1])
        with portal_run(env):
            async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60, headers=doctor) as api:
                wait_for_line(log, "the portal answers again", labs[-1])
                await ok(await api.post(f"/cases/{digital}/setups/1/approve", json={"package": "ONE"}))
                await case_reaches(api, digital, "shipped", within=60)
                stop(labs[-1])  # the lab stops mid-production and starts again
                labs.append(start_lab(env, url, log))
                await case_reaches(api, pvs, "setup_approval_pending", within=60)
                await ok(await api.post(f"/cases/{pvs}/setups/1/reject", json={"reason": "Expand the upper arch"}))
                await case_reaches(
                    api, pvs, "setup_approval_pending", until=lambda p: p["case"]["setup"]["version"] == 2
                )
                await ok(await api.post(f"/cases/{pvs}/setups/2/approve", json={"package": "FLEX"}))
                for case_id in (digital, pvs):
                    page = await case_reaches(api, case_id, "last_phase_delivered", within=120)
                    setups = (await ok(await api.get(f"/cases/{case_id}/setups")))["items"]
                    documents = (await ok(await api.get(f"/cases/{case_id}/documents")))["items"]
                    check_worked_once(page, setups, documents)
                shown = log.read_text()
    finally:
        for process in labs:
            stop(process)
    assert shown.count("the portal does not answer") == 1 and shown.count("the portal answers again") == 1, shown
    assert "Traceback" not in shown
