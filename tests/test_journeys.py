"""End-to-end journeys: the whole system started as ``make run`` starts it (``python -m shared.cli run``, five
processes, the real broker), once on SQLite files and once on a PostgreSQL database per service, driven only through
the gateway's public API (``/api/v1``) by a doctor's client and the lab's (staff) client, with the records of the
sample case-01. Each journey has a doctor of its own on the shared system.

Proven here:

1. A doctor registers, creates a patient, saves an aligner draft in three steps, uploads the ten records and submits:
   the case is ``setup_in_progress``. The lab publishes setup v1 with its file: the doctor is asked to review it
   (case page, orders list, dashboard count and notification, an ``.eml`` e-mail). The doctor rejects v1 with a
   reason, approves v2 with package ONE; phase 1 ships (expiry 12 months after the shipment), phase 2 is delivered as
   the last. At every step the orders list row, the case page's actions and history, the dashboard's counts and
   insights say what happened; every record downloads back byte-identical; the audit log lists the doctor's reads
   and the approval.
2. Without the three face photos the submitted case awaits exactly those; uploading them lets it go on.
3. PVS impressions: the case awaits the impressions; a shipping label is a well-formed one-page PDF naming the order
   and its tracking number; the lab receiving the box lets the case go on.
4. A retainer for an existing patient, and a modification of a case whose last phase was delivered.
5. A second doctor sees nothing of the first's: 404 on every object, empty lists, zero counts.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from dateutil.relativedelta import relativedelta

from services.gateway.tests.conftest import PASSWORD, registration
from shared.settings import SERVICES
from tests.harness.api import carousel_until, case_reaches, mails, ok, submitted_case, upload
from tests.harness.bodies import APPROACH, PATIENT, aligner, complete_aligner
from tests.harness.pdf import read_pdf
from tests.harness.portal_run import DATABASE_KINDS, portal_environments, portal_run
from tests.harness.samples import CASE_01, CASE_01_DIR

pytestmark = pytest.mark.timeout(300)

ADMIN = {"email": "admin@lab.example.org", "password": "Quartz-Lantern-Meadow-81"}
"""The first admin, from the configuration (``PORTAL_ADMIN_EMAIL``, ``PORTAL_ADMIN_PASSWORD``)."""
STAFF = {
    "email": "technician@lab.example.org",
    "password": "Violet-Harbour-Compass-63",
    "first_name": "Inès",
    "last_name": "Okafor",
}
"""The lab technician the admin creates."""
FACE_PHOTOS = ["photo.face_frontal", "photo.face_smiling", "photo.face_profile"]
PHOTOS = [slot for slot in CASE_01 if slot.startswith("photo.")]
LABELS = {
    "incomplete_submission": "Incomplete submission",
    "awaiting_records": "Awaiting impressions / records",
    "setup_in_progress": "Treatment setup in progress",
    "setup_approval_pending": "Treatment setup approval pending",
    "in_production": "In production",
    "shipped": "Shipping or delivered",
    "last_phase_delivered": "Last phase delivered",
}
"""The status labels a doctor reads (DOMAIN.md "Case status")."""
BUCKETS = ("action_required", "in_progress", "archive")
SETUP_FORM = {
    "technician_comment": "IPR 0.2 mm 31/41; attachments on 13 and 23",
    "steps_upper": "18",
    "steps_lower": "14",
}


@dataclass(frozen=True)
class System:
    """The running system: ``base`` is the gateway's ``/api/v1``, ``gateway`` its root URL, ``data_dir`` the data
    directory (e-mails are written under ``mail``), ``staff_token`` the signed-in lab technician's bearer token."""

    database: str
    gateway: str
    data_dir: Path
    staff_token: str

    @property
    def base(self) -> str:
        """The public API's base URL."""
        return f"{self.gateway}/api/v1"

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """A client of the public API, with a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=30)


def _login(client: httpx.Client, email: str, password: str) -> str:
    answer = client.post("/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """``portal run`` on each kind of database in turn (SQLite files, then a new PostgreSQL database per service),
    the first admin configured; the admin creates a staff account, which signs in. Stopped, and its broker virtual
    host and databases deleted, after the module's journeys on that kind."""
    with portal_environments(tmp_path_factory.mktemp(f"journeys-{request.param}")) as make:
        env = make(request.param)
        env.update(PORTAL_ADMIN_EMAIL=ADMIN["email"], PORTAL_ADMIN_PASSWORD=ADMIN["password"])
        with portal_run(env) as portal, httpx.Client(base_url=f"{portal.url}/api/v1", timeout=30) as client:
            files = sorted(p.name for p in Path(env["PORTAL_DATA_DIR"]).glob("*.sqlite3"))
            assert files == ([] if request.param == "postgresql" else sorted(f"{s}.sqlite3" for s in SERVICES)), files
            admin = _login(client, ADMIN["email"], ADMIN["password"])
            created = client.post("/admin/staff", json=STAFF, headers={"Authorization": f"Bearer {admin}"})
            assert created.status_code == 201 and created.json()["role"] == "staff", created.text
            token = _login(client, STAFF["email"], STAFF["password"])
            yield System(request.param, portal.url, Path(env["PORTAL_DATA_DIR"]), token)


