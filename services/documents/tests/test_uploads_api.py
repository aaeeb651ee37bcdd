"""Uploads and downloads through the documents service's own routes, on both storage backends: the real records of
case-01 read back byte-identical, content checks refusing what does not fit, nothing left by a refused upload, file
names sent back safely, byte ranges, and who may see what."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from urllib.parse import unquote

import httpx
import pytest
from PIL import Image

from services.documents.tests.conftest import SAMPLES, Documents, opened_case, upload
from shared.internal_token import Collaboration, Principal
from tests.harness.samples import CASE_01

pytestmark = pytest.mark.timeout(120)


async def download(client: httpx.AsyncClient, document_id: str, **headers: str) -> httpx.Response:
    """The document's content, following the S3 backend's redirect to its signed URL."""
    answer = await client.get(f"/documents/{document_id}/content", headers=headers)
    if answer.status_code == 307:
        async with httpx.AsyncClient(timeout=30) as outside:
            answer = await outside.get(answer.headers["location"], headers=headers)
    return answer


async def leftovers(documents: Documents, case_id: str) -> list[str]:
    """The objects stored for the case, and anything waiting in the spool or the local backend's incoming files."""
    found = await documents.storage.keys(f"cases/{case_id}/")
    for folder in (documents.settings.data_dir / "spool", documents.settings.data_dir / "objects" / ".incoming"):
        if folder.is_dir():
            found += [str(p) for p in folder.iterdir()]
    return found


