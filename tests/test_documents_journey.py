"""Records through the gateway's public API only, with the orders, cases and documents services behind it, on SQLite
(with the local storage backend) and PostgreSQL (with S3 on moto's server), and the real broker between them.

Proven here: a doctor uploads the ten records of case-01 into a draft as multipart forms, sees the checklist fill,
submits, and the documents service's own ``records.checked`` moves the case to ``setup_in_progress``; every record
downloads back byte-identical, the orders list shows the main photo's thumbnail, the case page lists the documents;
the lab publishes a setup with its viewer file; a PVS case prints a shipping label; another doctor sees none of it;
the audit log has the downloads. On SQLite, a 300 MB scan goes through with every process's memory bounded, and one
byte more is refused leaving nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from services.documents.settings import Settings
from services.documents.storage import open_storage
from services.documents.tests.conftest import SAMPLES
from services.gateway.tests.conftest import sign_up, staff_token
from tests.harness.api import case_reaches, ok
from tests.harness.bodies import PATIENT, complete_aligner
from tests.harness.databases import sqlite_url
from tests.harness.samples import CASE_01
from tests.harness.system import Portal, running_portal

pytestmark = pytest.mark.timeout(300)
SERVICES = ("orders", "cases", "documents")


@pytest.fixture
async def portal(
    request: pytest.FixtureRequest, tmp_path: Path, vhost_url: str, database_url: str
) -> AsyncIterator[Portal]:
    """The gateway with the orders, cases and documents services, on each kind of database (and backend) in turn."""
    storage: dict[str, Any] = {}
    if not database_url.startswith("sqlite"):
        endpoint = request.getfixturevalue("s3_endpoint")
        storage = {"storage_backend": "s3", "s3_endpoint": endpoint, "s3_bucket": f"journey-{os.urandom(6).hex()}"}
    async with running_portal(tmp_path, vhost_url, database_url, SERVICES, documents=storage) as running:
        yield running


def form(slot: str) -> dict[str, str]:
    return {"slot": slot}


async def put_record(doctor: httpx.AsyncClient, case_id: str, slot: str, path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        answer = await doctor.post(f"/cases/{case_id}/documents", data=form(slot), files={"file": (path.name, file)})
    return await ok(answer, 201)


async def fetch(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """GET a gateway path, following a redirect to a signed URL (S3) from outside."""
    answer = await client.get(url.removeprefix("/api/v1"))
    if answer.status_code == 307:
        async with httpx.AsyncClient(timeout=30) as outside:
            return await outside.get(answer.headers["location"])
    return answer


async def test_a_doctor_sends_every_record_and_the_case_goes_on(portal: Portal) -> None:
    account, token = await sign_up(portal.gateway)
    _, stranger_token = await sign_up(portal.gateway)
    lab_token = await staff_token(portal.gateway)
    body = complete_aligner(patient=dict(PATIENT), records={"scans": "digital", "scanner": "iTero Element"})
    async with (
        portal.gateway.client(token) as doctor,
        portal.gateway.client(stranger_token) as stranger,
        portal.gateway.client(lab_token) as lab,
    ):
        draft = await ok(await doctor.post("/orders", json=body), 201)
        case_id = draft["case_id"]
        stored = {slot: await put_record(doctor, case_id, slot, SAMPLES / name) for slot, name in CASE_01.items()}
        checklist = await ok(await doctor.get(f"/cases/{case_id}/records"))
        assert checklist["complete"] and checklist["missing"] == []
        assert all(s["document"]["content_url"] for s in checklist["slots"] if s["required"])
        await ok(await doctor.post(f"/orders/{draft['id']}/submit"), 202)
        page = await case_reaches(doctor, case_id, "setup_in_progress")

        for slot, document in stored.items():
            back = await fetch(doctor, document["content_url"])
            assert back.status_code == 200 and back.content == (SAMPLES / CASE_01[slot]).read_bytes(), slot
        assert page["meta"] == {"partial": False, "degraded": []}
        assert {d["id"] for d in page["documents"]} == {d["id"] for d in stored.values()}
        [row] = (await ok(await doctor.get("/cases")))["items"]
        assert row["photo_thumbnail_url"] == stored["photo.intraoral_frontal"]["thumbnail_url"]
        thumbnail = await fetch(doctor, row["photo_thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\xff\xd8")

        refused = await doctor.post(
            f"/cases/{case_id}/documents", data=form("scan.upper"), files={"file": ("scan.stl", b"\x89PNG\r\n\x1a\n")}
        )
        assert refused.status_code == 415 and "STL, PLY or OBJ" in refused.json()["detail"]
        nameless = await doctor.post(f"/cases/{case_id}/documents", files={"file": ("a.stl", b"solid")})
        assert nameless.status_code == 422 and nameless.json()["errors"][0]["field"] == "slot"
        odd = await doctor.post(
            f"/cases/{case_id}/documents",
            content=b"x",
            headers={"Content-Type": f"multipart/form-data; boundary={'b' * 300}"},
        )
        assert odd.status_code == 415 and "boundary" in odd.json()["detail"]
        upper = stored["scan.upper"]
        lab_copy = await fetch(lab, upper["content_url"])
        assert lab_copy.status_code == 200 and lab_copy.content == (SAMPLES / CASE_01["scan.upper"]).read_bytes()
        assert (await stranger.get(upper["content_url"].removeprefix("/api/v1"))).status_code == 404
        assert (await stranger.get(f"/cases/{case_id}/records")).status_code == 404

        setup = {"technician_comment": "IPR 0.2 mm 31/41", "steps_upper": "18", "steps_lower": "14"}
        viewer = ("setup.stl", (SAMPLES / "upper_jaw.stl").read_bytes())
        key = {"Idempotency-Key": f"setup-{case_id}-1"}
        publish = lambda: lab.post(  # noqa: E731
            f"/staff/cases/{case_id}/setups", data=setup, files={"file": viewer}, headers=key
        )
        published = await ok(await publish(), 201)
        assert published["version"] == 1 and published["document_id"]
        again = await publish()  # a retry: the first setup, its file the only one kept
        assert await ok(again, 201) == published and again.headers["idempotent-replayed"] == "true"
        deadline = time.monotonic() + 20
        while True:
            documents = (await ok(await doctor.get(f"/cases/{case_id}/documents")))["items"]
            [setup_file] = [d for d in documents if d["slot"] == "setup"]
            if setup_file["setup_version"] == 1:
                break
            assert time.monotonic() < deadline, setup_file
            await asyncio.sleep(0.1)
        assert setup_file["id"] == published["document_id"]
        assert [d["slot"] for d in documents].count("setup") == 1

        log = await ok(await doctor.get("/account/audit-log", params={"case_id": case_id, "page_size": 200}))
    actions = [(entry["action"], entry["outcome"]) for entry in log["items"]]
    assert actions.count(("document.download", "allowed")) >= 10 and ("document.upload", "allowed") in actions
    assert ("document.download", "denied") in actions
    assert account["id"]


async def test_pvs_impressions_print_a_shipping_label(portal: Portal) -> None:
    _, token = await sign_up(portal.gateway)
    async with portal.gateway.client(token) as doctor:
        draft = await ok(await doctor.post("/orders", json=complete_aligner()), 201)
        case_id = draft["case_id"]
        early = await doctor.post(f"/cases/{case_id}/shipping-labels", json={"method": "standard"})
        assert early.status_code == 409, early.text  # a draft does not mail impressions yet
        await ok(await doctor.post(f"/orders/{draft['id']}/submit"), 202)
        await case_reaches(doctor, case_id, "awaiting_records")
        label = await ok(await doctor.post(f"/cases/{case_id}/shipping-labels", json={"method": "express"}), 201)
        assert label["facts"]["tracking_number"].startswith("DP") and label["slot"] == "shipping_label"
        pdf = await fetch(doctor, label["content_url"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-") and b"%%EOF" in pdf.content[-1024:]
        checklist = await ok(await doctor.get(f"/cases/{case_id}/records"))
        assert checklist["pvs"] and "scan.upper" not in checklist["missing"]


TRIANGLE = struct.pack("<12fH", *([0.0, 0.0, 1.0] + [1.0, 2.0, 3.0] * 3), 0)


def stl_chunks(triangles: int, extra: bytes = b"") -> Iterator[bytes]:
    """A binary STL of ``triangles`` triangles (50 bytes each after an 84-byte header), made as it is sent, then
    ``extra`` bytes."""
    yield b"solid generated".ljust(80, b" ") + struct.pack("<I", triangles)
    block = TRIANGLE * 20_000
    left = triangles
    while left:
        count = min(left, 20_000)
        yield block if count == 20_000 else TRIANGLE * count
        left -= count
    if extra:
        yield extra


class PeakMemory:
    """Samples this process's resident set size every 20 ms in a thread; ``peak`` is the largest seen, in bytes."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def multipart(
    slot: str, chunks: Iterator[bytes], boundary: bytes = b"portal-test-boundary"
) -> AsyncIterator[bytes]:
    """A multipart/form-data body with ``slot`` then a ``file`` part of ``chunks``, made as it is sent."""
    yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="slot"\r\n\r\n' + slot.encode() + b"\r\n"
    yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.stl"\r\n\r\n'
    for chunk in chunks:
        yield chunk
    yield b"\r\n--" + boundary + b"--\r\n"


