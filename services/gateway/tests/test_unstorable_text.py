"""Text a database cannot store (a NUL character: PostgreSQL refuses it, SQLite keeps it) is a 422, never a 500."""

from services.gateway.tests.conftest import Gateway, registration


async def test_nul_characters_are_refused_where_the_database_cannot_store_them(gateway: Gateway) -> None:
    on_postgres = (gateway.settings.gateway_database_url or "").startswith("postgresql")
    async with gateway.client() as client:
        login = await client.post("/auth/login", json={"email": "a\u0000@example.org", "password": "whatever-it-is"})
        assert login.status_code == (422 if on_postgres else 401), login.text
        created = await client.post("/auth/register", json=registration(first_name="Zo\u0000e"))
        assert created.status_code == (422 if on_postgres else 201), created.text
        if on_postgres:
            assert created.json()["detail"] == "text must not contain NUL characters or invalid UTF-8"