async def test_every_record_of_case_01_reads_back_byte_identical_with_its_facts(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        stored = {}
        for slot, name in CASE_01.items():
            answer = await upload(doctor, order.case_id, slot, SAMPLES / name)
            assert answer.status_code == 201, answer.text
            stored[slot] = answer.json()
        for slot, document in stored.items():
            original = (SAMPLES / CASE_01[slot]).read_bytes()
            assert document["sha256"] == hashlib.sha256(original).hexdigest()
            assert (document["size_bytes"], document["order_id"]) == (len(original), order.order_id)
            back = await download(doctor, document["id"])
            assert back.status_code == 200 and back.content == original, slot
        upper = stored["scan.upper"]
        assert (upper["kind"], upper["content_type"], upper["facts"]["triangles"]) == ("stl", "model/stl", 85_232)
        frontal = stored["photo.intraoral_frontal"]
        assert (frontal["facts"]["width"], frontal["facts"]["height"], frontal["kind"]) == (1440, 1080, "png")
        checklist = (await doctor.get(f"/cases/{order.case_id}/records")).json()
        assert checklist["complete"] and checklist["missing"] == [] and not checklist["submitted"]
        assert {s["slot"]: s["document"]["id"] for s in checklist["slots"] if s["document"]} == {
            slot: document["id"] for slot, document in stored.items()
        }
        listed = (await doctor.get(f"/cases/{order.case_id}/documents")).json()["items"]
        assert [d["id"] for d in listed] == [d["id"] for d in stored.values()]
    uploaded = await documents.published("document.uploaded")
    assert [(e["document_id"], e["slot"], e["order_id"]) for e in uploaded] == [
        (d["id"], slot, order.order_id) for slot, d in stored.items()
    ]


REFUSED = [
    ("scan.upper", (SAMPLES / "frontal.png").read_bytes(), 415, "slot scan.upper takes STL, PLY or OBJ"),
    ("photo.face_frontal", (SAMPLES / "upper_jaw.stl").read_bytes()[:300_000], 415, "this file is STL"),
    ("scan.lower", (SAMPLES / "lower_jaw.stl").read_bytes()[:-25], 422, "truncated"),
    ("photo.left_buccal", b"", 422, "empty"),
    ("photo.face_smiling", (SAMPLES / "face_smiling.jpg").read_bytes()[:5000], 422, "JPEG file is truncated"),
    ("xray.panoramic", uuid.uuid4().bytes * 1000, 415, "not recognised"),
]
"""A PNG renamed .stl, an STL renamed .jpg, a truncated STL, an empty file, a truncated JPEG, random bytes: slot,
body, status and words of the refusal."""


async def test_a_file_that_does_not_fit_is_refused_and_leaves_nothing(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        for slot, body, status, words in REFUSED:
            answer = await upload(doctor, order.case_id, slot, body, filename="renamed.stl")
            assert answer.status_code == status and words in answer.json()["detail"], (slot, answer.text)
        assert (await doctor.get(f"/cases/{order.case_id}/documents")).json()["items"] == []
    assert await leftovers(documents, order.case_id) == []
    assert await documents.published("document.uploaded") == []


async def test_past_the_size_limit_is_413_whether_declared_or_streamed(documents: Documents) -> None:
    documents.settings.upload_max_bytes = 1_000_000
    order = await opened_case(documents)
    scan = (SAMPLES / "upper_jaw.stl").read_bytes()[:1_000_084]
    async with documents.doctor(order.doctor_id) as doctor:
        declared = await upload(doctor, order.case_id, "scan.upper", scan)
        streamed = await upload(doctor, order.case_id, "scan.upper", SAMPLES / "upper_jaw.stl")
        for answer in (declared, streamed):
            assert answer.status_code == 413 and "1,000,000 bytes" in answer.json()["detail"], answer.text
    assert await leftovers(documents, order.case_id) == []


NAMES = [
    ("Radiographie panoramique – Zoë Lefèvre.png", "Radiographie panoramique – Zoë Lefèvre.png", None),
    ("全景片 山田太郎.png", "全景片 山田太郎.png", None),
    ("smile 😁.png", "smile 😁.png", None),
    ('quote"d\\back.png', "back.png", "back.png"),
    ('evil"\r\nSet-Cookie: x=1.png', 'evil"Set-Cookie: x=1.png', "evil_Set-Cookie: x=1.png"),
]
"""Names with accents, CJK, emoji, a quote and a path, a quote and CR/LF: as sent, as kept, and the ASCII fallback
expected (None: any)."""


async def test_file_names_come_back_in_content_disposition_safely(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        for sent, kept, fallback in NAMES:
            answer = await upload(doctor, order.case_id, "xray.panoramic", SAMPLES / "frontal.png", filename=sent)
            assert answer.status_code == 201 and answer.json()["filename"] == kept, answer.text
            disposition = (await download(doctor, answer.json()["id"])).headers["content-disposition"]
            assert "\r" not in disposition and "\n" not in disposition and disposition.isascii()
            plain, _, star = disposition.partition("; filename*=UTF-8''")
            assert plain.startswith('attachment; filename="') and plain.count('"') == 2, disposition
            assert unquote(star) == kept
            if fallback is not None:
                assert plain == f'attachment; filename="{fallback}"'


async def test_byte_ranges(documents: Documents) -> None:
    order = await opened_case(documents)
    scan = (SAMPLES / "lower_jaw.stl").read_bytes()
    async with documents.doctor(order.doctor_id) as doctor:
        document = (await upload(doctor, order.case_id, "scan.lower", SAMPLES / "lower_jaw.stl")).json()
        middle = await download(doctor, document["id"], Range="bytes=84-133")
        assert middle.status_code == 206 and middle.content == scan[84:134]
        assert middle.headers["content-range"] == f"bytes 84-133/{len(scan)}"
        tail = await download(doctor, document["id"], Range="bytes=-50")
        assert tail.status_code == 206 and tail.content == scan[-50:]
        if documents.settings.storage_backend == "local":  # S3 servers answer ranges themselves
            past = await download(doctor, document["id"], Range=f"bytes={len(scan)}-")
            assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(scan)}"
            several = await download(doctor, document["id"], Range="bytes=0-1,5-6")
            assert several.status_code == 200 and several.content == scan


async def test_only_the_doctor_their_collaborators_and_the_lab_see_a_cases_documents(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        photo = (await upload(doctor, order.case_id, "photo.face_frontal", SAMPLES / "face_frontal.jpg")).json()
    stranger = documents.doctor(str(uuid.uuid4()))
    colleague = uuid.uuid4()
    unshared = documents.client(
        Principal(colleague, "doctor", colleague, (Collaboration(str(uuid.uuid4()), order.doctor_id, ("view",)),))
    )
    async with stranger, unshared, documents.staff() as lab:
        for client in (stranger, unshared):
            assert (await client.get(f"/documents/{photo['id']}/content")).status_code == 404
            assert (await client.get(f"/cases/{order.case_id}/records")).status_code == 404
            assert (
                await upload(client, order.case_id, "photo.face_smiling", SAMPLES / "face_smiling.jpg")
            ).status_code == 404
            assert (await client.delete(f"/documents/{photo['id']}")).status_code == 404
        assert (await download(lab, photo["id"])).content == (SAMPLES / "face_frontal.jpg").read_bytes()
        assert (await upload(lab, order.case_id, "photo.face_smiling", SAMPLES / "face_smiling.jpg")).status_code == 403
    unknown = str(uuid.uuid4())
    async with documents.doctor(order.doctor_id) as doctor:
        assert (await upload(doctor, unknown, "photo.face_frontal", SAMPLES / "face_frontal.jpg")).status_code == 404
        wrong_slot = await upload(doctor, order.case_id, "photo.selfie", SAMPLES / "face_frontal.jpg")
        assert wrong_slot.status_code == 422 and wrong_slot.json()["errors"][0]["field"] == "slot"


def rotated_jpeg() -> bytes:
    """A 400x200 JPEG, left half red and right half blue, whose EXIF says "rotate 90° clockwise to display"."""
    image = Image.new("RGB", (400, 200), "blue")
    image.paste((255, 0, 0), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_a_photo_gets_an_upright_thumbnail_and_other_files_none(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        photo = (await upload(doctor, order.case_id, "photo.intraoral_frontal", rotated_jpeg(), "x.jpg")).json()
        scan = (await upload(doctor, order.case_id, "scan.upper", SAMPLES / "upper_jaw.stl")).json()
        thumbnail = await doctor.get(f"/documents/{photo['id']}/thumbnail")
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(thumbnail.content))
        assert image.size == (160, 320)
        top, bottom = image.getpixel((80, 60)), image.getpixel((80, 260))
        assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]  # rotated clockwise: the red half on top
        assert (await doctor.get(f"/documents/{scan['id']}/thumbnail")).status_code == 404


def itero_export(folder: str = "Export_123") -> bytes:
    """A scanner export as an iTero writes it: an XML manifest and the two arch scans of case-01."""
    manifest = """<?xml version="1.0" encoding="utf-8"?>
<iTeroExport>
  <RxInfo><OrderId>IT-998877</OrderId><Patient>Zoe Lefevre</Patient><Doctor>Dr. Martin</Doctor></RxInfo>
  <ExportedObjects>
    <Object><ObjectType>Surface</ObjectType><JawId>Upper</JawId><FileName>upper.stl</FileName></Object>
    <Object><ObjectType>Surface</ObjectType><JawId>Lower</JawId><FileName>lower.stl</FileName></Object>
  </ExportedObjects>
</iTeroExport>"""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/manifest.xml", manifest)
        archive.write(SAMPLES / "upper_jaw.stl", f"{folder}/upper.stl")
        archive.write(SAMPLES / "lower_jaw.stl", f"{folder}/lower.stl")
    return out.getvalue()


async def test_a_scanner_export_lands_in_the_scan_slots(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        answer = await upload(doctor, order.case_id, "other", itero_export(), "itero.zip")
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["facts"]["scanner"] == "iTero" and body["kind"] == "zip"
        placed = {d["slot"]: d for d in body["unpacked"]}
        assert set(placed) == {"scan.upper", "scan.lower"}
        assert placed["scan.upper"]["facts"]["triangles"] == 85_232
        back = await download(doctor, placed["scan.lower"]["id"])
        assert back.content == (SAMPLES / "lower_jaw.stl").read_bytes()
        slots = (await doctor.get(f"/cases/{order.case_id}/records")).json()["slots"]
        assert {s["slot"] for s in slots if s["document"]} == {"other", "scan.upper", "scan.lower"}


def bomb() -> bytes:
    """A small ZIP that inflates to 200 MB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.stl", "w") as entry:
        for _ in range(200):
            entry.write(bytes(1_000_000))
    return out.getvalue()


def traversal() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("../../etc/cron.d/evil.stl", b"solid x\nendsolid x\n")
    return out.getvalue()


async def test_an_unsafe_archive_is_refused_and_leaves_nothing(documents: Documents) -> None:
    documents.settings.upload_max_bytes = 100_000_000
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        for archive in (traversal(), bomb()):
            answer = await upload(doctor, order.case_id, "other", archive, "export.zip")
            assert answer.status_code == 422 and "ZIP archive was refused" in answer.json()["detail"], answer.text
    assert await leftovers(documents, order.case_id) == []
