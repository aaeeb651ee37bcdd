"""The records checklist and what the documents service answers to the orders events: ``records.checked`` for a
submission, ``records.completed`` once the last missing slot is filled (once), deletion only while allowed, shipping
labels for PVS impressions, and a setup's viewer file from the lab."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile

import httpx
import pytest

from services.documents.tests.conftest import (
    SAMPLES,
    Documents,
    Order,
    draft_created,
    opened_case,
    submitted,
    upload,
)
from shared.events.cases import SetupPublished
from shared.events.orders import PHOTO_SLOTS
from tests.harness.events import envelope_of
from tests.harness.samples import CASE_01

pytestmark = pytest.mark.timeout(120)
FACES = ("photo.face_frontal", "photo.face_smiling", "photo.face_profile")


async def test_a_submission_missing_the_face_photos_is_checked_then_completed_once(documents: Documents) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        stored = {}
        for slot, name in CASE_01.items():
            if slot not in FACES:
                stored[slot] = (await upload(doctor, order.case_id, slot, SAMPLES / name)).json()
        await documents.apply(submitted(documents, order))
        [checked] = await documents.published("records.checked")
        assert (checked["complete"], checked["missing"], checked["order_id"]) == (False, list(FACES), order.order_id)
        checklist = (await doctor.get(f"/cases/{order.case_id}/records")).json()
        assert checklist["submitted"] and checklist["missing"] == list(FACES) and not checklist["complete"]

        locked = await doctor.delete(f"/documents/{stored['scan.upper']['id']}")
        assert locked.status_code == 409 and locked.json()["slot"] == "scan.upper"
        wrong = (await upload(doctor, order.case_id, "photo.face_frontal", SAMPLES / "face_smiling.jpg")).json()
        assert (await doctor.delete(f"/documents/{wrong['id']}")).status_code == 204  # a missing slot: allowed
        assert (await doctor.get(f"/documents/{wrong['id']}/content")).status_code == 404
        for slot in FACES:
            answer = await upload(doctor, order.case_id, slot, SAMPLES / CASE_01[slot])
            assert answer.status_code == 201, answer.text
        again = await upload(doctor, order.case_id, "photo.face_profile", SAMPLES / "face_profile.jpg")
        assert again.status_code == 201
        assert (await doctor.delete(f"/documents/{again.json()['id']}")).status_code == 409  # complete now
        assert (await doctor.get(f"/cases/{order.case_id}/records")).json()["complete"]
    [completed] = await documents.published("records.completed")
    assert (completed["case_id"], completed["order_id"]) == (order.case_id, order.order_id)
    deleted = await documents.published("document.deleted")
    assert [(d["document_id"], d["slot"]) for d in deleted] == [(wrong["id"], "photo.face_frontal")]


async def test_a_complete_submission_is_checked_complete_and_a_second_delivery_changes_nothing(
    documents: Documents,
) -> None:
    order = await opened_case(documents)
    async with documents.doctor(order.doctor_id) as doctor:
        for slot, name in CASE_01.items():
            await upload(doctor, order.case_id, slot, SAMPLES / name)
        event = submitted(documents, order)
        assert await documents.apply(event, event) == ["applied", "duplicate"]
        [checked] = await documents.published("records.checked")
        assert checked["complete"] and checked["missing"] == []
        assert (await documents.published("records.completed")) == []


async def test_a_modification_draft_takes_the_new_uploads_and_an_upload_may_name_its_order(
    documents: Documents,
) -> None:
    order = await opened_case(documents)
    await documents.apply(submitted(documents, order, required=[]))
    modification = Order(case_id=order.case_id, doctor_id=order.doctor_id, kind="modification")
    await documents.apply(draft_created(documents, modification))
    async with documents.doctor(order.doctor_id) as doctor:
        scan = (await upload(doctor, order.case_id, "scan.upper", SAMPLES / "upper_jaw.stl")).json()
        assert scan["order_id"] == modification.order_id
        named = await upload(doctor, order.case_id, "xray.panoramic", SAMPLES / "frontal.png", order_id=order.order_id)
        assert named.json()["order_id"] == order.order_id
        foreign = await upload(
            doctor, order.case_id, "xray.panoramic", SAMPLES / "frontal.png", order_id=str(uuid.uuid4())
        )
        assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "order_id"
        checklist = (await doctor.get(f"/cases/{order.case_id}/records")).json()
        assert checklist["order_id"] == modification.order_id and not checklist["submitted"]
        racing = await asyncio.gather(*(doctor.delete(f"/documents/{scan['id']}") for _ in range(5)))
        assert sorted(r.status_code for r in racing) == [204, 404, 404, 404, 404]  # its order is a draft: once
    assert len(await documents.published("document.deleted")) == 1


async def test_a_pvs_case_prints_a_shipping_label_and_a_digital_one_may_not(documents: Documents) -> None:
    pvs, digital = await opened_case(documents), await opened_case(documents)
    await documents.apply(submitted(documents, pvs, pvs=True), submitted(documents, digital))
    practice = ["Cabinet Dr Hélène Müller", "3 rue de la Paix", "75002 Paris", "FR"]
    async with documents.doctor(pvs.doctor_id) as doctor:
        answer = await doctor.post(
            f"/cases/{pvs.case_id}/shipping-labels", json={"method": "express", "practice": practice}
        )
        assert answer.status_code == 201, answer.text
        label = answer.json()
        assert (label["slot"], label["content_type"], label["facts"]["method"]) == (
            "shipping_label",
            "application/pdf",
            "express",
        )
        pdf = await doctor.get(f"/documents/{label['id']}/content")
        if pdf.status_code == 307:
            pdf = httpx.get(pdf.headers["location"])
        assert pdf.content.startswith(b"%PDF-") and b"%%EOF" in pdf.content[-1024:]
        assert (await doctor.post(f"/cases/{pvs.case_id}/shipping-labels", json={"method": "drone"})).status_code == 422
    async with documents.doctor(digital.doctor_id) as other:
        refused = await other.post(
            f"/cases/{digital.case_id}/shipping-labels", json={"method": "standard", "practice": practice}
        )
        assert refused.status_code == 409
    [created] = await documents.published("shipping_label.created")
    assert created["tracking_number"] == label["facts"]["tracking_number"] and created["order_id"] == pvs.order_id


async def test_the_lab_stores_a_setups_viewer_file_which_the_setup_event_marks(documents: Documents) -> None:
    order = await opened_case(documents)
    await documents.apply(submitted(documents, order, required=list(PHOTO_SLOTS)))
    viewer = io.BytesIO()
    with zipfile.ZipFile(viewer, "w") as archive:
        archive.writestr("setup/index.html", "<html>setup</html>")
    async with documents.staff() as lab, documents.doctor(order.doctor_id) as doctor:
        stored = await upload(lab, order.case_id, "setup", viewer.getvalue(), "setup-v1.zip")
        assert stored.status_code == 201, stored.text
        assert (await upload(doctor, order.case_id, "setup", viewer.getvalue(), "mine.zip")).status_code == 403
        published = SetupPublished(
            case_id=order.case_id,
            doctor_id=order.doctor_id,
            version=1,
            published_at=stored.json()["created_at"],
            technician_comment="IPR 0.2 mm 31/41",
            steps_upper=18,
            steps_lower=14,
            document_id=stored.json()["id"],
        )
        await documents.apply(envelope_of(published, source="cases", subject=order.case_id, version=3))
        seen = (await doctor.get(f"/documents/{stored.json()['id']}")).json()
        assert seen["setup_version"] == 1 and seen["slot"] == "setup"
