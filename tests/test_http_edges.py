"""Edges of every service's HTTP door: bodies too large, odd correlation ids, text a database cannot store, crashes
answered as problem details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import APIRouter
from pydantic import BaseModel

from shared.http import MAX_BODY_BYTES
from shared.service import create_service_app
from tests.harness.fixtures import doctor_headers, make_settings, migrate
from tests.harness.servers import serve

router = APIRouter(prefix="/v1")


class Note(BaseModel):
    text: str


@router.post("/notes")
async def store_note(note: Note) -> dict[str, int]:
    return {"length": len(note.text)}


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("a bug")


async def test_door_answers_problem_details_at_the_edges(tmp_path: Path, vhost_url: str, database_url: str) -> None:
    settings = make_settings(tmp_path, vhost_url, database_url)
    await migrate("orders", settings)
    app = create_service_app("orders", routers=[router], settings=settings)
    headers = doctor_headers(settings)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as client:
        fits = await client.post("/v1/notes", json={"text": "x" * 1000})
        assert fits.json() == {"length": 1000}
        declared = await client.post("/v1/notes", json={"text": "x" * MAX_BODY_BYTES})
        assert declared.status_code == 413 and declared.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is enforced while reading
            yield b'{"text": "'
            for _ in range(MAX_BODY_BYTES // 65536 + 1):
                yield b"x" * 65536
            yield b'"}'

        streamed = await client.post("/v1/notes", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        odd = await client.get("/livez", headers=[(b"X-Correlation-ID", "café <script>".encode("latin-1"))])
        assert odd.status_code == 200 and len(odd.headers["x-correlation-id"]) == 36  # a new id took its place
        crashed = await client.get("/v1/crash")
        assert crashed.status_code == 500 and crashed.json()["title"] == "Internal Server Error"
        assert "a bug" not in crashed.text  # no internals leak
