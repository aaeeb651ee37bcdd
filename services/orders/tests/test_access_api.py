"""Ownership inside the service: one doctor never reaches another's patients or orders (404 on every route, whatever
ids are sent); staff read every order but change none (403); a request without an internal token gets 401."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.orders.tests.conftest import Orders, complete_aligner, new_patient


async def owned_objects(doctor: httpx.AsyncClient) -> dict[str, Any]:
    """A patient, a draft and a submitted order (with its case) of ``doctor``."""
    patient = (await doctor.post("/patients", json=new_patient())).json()
    draft = (await doctor.post("/orders", json={"kind": "aligner", "patient_id": patient["id"]})).json()
    ready = (await doctor.post("/orders", json=complete_aligner())).json()
    submitted = await doctor.post(f"/orders/{ready['id']}/submit")
    assert submitted.status_code == 202, submitted.text
    return {"patient": patient, "draft": draft, "submitted": submitted.json()["order"]}


def every_route(mine: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Each route of the service aimed at ``mine``'s objects: (method, path, JSON body)."""
    patient, draft, submitted = mine["patient"]["id"], mine["draft"]["id"], mine["submitted"]
    return [
        ("GET", f"/patients/{patient}", None),
        ("PATCH", f"/patients/{patient}", {"last_name": "Taken"}),
        ("GET", f"/orders/{draft}", None),
        ("GET", f"/orders/{submitted['id']}", None),
        ("PATCH", f"/orders/{draft}", {"general": {"arches": "lower"}}),
        ("DELETE", f"/orders/{draft}", None),
        ("POST", f"/orders/{draft}/submit", None),
        ("POST", "/orders", {"kind": "aligner", "patient_id": patient}),
        ("POST", f"/cases/{submitted['case_id']}/modifications", {"reason": "relapse"}),
    ]


async def test_another_doctor_gets_404_on_every_route(orders: Orders) -> None:
    async with orders.doctor() as owner, orders.doctor() as intruder:
        mine = await owned_objects(owner)
        before = {path: (await owner.get(path)).json() for path in ("/patients", "/orders")}
        for method, path, body in every_route(mine):
            answer = await intruder.request(method, path, json=body)
            assert answer.status_code == 404, f"{method} {path}: {answer.status_code} {answer.text}"
            assert answer.headers["content-type"].startswith("application/problem+json")
        for path in ("/patients", "/orders", f"/orders?case_id={mine['submitted']['case_id']}"):
            assert (await intruder.get(path)).json()["total"] == 0
        assert (await intruder.get("/patients", params={"q": "zoe"})).json()["items"] == []
        assert {path: (await owner.get(path)).json() for path in ("/patients", "/orders")} == before
        for method, path in (("GET", f"/orders/{uuid.uuid4()}"), ("GET", "/orders/not-an-id")):
            assert (await owner.request(method, path)).status_code == 404


async def test_staff_read_every_order_but_change_none(orders: Orders) -> None:
    async with orders.doctor() as owner, orders.staff() as staff:
        mine = await owned_objects(owner)
        for path in (f"/orders/{mine['draft']['id']}", f"/orders/{mine['submitted']['id']}"):
            answer = await staff.get(path)
            assert answer.status_code == 200 and answer.json() == (await owner.get(path)).json()
        assert (await staff.get(f"/patients/{mine['patient']['id']}")).status_code == 200
        assert (await staff.get("/orders", params={"case_id": mine["submitted"]["case_id"]})).json()["total"] == 1
        writes = [route for route in every_route(mine) if route[0] != "GET"]
        writes.append(("POST", "/patients", new_patient()))
        for method, path, body in writes:
            answer = await staff.request(method, path, json=body)
            assert answer.status_code == 403, f"{method} {path}: {answer.status_code} {answer.text}"
        assert (await owner.get(f"/orders/{mine['draft']['id']}")).json() == mine["draft"]
        collaborator = orders.client(orders.token("collaborator", uuid.UUID(mine["submitted"]["case_id"])))
        async with collaborator:
            assert (await collaborator.post("/orders", json={"kind": "aligner"})).status_code == 403


async def test_requests_without_an_internal_token_are_refused(orders: Orders) -> None:
    async with orders.client() as anonymous:
        for method, path in (("GET", "/orders"), ("POST", "/orders"), ("GET", "/patients")):
            answer = await anonymous.request(method, path)
            assert answer.status_code == 401
