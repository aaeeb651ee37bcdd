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
