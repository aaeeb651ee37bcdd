"""A doctor lists (paged), adds and deletes phone numbers, at most ten; nobody else can."""

from __future__ import annotations

import uuid

from services.gateway.tests.conftest import Gateway, assert_paged, fields, list_items, sign_up, staff_token


async def test_list_add_and_delete_phones(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        assert await list_items(client, "/account/phones") == []
        office = await client.post("/account/phones", json={"number": "+33 4 72 00 00 00"})
        mobile = await client.post("/account/phones", json={"label": "mobile", "number": "06 12 34 56 78"})
        assert (office.status_code, mobile.status_code) == (201, 201), (office.text, mobile.text)
        assert (office.json()["label"], office.json()["number"]) == ("office", "+33 4 72 00 00 00")
        assert (mobile.json()["label"], mobile.json()["number"]) == ("mobile", "06 12 34 56 78")
        assert await list_items(client, "/account/phones") == [office.json(), mobile.json()]

        deleted = await client.delete(f"/account/phones/{office.json()['id']}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert await list_items(client, "/account/phones") == [mobile.json()]
        assert (await client.delete(f"/account/phones/{office.json()['id']}")).status_code == 404


async def test_at_most_ten_numbers(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        added = [await client.post("/account/phones", json={"number": f"+33 6 00 00 00 {n:02}"}) for n in range(10)]
        assert [answer.status_code for answer in added] == [201] * 10
        refused = await client.post("/account/phones", json={"number": "+33 6 00 00 00 99"})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert len(await list_items(client, "/account/phones")) == 10
        assert (await client.delete(f"/account/phones/{added[0].json()['id']}")).status_code == 204
        assert (await client.post("/account/phones", json={"number": "+33 6 00 00 00 99"})).status_code == 201


async def test_invalid_bodies_are_refused_naming_the_field(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    other, _ = await sign_up(gateway)
    async with gateway.client(token) as client:
        assert fields(await client.post("/account/phones", json={"number": "call me"})) == ["number"]
        assert fields(await client.post("/account/phones", json={"label": "office"})) == ["number"]
        for smuggled in ({"doctor_id": other["id"]}, {"id": str(uuid.uuid4())}):
            answer = await client.post("/account/phones", json={"number": "+33 4 72 00 00 00", **smuggled})
            assert fields(answer) == list(smuggled)
        assert await list_items(client, "/account/phones") == []


async def test_another_doctors_phone_is_not_found(gateway: Gateway) -> None:
    _, owner_token = await sign_up(gateway)
    _, intruder_token = await sign_up(gateway)
    async with gateway.client(owner_token) as client:
        phone = (await client.post("/account/phones", json={"number": "+33 4 72 00 00 00"})).json()
    async with gateway.client(intruder_token) as client:
        assert (await client.delete(f"/account/phones/{phone['id']}")).status_code == 404
        assert await list_items(client, "/account/phones") == []
    async with gateway.client(owner_token) as client:
        assert await list_items(client, "/account/phones") == [phone]


async def test_phones_are_for_doctors_only(gateway: Gateway) -> None:
    _, doctor_token = await sign_up(gateway)
    async with gateway.client(doctor_token) as client:
        phone = (await client.post("/account/phones", json={"number": "+33 4 72 00 00 00"})).json()
    async with gateway.client(await staff_token(gateway)) as staff:
        answers = [
            await staff.get("/account/phones"),
            await staff.post("/account/phones", json={"number": "+33 4 72 00 00 01"}),
            await staff.delete(f"/account/phones/{phone['id']}"),
        ]
    assert [answer.status_code for answer in answers] == [403] * 3
    async with gateway.client(doctor_token) as client:
        assert await list_items(client, "/account/phones") == [phone]


async def test_phones_are_listed_page_by_page(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        added = [await client.post("/account/phones", json={"number": f"+33 6 00 00 00 {n:02}"}) for n in range(5)]
        assert [answer.status_code for answer in added] == [201] * 5
        await assert_paged(client, "/account/phones", [answer.json()["id"] for answer in added])
