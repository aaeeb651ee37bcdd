"""Acting on the gateway's public API as its clients do, for the journey tests: answers checked, and waits for what
events carry between the services (a case's status, the dashboard's carousel) with a deadline instead of sleeps."""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx

from tests.harness.samples import CASE_01, CASE_01_DIR


async def ok(answer: httpx.Response, status: int = 200) -> Any:
    """The decoded JSON body of ``answer`` (None when it has none); fails the test, showing the body, unless its
    status is ``status``."""
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


async def case_reaches(
    client: httpx.AsyncClient,
    case_id: str,
    status: str,
    path: str = "/cases/{}",
    until: Callable[[dict[str, Any]], Any] = lambda page: True,
    within: float = 20.0,
) -> dict[str, Any]:
    """The case page (``path`` filled with ``case_id``) once the case is in ``status`` and ``until`` holds of the
    page (events travel between the services); fails after ``within`` seconds, showing the last page seen."""
    deadline, page = time.monotonic() + within, None
    while time.monotonic() < deadline:
        answer = await client.get(path.format(case_id))
        if answer.status_code == 200 and (page := answer.json())["case"]["status"] == status and until(page):
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} not {status} within {within} s: {page}")


async def carousel_until(
    client: httpx.AsyncClient, holds: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
) -> list[dict[str, Any]]:
    """The dashboard's notifications once ``holds`` is true of them (events travel between the services), the
    dashboard then whole (``meta`` not partial); fails after ``timeout`` seconds."""
    deadline, items = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        board = await ok(await client.get("/dashboard"))
        items = board["notifications"]
        if items is not None and holds(items):
            assert board["meta"] == {"partial": False, "degraded": []}
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"the carousel never held: {items}")


def mails(folder: Path) -> list[EmailMessage]:
    """The e-mails written as ``.eml`` files in ``folder`` (the notifications service's ``<data dir>/mail`` when no
    SMTP server is configured), parsed, in file-name order."""
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


async def upload(doctor: httpx.AsyncClient, case_id: str, slot: str, order_id: str | None = None) -> dict[str, Any]:
    """Upload case-01's record of ``slot`` as a multipart form (``file``, ``slot``, optional ``order_id``); returns
    the 201's document."""
    path = CASE_01_DIR / CASE_01[slot]
    form = {"slot": slot, **({"order_id": order_id} if order_id else {})}
    with path.open("rb") as file:
        answer = await doctor.post(f"/cases/{case_id}/documents", data=form, files={"file": (path.name, file)})
    document = await ok(answer, 201)
    assert (document["slot"], document["filename"], document["size_bytes"]) == (slot, path.name, path.stat().st_size)
    return document


async def submitted_case(doctor: httpx.AsyncClient, body: dict[str, Any], slots: list[str]) -> dict[str, Any]:
    """Save ``body`` as a draft, upload case-01's records of ``slots`` into it and submit it; returns the draft as
    created, with ``documents`` (by slot) and ``submission`` (the 202's body) added."""
    draft = await ok(await doctor.post("/orders", json=body), 201)
    draft["documents"] = {slot: await upload(doctor, draft["case_id"], slot, draft["id"]) for slot in slots}
    draft["submission"] = await ok(await doctor.post(f"/orders/{draft['id']}/submit"), 202)
    return draft