@pytest.fixture
async def local_portal(tmp_path: Path, vhost_url: str) -> AsyncIterator[Portal]:
    """The same system on SQLite and the local storage backend only."""
    async with running_portal(tmp_path, vhost_url, sqlite_url(tmp_path), SERVICES) as running:
        yield running


async def test_a_300_mb_scan_streams_with_bounded_memory_and_one_byte_more_is_refused(local_portal: Portal) -> None:
    """Every service runs in this process: its peak resident memory bounds each one's."""
    portal = local_portal
    _, token = await sign_up(portal.gateway)
    triangles = (300_000_000 - 84) // 50
    headers = {"Content-Type": "multipart/form-data; boundary=portal-test-boundary"}
    async with portal.gateway.client(token) as doctor:
        draft = await ok(await doctor.post("/orders", json=complete_aligner()), 201)
        case_id = draft["case_id"]
        at_rest = psutil.Process().memory_info().rss
        with PeakMemory() as memory:
            sent = await doctor.post(
                f"/cases/{case_id}/documents", content=multipart("scan.upper", stl_chunks(triangles)), headers=headers
            )
            document = await ok(sent, 201)
            assert document["facts"]["triangles"] == triangles
            size = 0
            async with doctor.stream("GET", f"/documents/{document['id']}/content") as back:
                async for chunk in back.aiter_bytes():
                    size += len(chunk)
            assert size == 84 + 50 * triangles
        assert memory.peak - at_rest < 150 * 1024 * 1024, (memory.peak - at_rest) / 2**20

        over = b"\0" * (300_000_001 - (84 + 50 * triangles))
        refused = await doctor.post(
            f"/cases/{case_id}/documents", content=multipart("scan.lower", stl_chunks(triangles, over)), headers=headers
        )
        assert refused.status_code == 413, refused.text
        items = (await ok(await doctor.get(f"/cases/{case_id}/documents")))["items"]
        assert [d["id"] for d in items] == [document["id"]]
    settings = Settings(**portal.gateway.settings.model_dump())
    assert await open_storage(settings).keys(f"cases/{case_id}/") == [f"cases/{case_id}/{document['id']}"]
    for folder in (settings.data_dir / "spool", settings.data_dir / "objects" / ".incoming"):
        assert not folder.is_dir() or list(folder.iterdir()) == []