@asynccontextmanager
async def new_doctor(system: System) -> AsyncIterator[tuple[dict[str, Any], httpx.AsyncClient]]:
    """A doctor who just registered (a unique e-mail) and signed in: the account as the API shows it, and a client
    carrying the session's token, for the block."""
    body = registration()
    async with system.client() as anonymous:
        account = await ok(await anonymous.post("/auth/register", json=body), 201)
        login = await ok(await anonymous.post("/auth/login", json={"email": body["email"], "password": PASSWORD}))
    assert account["role"] == "doctor" and login["token_type"] == "bearer"
    async with system.client(login["access_token"]) as doctor:
        yield account, doctor


@asynccontextmanager
async def lab_client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """The lab technician's client, for the block."""
    async with system.client(system.staff_token) as lab:
        yield lab


def requests_of(client: httpx.AsyncClient) -> Counter[tuple[str, str, int]]:
    """A count of the requests ``client`` sends from now on, by method, path and answered status, kept up to date."""
    sent: Counter[tuple[str, str, int]] = Counter()

    async def count(response: httpx.Response) -> None:
        sent[(response.request.method, response.request.url.path, response.status_code)] += 1

    client.event_hooks["response"].append(count)
    return sent


def viewer_file(version: int) -> bytes:
    """A setup's viewer file as the lab sends it: a ZIP of a 3-D viewer page, unique to the call."""
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", f"<!doctype html><title>setup v{version} {uuid.uuid4()}</title>")
    return packed.getvalue()


async def doctor_sees(
    doctor: httpx.AsyncClient,
    case_id: str,
    status: str,
    bucket: str,
    actions: list[str],
    *,
    history: str | None = None,
    insights: dict[str, Any] | None = None,
    until: Callable[[dict[str, Any]], Any] = lambda page: True,
) -> dict[str, Any]:
    """Wait for the case to be in ``status``, its history to show the move there (the page's case and history are
    read apart, so one may show a move before the other) and ``until`` to hold of its page, then check what its
    doctor sees, the doctor having this one case: the case page's ``action_required`` kinds are ``actions``, its
    last history entry that changed the status is of kind ``history`` and led to ``status``; the orders list's one
    row has the status, its label and ``bucket``; the dashboard counts exactly this case in that bucket and status,
    and its insights over the whole time (``period=all``) hold ``insights``. Returns the case page."""

    def moved(page: dict[str, Any]) -> bool:
        """Whether the page's history, asked of the cases service apart from the case, shows the move yet."""
        entries = [entry for entry in page["history"] or [] if entry["status_to"]]
        return bool(entries) and entries[-1]["status_to"] == status

    page = await case_reaches(doctor, case_id, status, until=lambda page: until(page) and moved(page), within=30)
    assert page["meta"] == {"partial": False, "degraded": []}, page["meta"]
    assert [action["kind"] for action in page["action_required"]] == actions, page["action_required"]
    assert (page["case"]["status_label"], page["case"]["bucket"]) == (LABELS[status], bucket)
    if history is not None:
        last = [entry for entry in page["history"] if entry["status_to"]][-1]
        assert last["kind"] == history, page["history"]
    listed = await ok(await doctor.get("/cases"))
    [row] = listed["items"]
    assert (row["id"], row["status"], row["status_label"], row["bucket"]) == (case_id, status, LABELS[status], bucket)
    assert listed["total"] == 1
    board = await ok(await doctor.get("/dashboard", params={"period": "all"}))
    assert board["counts"]["buckets"] == {name: int(name == bucket) for name in BUCKETS}, board["counts"]
    assert {code: n for code, n in board["counts"]["statuses"].items() if n} == {status: 1}, board["counts"]
    assert board["insights"]["period"] == "all" and board["insights"]["previous"] is None
    for name, expected in (insights or {}).items():
        assert board["insights"]["metrics"][name] == expected, (name, board["insights"]["metrics"])
    return page


