"""What the README tells a new user to run, run as written against ``portal run`` (its own data directory, ports and
RabbitMQ virtual host): the walkthrough's shell blocks, in order, take one case from sign-up to its last phase and
download a record back byte for byte; ``portal demo`` (``make demo``) leaves its three cases in three statuses the
demo doctor sees and another doctor's case untouched, and says in one line that the portal does not answer when it
is not running, or that the gateway's database is not where its settings say; the ``portal lab`` line it prints
refuses, in one line, an address that is not the gateway's root."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from services.gateway.tests.conftest import PASSWORD, registration
from shared.events.orders import PHOTO_SLOTS
from tests.harness.api import case_reaches, ok, submitted_case
from tests.harness.bodies import aligner
from tests.harness.portal_run import ROOT, portal_run
from tests.harness.samples import CASE_01, CASE_01_DIR

README = ROOT / "README.md"
FACE_PHOTOS = {"photo.face_frontal", "photo.face_smiling", "photo.face_profile"}


def walkthrough(url: str) -> str:
    """The shell blocks of the README's "Walkthrough" section joined in order, with the gateway's default address
    replaced by ``url`` and the samples' folder by the one the tests found."""
    section = README.read_text().split("\n## Walkthrough\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 5, section
    return (
        "\n".join(blocks).replace("http://127.0.0.1:8000", url).replace("../shared/samples/case-01", str(CASE_01_DIR))
    )


def test_the_readme_walkthrough_runs_as_written(portal_env: Callable[[], dict[str, str]]) -> None:
    env = portal_env()
    with portal_run(env) as portal:
        script = walkthrough(portal.url)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    shown = done.stdout
    assert '"setup_approval_pending"' in shown and '"kind":"review_setup"' in shown.replace(" ", "").replace("\n", "")
    for summary in ("Setup v1 rejected", "Setup v2 approved with the ONE package", "Phase 1 delivered (last phase)"):
        assert summary in shown, shown
    assert '"last_phase_delivered"' in shown and "scan.upper: the same bytes" in shown


def portal_command(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """``portal ARGUMENTS`` run to its end with ``env`` (a wide terminal), its output kept."""
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *arguments],
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
    )


@contextmanager
def signed_in(url: str, email: str, password: str) -> Iterator[httpx.Client]:
    """A client of the API at ``url`` signed in as ``email``, for the block."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
        login = client.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


async def test_the_demo_leaves_its_three_cases_in_three_statuses_and_no_other(
    portal_env: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    env = portal_env()
    with portal_run(env) as portal:
        elsewhere = portal_command({**env, "PORTAL_DATA_DIR": str(tmp_path)}, "demo")
        assert elsewhere.returncode == 1 and "no gateway database" in elsewhere.stderr, elsewhere.stderr
        body = registration()
        with httpx.Client(base_url=f"{portal.url}/api/v1", timeout=30) as anonymous:
            assert anonymous.post("/auth/register", json=body).status_code == 201
        async with httpx.AsyncClient(base_url=f"{portal.url}/api/v1", timeout=30) as other:
            login = await ok(await other.post("/auth/login", json={"email": body["email"], "password": PASSWORD}))
            other.headers["Authorization"] = f"Bearer {login['access_token']}"
            draft = await submitted_case(other, aligner(), list(CASE_01))
            await case_reaches(other, draft["case_id"], "setup_in_progress")

        done = portal_command(env, "demo")
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        email, password = re.search(r"Demo doctor: (\S+), password (\S+)", done.stdout).groups()  # type: ignore[union-attr]
        with signed_in(portal.url, email, password) as client:
            items = client.get("/cases").json()["items"]
            by_status = {item["status"]: item for item in items}
            assert set(by_status) == {"shipped", "setup_approval_pending", "awaiting_records"}, items
            waiting = client.get(f"/cases/{by_status['awaiting_records']['id']}/records").json()
            shipped = client.get(f"/cases/{by_status['shipped']['id']}").json()["case"]
        with signed_in(portal.url, body["email"], PASSWORD) as client:  # the demo's lab worked its own cases only
            assert client.get(f"/cases/{draft['case_id']}").json()["case"]["status"] == "setup_in_progress"
        lab = dict(re.findall(r"(PORTAL_LAB_EMAIL|PORTAL_LAB_PASSWORD)=(\S+)", done.stdout))
        astray = portal_command({**env, **lab}, "lab", "--url", f"{portal.url}/api/v1")
    assert set(waiting["missing"]) == FACE_PHOTOS and FACE_PHOTOS < set(PHOTO_SLOTS)
    assert shipped["package"] == "ONE" and shipped["expires_at"] and shipped["phases"][0]["tracking_number"]
    assert "Orders list" in done.stdout and all(item["order_number"] in done.stdout for item in items)
    assert f"portal lab --url {portal.url}" in done.stdout
    assert astray.returncode == 1 and "is not the Doctor Portal API" in astray.stderr, astray.stderr
    assert "Traceback" not in astray.stderr + elsewhere.stderr


def test_the_demo_says_when_the_portal_is_not_running(portal_env: Callable[[], dict[str, str]]) -> None:
    done = portal_command(portal_env(), "demo")
    assert done.returncode == 1
    assert "does not answer" in done.stderr and "make run" in done.stderr and "Traceback" not in done.stderr
