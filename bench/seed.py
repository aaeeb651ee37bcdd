"""A doctor and their cases, made through the gateway's API as a doctor makes them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from services.gateway.tests.conftest import PASSWORD, registration
from tests.harness.bodies import complete_aligner


async def doctor(api: str) -> str:
    """Register a new doctor at the gateway whose API base is ``api`` and sign in; returns the bearer token."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        body = registration()
        (await client.post("/auth/register", json=body)).raise_for_status()
        login = await client.post("/auth/login", json={"email": body["email"], "password": PASSWORD})
        login.raise_for_status()
        return login.json()["access_token"]


async def drafts(api: str, token: str, count: int, concurrency: int = 8, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Create ``count`` draft aligner orders for the doctor of ``token``, ``concurrency`` at a time; returns the
    orders as the gateway answered them (``id``, ``case_id``, ...) once the cases service lists every case (it learns
    of them from events). Raises ``TimeoutError`` after ``timeout`` s."""
    headers = {"Authorization": f"Bearer {token}"}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:

        async def create() -> dict[str, Any]:
            async with gate:
                answer = await client.post("/orders", json=complete_aligner())
                answer.raise_for_status()
                return answer.json()

        made = await asyncio.gather(*(create() for _ in range(count)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = await client.get("/cases", params={"page_size": 1})
            if listed.status_code == 200 and listed.json()["total"] >= count:
                return list(made)
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{count} cases not listed within {timeout} s")