def counts(
    submitted: int = 1, approved: int = 0, started: int = 0, shipped: int = 0, completed: int = 0
) -> dict[str, int]:
    """The count insights (DOMAIN.md "Dashboard") expected of a doctor with one case."""
    return {
        "cases_submitted": submitted,
        "setups_approved": approved,
        "cases_started": started,
        "phases_shipped": shipped,
        "cases_completed": completed,
    }


async def wait_for_mail(folder: Path, to: str, case_id: str, within: float = 20.0) -> EmailMessage:
    """The e-mail written to ``to`` about case ``case_id`` under ``folder`` (``.eml`` files); fails after
    ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = [m for m in mails(folder) if m["To"] == to and f"/cases/{case_id}" in m.get_content()]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no e-mail to {to} about {case_id} in {folder}"
        await asyncio.sleep(0.2)


async def deliver_everything(lab: httpx.AsyncClient, doctor: httpx.AsyncClient, case_id: str) -> None:
    """Once the case's setup is in progress, the lab publishes a setup, the doctor approves it with package ONE, the
    lab ships and delivers one phase as the last: the case ends ``last_phase_delivered``."""
    await case_reaches(doctor, case_id, "setup_in_progress", within=30)
    await ok(await lab.post(f"/staff/cases/{case_id}/setups", data=SETUP_FORM), 201)
    await ok(await doctor.post(f"/cases/{case_id}/setups/1/approve", json={"package": "ONE"}))
    await ok(await lab.post(f"/staff/cases/{case_id}/phases", json={"number": 1, "steps_from": 1, "steps_to": 18}), 201)
    ship = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
    await ok(await lab.post(f"/staff/cases/{case_id}/phases/1/ship", json=ship))
    done = await ok(await lab.post(f"/staff/cases/{case_id}/phases/1/deliver", json={"final": True}))
    assert done["status"] == "last_phase_delivered", done


async def test_a_doctor_orders_aligners_and_follows_the_case_to_its_last_phase(system: System) -> None:
    async with new_doctor(system) as (account, doctor), lab_client(system) as lab:
        sent = requests_of(doctor)
        patient = await ok(await doctor.post("/patients", json=PATIENT), 201)
        assert {k: patient[k] for k in PATIENT} == PATIENT

        # the order form saved in three steps: general information, records, then the approach and the terms
        general = {"arches": "both", "chief_concern": "upper crowding", "duration": {"mode": "limit", "max_steps": 20}}
        draft = await ok(
            await doctor.post("/orders", json={"kind": "aligner", "patient_id": patient["id"], "general": general}), 201
        )
        assert draft["status"] == "draft" and draft["order_number"].startswith(f"DP-{datetime.now(UTC).year}-")
        order_id, case_id = draft["id"], draft["case_id"]
        early = await doctor.post(f"/orders/{order_id}/submit")
        assert early.status_code == 422 and "terms_accepted" in {e["field"] for e in early.json()["errors"]}
        records = {"scans": "digital", "scanner": "iTero Element"}
        await ok(await doctor.patch(f"/orders/{order_id}", json={"records": records}))
        rest = {"treatment_approach": APPROACH, "additional": {"instructions": "keep 36"}, "terms_accepted": True}
        await ok(await doctor.patch(f"/orders/{order_id}", json=rest))
        saved = await ok(await doctor.get(f"/orders/{order_id}"))
        assert saved["general"]["chief_concern"] == "upper crowding" and saved["general"]["duration"]["max_steps"] == 20
        assert saved["records"] == records and saved["treatment_approach"]["extractions"] == [14, 24]
        assert saved["patient_id"] == patient["id"] and saved["terms_accepted"] is True
        page = await doctor_sees(
            doctor, case_id, "incomplete_submission", "action_required", ["complete_submission"], insights=counts(0)
        )
        assert page["case"]["order_number"] == draft["order_number"]
        assert page["case"]["patient"] == {"id": patient["id"], "first_name": "Zoë", "last_name": "Lefèvre"}

        stored = {slot: await upload(doctor, case_id, slot, order_id) for slot in CASE_01}
        checklist = await ok(await doctor.get(f"/cases/{case_id}/records"))
        assert checklist["complete"] is True and checklist["missing"] == []
        assert {s["slot"] for s in checklist["slots"] if s["required"]} == set(CASE_01)
        submitted = await ok(await doctor.post(f"/orders/{order_id}/submit"), 202)
        assert submitted["case_id"] == case_id and submitted["order"]["status"] == "submitted"
        assert (await doctor.patch(f"/orders/{order_id}", json={"terms_accepted": True})).status_code == 409
        page = await doctor_sees(
            doctor, case_id, "setup_in_progress", "in_progress", [], history="submit", insights=counts(1)
        )
        assert {d["id"] for d in page["documents"]} == {d["id"] for d in stored.values()}

        # the lab publishes setup v1 with its viewer file: the doctor is asked to review it, everywhere
        viewer = viewer_file(1)
        v1 = await ok(
            await lab.post(
                f"/staff/cases/{case_id}/setups",
                data=SETUP_FORM,
                files={"file": ("setup-v1.zip", viewer, "application/zip")},
            ),
            201,
        )
        assert (v1["version"], v1["state"], v1["steps_upper"], v1["steps_lower"]) == (1, "pending", 18, 14)
        page = await doctor_sees(
            doctor,
            case_id,
            "setup_approval_pending",
            "action_required",
            ["review_setup"],
            history="publish_setup",
            insights=counts(1),
        )
        [review] = page["action_required"]
        assert (review["version"], review["technician_comment"]) == (1, SETUP_FORM["technician_comment"])
        [row] = (await ok(await doctor.get("/cases", params={"status": "setup_approval_pending"})))["items"]
        assert row["setup"]["version"] == 1 and row["setup"]["state"] == "pending" and row["setup"]["published_at"]
        [notice] = await carousel_until(doctor, lambda items: [i["kind"] for i in items] == ["setup_published"])
        assert notice["case_id"] == case_id and notice["read"] is False
        board = await ok(await doctor.get("/dashboard", params={"period": "all"}))
        assert board["counts"]["buckets"]["action_required"] == 1
        assert board["insights"]["metrics"]["median_days_submission_to_first_setup"] is not None
        mail = await wait_for_mail(system.data_dir / "mail", account["email"], case_id)
        assert mail["Subject"] == notice["title"] and f"{system.gateway}/api/v1/cases/{case_id}" in mail.get_content()
        setups = (await ok(await doctor.get(f"/cases/{case_id}/setups")))["items"]
        assert [(s["version"], s["state"]) for s in setups] == [(1, "pending")]
        viewer_id = setups[0]["document_id"]
        setup_file = await doctor.get(f"/documents/{viewer_id}/content")
        assert setup_file.status_code == 200 and setup_file.content == viewer

        # v1 rejected with a reason; v2 approved with package ONE
        assert (await doctor.post(f"/cases/{case_id}/setups/1/reject", json={})).status_code == 422
        reason = "expand the upper arch more"
        rejected = await ok(await doctor.post(f"/cases/{case_id}/setups/1/reject", json={"reason": reason}))
        assert rejected["status"] == "setup_in_progress"
        page = await doctor_sees(doctor, case_id, "setup_in_progress", "in_progress", [], history="reject_setup")
        assert [e for e in page["history"] if e["kind"] == "reject_setup"][0]["reason"] == reason
        await carousel_until(doctor, lambda items: items == [])  # the request to review v1 is withdrawn
        v2 = await ok(await lab.post(f"/staff/cases/{case_id}/setups", data={**SETUP_FORM, "steps_upper": "20"}), 201)
        assert v2["version"] == 2
        await doctor_sees(
            doctor, case_id, "setup_approval_pending", "action_required", ["review_setup"], insights=counts(1)
        )
        approved = await ok(await doctor.post(f"/cases/{case_id}/setups/2/approve", json={"package": "ONE"}))
        assert (approved["status"], approved["package"], approved["expires_at"]) == ("in_production", "ONE", None)
        page = await doctor_sees(
            doctor, case_id, "in_production", "in_progress", [], history="approve_setup", insights=counts(1, 1)
        )
        assert page["case"]["setup"]["version"] == 2 and page["case"]["setup"]["state"] == "approved"
        setups = (await ok(await doctor.get(f"/cases/{case_id}/setups")))["items"]
        assert [(s["version"], s["state"]) for s in setups] == [(1, "rejected"), (2, "approved")]
        board = await ok(await doctor.get("/dashboard", params={"period": "all"}))
        assert board["insights"]["metrics"]["median_days_setup_to_approval"] is not None

        # phase 1 shipped: the expiry clock starts, 12 months for package ONE; phase 2 delivered as the last
        phase = {"number": 1, "steps_from": 1, "steps_to": 10}
        await ok(await lab.post(f"/staff/cases/{case_id}/phases", json=phase), 201)
        tracking = {"carrier": "DHL", "tracking_number": "JD014600007720"}
        shipped = await ok(await lab.post(f"/staff/cases/{case_id}/phases/1/ship", json=tracking))
        page = await doctor_sees(
            doctor, case_id, "shipped", "in_progress", [], history="ship_phase", insights=counts(1, 1, 1, 1)
        )
        [first] = page["case"]["phases"]
        assert (first["state"], first["carrier"], first["tracking_number"]) == ("shipped", "DHL", "JD014600007720")
        shipped_on = datetime.fromisoformat(first["shipped_at"]).astimezone(UTC).date()
        expected = datetime.combine(shipped_on + relativedelta(months=12), clock(), tzinfo=UTC)
        assert datetime.fromisoformat(shipped["expires_at"]) == expected
        [row] = (await ok(await doctor.get("/cases")))["items"]
        assert datetime.fromisoformat(row["expires_at"]) == expected and row["expiry_level"] == "normal"
        await carousel_until(doctor, lambda items: [i["kind"] for i in items] == ["phase_shipped"])
        await ok(await lab.post(f"/staff/cases/{case_id}/phases/1/deliver", json={"final": False}))
        await ok(
            await lab.post(f"/staff/cases/{case_id}/phases", json={"number": 2, "steps_from": 11, "steps_to": 20}), 201
        )
        await doctor_sees(
            doctor, case_id, "in_production", "in_progress", [], history="start_phase", insights=counts(1, 1, 1, 1)
        )
        tracking = {"carrier": "DHL", "tracking_number": "JD014600007721"}
        await ok(await lab.post(f"/staff/cases/{case_id}/phases/2/ship", json=tracking))
        done = await ok(await lab.post(f"/staff/cases/{case_id}/phases/2/deliver", json={"final": True}))
        assert done["status"] == "last_phase_delivered"
        page = await doctor_sees(
            doctor,
            case_id,
            "last_phase_delivered",
            "in_progress",
            [],
            history="deliver_phase",
            insights=counts(1, 1, 1, 2, 1),
        )
        assert [p["state"] for p in page["case"]["phases"]] == ["delivered", "delivered"]
        assert datetime.fromisoformat(page["case"]["expires_at"]) == expected  # phase 1 alone sets it
        assert [e["kind"] for e in page["history"] if e["status_to"]] == [
            "open", "submit", "publish_setup", "reject_setup", "publish_setup", "approve_setup",
            "ship_phase", "start_phase", "ship_phase", "deliver_phase",
        ]  # fmt: skip
        await carousel_until(doctor, lambda items: "last_phase_delivered" in [i["kind"] for i in items])

        [row] = (await ok(await doctor.get("/cases")))["items"]
        assert row["photo_thumbnail_url"] == stored["photo.intraoral_frontal"]["thumbnail_url"]  # the main photo
        thumbnail = await doctor.get(row["photo_thumbnail_url"].removeprefix("/api/v1"))
        assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\xff\xd8")  # a JPEG
        for slot, document in stored.items():
            back = await doctor.get(f"/documents/{document['id']}/content")
            assert back.status_code == 200 and back.content == (CASE_01_DIR / CASE_01[slot]).read_bytes(), slot
            assert back.headers["content-type"] == document["content_type"]

        log = await ok(await doctor.get("/account/audit-log", params={"case_id": case_id, "page_size": 200}))
    assert all(e["case_id"] == case_id and e["client_address"] and e["at"] for e in log["items"])
    mine = Counter((e["action"], e["object_id"], e["outcome"]) for e in log["items"] if e["actor_id"] == account["id"])
    assert mine[("case.read", case_id, "allowed")] == sent[("GET", f"/api/v1/cases/{case_id}", 200)] >= 9
    assert mine[("case.setups.read", case_id, "allowed")] == sent[("GET", f"/api/v1/cases/{case_id}/setups", 200)] == 2
    for document in [*stored.values(), {"id": viewer_id}]:
        path = f"/api/v1/documents/{document['id']}/content"
        assert mine[("document.download", document["id"], "allowed")] == sent[("GET", path, 200)] >= 1, document
    approvals = [(e["actor_id"], e["outcome"]) for e in log["items"] if e["action"] == "setup.approve"]
    assert approvals == [(account["id"], "allowed")]


async def test_missing_face_photos_are_awaited_then_the_case_goes_on(system: System) -> None:
    async with new_doctor(system) as (_, doctor):
        sent = [slot for slot in CASE_01 if slot not in FACE_PHOTOS]
        draft = await submitted_case(doctor, aligner(), sent)
        case_id = draft["case_id"]
        page = await doctor_sees(
            doctor, case_id, "awaiting_records", "action_required", ["upload_records"], history="submit"
        )
        assert page["action_required"][0]["missing"] == FACE_PHOTOS
        assert page["case"]["records"]["missing"] == FACE_PHOTOS and page["case"]["records"]["complete"] is False
        checklist = await ok(await doctor.get(f"/cases/{case_id}/records"))
        assert checklist["complete"] is False and checklist["missing"] == FACE_PHOTOS
        [notice] = await carousel_until(doctor, lambda items: [i["kind"] for i in items] == ["records_missing"])
        assert notice["case_id"] == case_id

        for slot in FACE_PHOTOS:
            await upload(doctor, case_id, slot)
        await doctor_sees(
            doctor, case_id, "setup_in_progress", "in_progress", [], history="complete_records", insights=counts(1)
        )
        checklist = await ok(await doctor.get(f"/cases/{case_id}/records"))
        assert checklist["complete"] is True and checklist["missing"] == []
        await carousel_until(doctor, lambda items: items == [])


async def test_pvs_impressions_are_mailed_with_a_label_and_received_by_the_lab(system: System) -> None:
    async with new_doctor(system) as (_, doctor), lab_client(system) as lab:
        draft = await submitted_case(doctor, complete_aligner(), PHOTOS)
        case_id = draft["case_id"]
        # a PVS order awaits the impressions from its submission on; the photos are known sent once the records
        # check has answered (until then the case page asks for every required slot)
        checked = lambda page: page["case"]["records"]["missing"] is not None  # noqa: E731
        page = await doctor_sees(
            doctor,
            case_id,
            "awaiting_records",
            "action_required",
            ["mail_impressions"],
            history="submit",
            until=checked,
        )
        assert page["case"]["records"]["missing"] == [] and page["case"]["records"]["complete"] is True
        assert page["case"]["records"]["pvs_impressions"] is True

        label = await ok(await doctor.post(f"/cases/{case_id}/shipping-labels", json={"method": "express"}), 201)
        assert label["slot"] == "shipping_label" and label["content_type"] == "application/pdf"
        tracking = label["facts"]["tracking_number"]
        pdf = await doctor.get(f"/documents/{label['id']}/content")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        printed = read_pdf(pdf.content)
        assert printed.pages == 1 and printed.media_boxes == [[0, 0, 288, 432]]  # 4 x 6 inches
        assert tracking in printed.shown and f"Order {draft['order_number']}" in printed.shown
        assert "EXPRESS" in printed.shown and "Cabinet Lefèvre" in printed.shown
        documents = (await ok(await doctor.get(f"/cases/{case_id}/documents")))["items"]
        assert label["id"] in {d["id"] for d in documents}

        received = await ok(await lab.post(f"/staff/cases/{case_id}/impressions-received"))
        assert received["status"] == "setup_in_progress"
        page = await doctor_sees(
            doctor, case_id, "setup_in_progress", "in_progress", [], history="receive_impressions", insights=counts(1)
        )
        assert page["case"]["records"]["impressions_received_at"] is not None


async def test_a_retainer_for_an_existing_patient_and_a_modification_after_the_last_phase(system: System) -> None:
    async with new_doctor(system) as (_, doctor), lab_client(system) as lab:
        draft = await submitted_case(doctor, aligner(), list(CASE_01))
        case_id, patient_id = draft["case_id"], draft["submission"]["order"]["patient_id"]
        assert patient_id is not None and draft["patient_id"] is None  # the patient typed in exists once submitted
        await deliver_everything(lab, doctor, case_id)
        await doctor_sees(doctor, case_id, "last_phase_delivered", "in_progress", [], insights=counts(1, 1, 1, 1, 1))

        # a modification from new scans: the case reopens, waits for the two scans, then the setup starts again
        body = {"reason": "relapse of 31", "source": "new_scans", "instructions": "retreat 31 and 41"}
        modification = await ok(await doctor.post(f"/cases/{case_id}/modifications", json=body), 201)
        assert (modification["kind"], modification["status"], modification["case_id"]) == (
            "modification",
            "draft",
            case_id,
        )
        answer = await doctor.post(f"/orders/{modification['id']}/submit")
        assert answer.status_code == 202, answer.text
        page = await doctor_sees(
            doctor, case_id, "awaiting_records", "action_required", ["upload_records"], history="modify"
        )
        assert page["action_required"][0]["missing"] == ["scan.upper", "scan.lower"]
        assert "modification_submitted" in [e["kind"] for e in page["history"]]
        for slot in ("scan.upper", "scan.lower"):
            await upload(doctor, case_id, slot, modification["id"])
        await doctor_sees(
            doctor,
            case_id,
            "setup_in_progress",
            "in_progress",
            [],
            history="complete_records",
            insights=counts(1, 1, 1, 1, 1),  # a modification is no new case
        )

        # a retainer for the same patient, from an existing step: nothing to send, a case of its own
        retainer = {
            "kind": "retainer",
            "patient_id": patient_id,
            "general": {"arches": "both"},
            "retainer": {"source": "existing_step", "step": 18, "sets": 2, "shipping_method": "standard"},
            "terms_accepted": True,
        }
        ordered = await ok(await doctor.post("/orders", json=retainer), 201)
        assert ordered["case_id"] != case_id and ordered["patient_id"] == patient_id
        await ok(await doctor.post(f"/orders/{ordered['id']}/submit"), 202)
        page = await case_reaches(doctor, ordered["case_id"], "setup_in_progress", within=30)
        assert page["case"]["kind"] == "retainer" and page["case"]["patient"]["id"] == patient_id
        listed = await ok(await doctor.get("/cases", params={"q": "Lefèvre"}))
        assert {item["id"] for item in listed["items"]} == {case_id, ordered["case_id"]}
        board = await ok(await doctor.get("/dashboard", params={"period": "all"}))
        assert board["counts"]["statuses"]["setup_in_progress"] == 2 and board["counts"]["buckets"]["in_progress"] == 2
        assert board["insights"]["metrics"]["cases_submitted"] == 2  # the modification is no new case


async def test_a_second_doctor_sees_nothing_of_the_first(system: System) -> None:
    async with new_doctor(system) as (account, doctor), new_doctor(system) as (_, stranger):
        draft = await submitted_case(doctor, complete_aligner(), PHOTOS[:1])
        case_id = draft["case_id"]
        await case_reaches(doctor, case_id, "awaiting_records", within=30)
        label = await ok(await doctor.post(f"/cases/{case_id}/shipping-labels", json={"method": "standard"}), 201)
        # the impressions to mail are asked for, and the missing photos, whichever event the notifications service
        # heard first (the records check or the case's move)
        notices = await carousel_until(doctor, lambda items: sum(i["case_id"] == case_id for i in items) == 2)
        assert {(n["kind"], n["case_id"]) for n in notices} == {("records_missing", case_id)}
        assert sorted(n["title"] for n in notices) == ["Documents manquants", "Empreintes PVS à envoyer"]  # in French
        photo, patient_id = draft["documents"][PHOTOS[0]], draft["submission"]["order"]["patient_id"]

        for path in (
            f"/cases/{case_id}",
            f"/cases/{case_id}/documents",
            f"/cases/{case_id}/records",
            f"/cases/{case_id}/setups",
            f"/documents/{photo['id']}/content",
            f"/documents/{photo['id']}/thumbnail",
            f"/documents/{label['id']}/content",
            f"/orders/{draft['id']}",
            f"/patients/{patient_id}",
        ):
            assert (await doctor.get(path)).status_code == 200, path  # the owner's, so the stranger's 404 is of access
            refused = await stranger.get(path)
            assert refused.status_code == 404, (path, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
        for method, path, body in (
            ("PATCH", f"/orders/{draft['id']}", {"terms_accepted": True}),
            ("POST", f"/cases/{case_id}/shipping-labels", {"method": "standard"}),
            ("POST", f"/cases/{case_id}/modifications", {"reason": "x", "source": "new_scans", "instructions": "x"}),
            ("POST", f"/cases/{case_id}/hold", {"reason": "x"}),
            ("DELETE", f"/documents/{photo['id']}", None),
        ):
            refused = await stranger.request(method, path, json=body)
            assert refused.status_code == 404, (method, path, refused.text)
        with (CASE_01_DIR / CASE_01["photo.face_frontal"]).open("rb") as file:
            planted = await stranger.post(
                f"/cases/{case_id}/documents", data={"slot": "photo.face_frontal"}, files={"file": file}
            )
        assert planted.status_code == 404, planted.text

        for path in ("/cases", "/patients", "/orders", "/notifications", "/account/audit-log"):
            assert (await ok(await stranger.get(path)))["items"] == [], path
        assert (await ok(await stranger.get("/cases", params={"q": draft["order_number"]})))["items"] == []
        board = await ok(await stranger.get("/dashboard", params={"period": "all"}))
        assert board["notifications"] == [] and set(board["counts"]["buckets"].values()) == {0}
        assert set(board["counts"]["statuses"].values()) == {0}
        assert board["insights"]["metrics"]["cases_submitted"] == 0

        # the first doctor's things are untouched, and the refusals are in the first doctor's audit log
        documents = (await ok(await doctor.get(f"/cases/{case_id}/documents")))["items"]
        assert {d["id"] for d in documents} == {photo["id"], label["id"]}
        log = await ok(await doctor.get("/account/audit-log", params={"case_id": case_id, "page_size": 200}))
    denied = {e["action"] for e in log["items"] if e["outcome"] == "denied"}
    assert {"case.read", "document.download"} <= denied, denied
    assert all(e["actor_id"] in (account["id"], None) or e["outcome"] == "denied" for e in log["items"])
