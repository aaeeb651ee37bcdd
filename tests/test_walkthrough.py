"""What the README tells a new user to run, run as written against ``portal run`` (its own data directory, ports and
RabbitMQ virtual host): the walkthrough's shell blocks, in order, take one case from sign-up to its last phase and
download a record back byte for byte; ``portal demo`` (``make demo``) leaves its three cases in three statuses the
demo doctor sees, and says in one line that the portal does not answer when it is not running."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import httpx

from shared.events.orders import PHOTO_SLOTS
from tests.harness.portal_run import ROOT, portal_run
from tests.harness.samples import CASE_01_DIR

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


def test_the_demo_leaves_three_cases_in_three_statuses(portal_env: Callable[[], dict[str, str]]) -> None:
    env = portal_env()
    with portal_run(env) as portal:
        done = subprocess.run(
            [sys.executable, "-m", "shared.cli", "demo"],
            cwd=ROOT,
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        email, password = re.search(r"Demo doctor: (\S+), password (\S+)", done.stdout).groups()  # type: ignore[union-attr]
        with httpx.Client(base_url=f"{portal.url}/api/v1", timeout=30) as client:
            login = client.post("/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            items = client.get("/cases").json()["items"]
            by_status = {item["status"]: item for item in items}
            assert set(by_status) == {"shipped", "setup_approval_pending", "awaiting_records"}, items
            waiting = client.get(f"/cases/{by_status['awaiting_records']['id']}/records").json()
            shipped = client.get(f"/cases/{by_status['shipped']['id']}").json()["case"]
    assert set(waiting["missing"]) == FACE_PHOTOS and FACE_PHOTOS < set(PHOTO_SLOTS)
    assert shipped["package"] == "ONE" and shipped["expires_at"] and shipped["phases"][0]["tracking_number"]
    assert "Orders list" in done.stdout and all(item["order_number"] in done.stdout for item in items)
    assert "PORTAL_LAB_EMAIL=" in done.stdout


def test_the_demo_says_when_the_portal_is_not_running(portal_env: Callable[[], dict[str, str]]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "demo"], cwd=ROOT, env=portal_env(), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "does not answer" in done.stderr and "make run" in done.stderr and "Traceback" not in done.stderr
