"""Patients over HTTP: create, read, change (``patient.updated`` on the broker), list and accent-insensitive search."""

from __future__ import annotations

from datetime import date, timedelta

from services.orders.tests.conftest import Orders, new_patient, problem_fields
from tests.harness.events import Tap


async def test_create_read_update_publishes_patient_updated(orders: Orders) -> None:
    async with Tap(orders.vhost_url, "patient.#") as tap, orders.doctor() as doctor:
        created = await doctor.post("/patients", json=new_patient())
        assert created.status_code == 201, created.text
        patient = created.json()
        assert {key: patient[key] for key in ("first_name", "last_name", "date_of_birth", "sex")} == new_patient()
        assert (await doctor.get(f"/patients/{patient['id']}")).json() == patient

        unchanged = await doctor.patch(f"/patients/{patient['id']}", json={"first_name": "Zoë"})
        assert unchanged.status_code == 200 and unchanged.json() == patient
        changed = await doctor.patch(f"/patients/{patient['id']}", json={"last_name": "Martin", "sex": "other"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["last_name"] == "Martin" and changed.json()["first_name"] == "Zoë"
        assert (await doctor.get(f"/patients/{patient['id']}")).json() == changed.json()
        again = await doctor.patch(f"/patients/{patient['id']}", json={"date_of_birth": "1991-01-02"})
        assert again.json()["date_of_birth"] == "1991-01-02"

        events = await tap.wait("patient.updated", 2)
    assert [event.aggregate_version for event in events] == [2, 3]
    assert all(event.subject == patient["id"] and event.source == "orders" for event in events)
    assert events[0].payload == {
        "patient_id": patient["id"],
        "doctor_id": events[0].payload["doctor_id"],
        "first_name": "Zoë",
        "last_name": "Martin",
        "date_of_birth": "1990-04-12",
        "sex": "other",
    }
    assert events[1].payload["date_of_birth"] == "1991-01-02"


async def test_patient_fields_are_checked(orders: Orders) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()
    async with orders.doctor() as doctor:
        assert problem_fields(await doctor.post("/patients", json=new_patient(date_of_birth=future))) == [
            "date_of_birth"
        ]
        assert problem_fields(await doctor.post("/patients", json=new_patient(date_of_birth="1899-12-31"))) == [
            "date_of_birth"
        ]
        assert (await doctor.post("/patients", json=new_patient(date_of_birth="1900-01-01"))).status_code == 201
        assert (
            await doctor.post("/patients", json=new_patient(date_of_birth=date.today().isoformat()))
        ).status_code == 201
        refused = await doctor.post("/patients", json={"first_name": " ", "sex": "unknown", "doctor_id": "x"})
        assert sorted(problem_fields(refused)) == ["date_of_birth", "doctor_id", "first_name", "last_name", "sex"]
        patient = (await doctor.post("/patients", json=new_patient())).json()
        for body, field in (
            ({"first_name": None}, "first_name"),
            ({"date_of_birth": future}, "date_of_birth"),
            ({"id": "other"}, "id"),
        ):
            assert problem_fields(await doctor.patch(f"/patients/{patient['id']}", json=body)) == [field]
        assert (await doctor.get(f"/patients/{patient['id']}")).json() == patient


async def test_search_ignores_accents_and_case(orders: Orders) -> None:
    async with orders.doctor() as doctor, orders.doctor() as other:
        for first, last in (("Zoë", "Lefèvre"), ("Chloé", "Dupont"), ("Ana María", "Núñez"), ("Jörg", "Straße")):
            assert (
                await doctor.post("/patients", json=new_patient(first_name=first, last_name=last))
            ).status_code == 201
        await other.post("/patients", json=new_patient(first_name="Zoe", last_name="Other"))

        async def names(q: str | None = None, **params: object) -> list[str]:
            answer = await doctor.get("/patients", params={**({"q": q} if q is not None else {}), **params})
            assert answer.status_code == 200, answer.text
            return [item["first_name"] for item in answer.json()["items"]]

        assert await names() == ["Chloé", "Zoë", "Ana María", "Jörg"]  # by last name, accents ignored
        assert await names("zoe") == ["Zoë"]
        assert await names("ZOË") == ["Zoë"]
        assert await names("lefevre") == ["Zoë"]
        assert await names("nunez  ana") == ["Ana María"]
        assert await names("maria nun") == ["Ana María"]
        assert await names("STRASSE") == ["Jörg"]
        assert await names("chloe zoe") == []
        assert await names("%") == [] and await names("_") == []
        page = (await doctor.get("/patients", params={"page": 2, "page_size": 3})).json()
        assert page["total"] == 4 and [item["first_name"] for item in page["items"]] == ["Jörg"]
        assert page["page"] == 2 and page["page_size"] == 3
        assert (await doctor.get("/patients", params={"page_size": 201})).status_code == 422
        renamed = (await doctor.get("/patients", params={"q": "zoe"})).json()["items"][0]
        await doctor.patch(f"/patients/{renamed['id']}", json={"first_name": "Élodie"})
        assert await names("elodie") == ["Élodie"] and await names("zoe") == []
