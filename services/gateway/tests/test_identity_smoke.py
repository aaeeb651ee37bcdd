"""A doctor registers, signs in, reads and changes their personal information."""

from services.gateway.tests.conftest import Gateway, sign_up


async def test_register_sign_in_read_and_change_account(gateway: Gateway) -> None:
    account, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        assert (await client.get("/account")).json()["email"] == account["email"]
        changed = await client.patch("/account", json={"wear_schedule_days": 10, "username": "dr.lefevre"})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["wear_schedule_days"], changed.json()["username"]) == (10, "dr.lefevre")
    async with gateway.client() as anonymous:
        refused = await anonymous.get("/account")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"


async def test_required_personal_fields_cannot_be_cleared(gateway: Gateway) -> None:
    account, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        refused = await client.patch(
            "/account", json={"first_name": None, "email": None, "wear_schedule_days": None, "degree": None}
        )
        assert refused.status_code == 422, refused.text
        assert sorted(e["field"] for e in refused.json()["errors"]) == ["email", "first_name", "wear_schedule_days"]
        assert (await client.get("/account")).json() == account


async def test_a_page_beyond_any_list_is_a_422_not_a_crash(gateway: Gateway) -> None:
    _, token = await sign_up(gateway)
    async with gateway.client(token) as client:
        for page in ("99999999999999999999", "9223372036854775807", "1000001"):
            answer = await client.get("/account/phones", params={"page": page})
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["field"] == "query.page"
        assert (await client.get("/account/phones", params={"page": "1000000"})).json()["items"] == []
