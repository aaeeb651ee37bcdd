"""Bare FastAPI apps: the raw ceilings the system is measured against, and a sink for the traces it exports.

``create_app`` reads ``BENCH_FANOUT``, comma-separated URLs: ``GET /view`` asks all of them at once, through the
same kind of client as the gateway's views (httpx over aiohttp's pool, :mod:`services.gateway.downstream`), and
answers their JSON bodies in a list. ``GET /item`` answers a small JSON body, as a service's part of a view would.
``POST /v1/traces`` accepts (and drops) what an OTLP/HTTP exporter sends. No middleware, no telemetry.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from httpx_aiohttp import AiohttpTransport

from services.gateway.downstream import LIMITS, TIMEOUT

ITEM = {"id": "5d0c6f7e-3d8a-4c3b-9f3e-2f1f4f0a9b1c", "status": "setup_in_progress", "count": 42}


def create_app() -> FastAPI:
    """The bare app, fanning ``GET /view`` out to ``BENCH_FANOUT``'s URLs."""
    fanout = [url for url in os.environ.get("BENCH_FANOUT", "").split(",") if url]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=TIMEOUT, transport=AiohttpTransport(limits=LIMITS)) as client:
            app.state.client = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/item")
    async def item() -> dict[str, Any]:
        return ITEM

    @app.get("/view")
    async def view(request: Request) -> list[Any]:
        client: httpx.AsyncClient = request.app.state.client
        answers = await asyncio.gather(*(client.get(url) for url in fanout))
        return [answer.json() for answer in answers]

    @app.post("/v1/traces")
    async def traces(request: Request) -> Response:
        await request.body()
        return Response(status_code=200, media_type="application/x-protobuf")

    return app
