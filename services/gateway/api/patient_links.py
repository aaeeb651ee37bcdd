"""The patient link (API.md "Cases"; DOMAIN.md "patient link"): the doctor creates, shows and revokes it; anyone
holding it reads the treatment setup with the patient's initials, without signing in.

The public route reaches the cases service with an anonymous ``patient`` token, passes the visitor's address (for
the throttling of wrong passwords) and the ``X-Link-Password`` header, and answers only what the patient may see.
Every view, and every refused one, is written to the doctor's audit log.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from services.cases.schemas import PatientLinkIn
from services.gateway.audit import record
from services.gateway.auth import CaseDoctor, client_address
from services.gateway.downstream import downstream, relayed, send, service_path
from shared.http import CASE_ID_HEADER, CASE_OWNER_HEADER
from shared.internal_token import Principal

router = APIRouter(tags=["cases"])
PATIENT = Principal(user_id=uuid.UUID(int=0), role="patient", doctor_id=None)
"""Who the gateway says a patient-link visitor is: nobody in particular, allowed one route."""
SHOWN = ("patient", "doctor", "setup", "expires_at")
"""What the public page shows of the cases service's answer (not the ids it also carries)."""


@router.post("/cases/{case_id}/patient-link", status_code=201)
async def create_link(
    case_id: str,
    request: Request,
    caller: CaseDoctor,
    body: PatientLinkIn | None = None,
) -> Response:
    """A new patient link → 201 ``{url, token, expires_at, password_protected, created_at}`` (the token is shown in
    this answer only); the case's previous link stops working."""
    sent = body.model_dump(mode="json", exclude_unset=True) if body else {}
    answer = await send(request, caller, "cases", service_path("/v1/cases/{}/patient-link", case_id), sent)
    if answer.status_code != 201:
        return relayed(answer)
    link = answer.json()
    url = f"{request.app.state.runtime.settings.public_base}/api/v1/patient-links/{link['token']}"
    return JSONResponse({"url": url, **link}, status_code=201)


@router.get("/cases/{case_id}/patient-link")
async def read_link(case_id: str, request: Request, caller: CaseDoctor) -> Response:
    """The active link's state ``{created_at, expires_at, password_protected, views, last_viewed_at}``; 404 when
    there is none."""
    return relayed(await send(request, caller, "cases", service_path("/v1/cases/{}/patient-link", case_id)))


@router.delete("/cases/{case_id}/patient-link", status_code=204)
async def revoke_link(case_id: str, request: Request, caller: CaseDoctor) -> Response:
    """Revoke the active link → 204."""
    return relayed(await send(request, caller, "cases", service_path("/v1/cases/{}/patient-link", case_id)))


@router.get("/patient-links/{token}")
async def view_link(
    token: str,
    request: Request,
    password: Annotated[str | None, Header(alias="X-Link-Password", max_length=128)] = None,
) -> Response:
    """Public, no sign-in: ``{patient: {initials}, doctor: {name}, setup, expires_at}``. 401 when the link has a
    password and ``X-Link-Password`` is missing or wrong; 404 for an unknown, revoked or expired link; 429 with
    ``Retry-After`` after too many wrong passwords."""
    headers: dict[str, str | bytes] = {"X-Client-Address": client_address(request)}
    if password:  # the bytes the client sent (a password typed with accents is a wrong one: links take ASCII)
        headers["X-Link-Password"] = password.encode("latin-1")
    path = service_path("/v1/patient-links/{}", token)
    answer = await downstream(request).call("cases", "GET", path, PATIENT, headers=headers)
    owner, case_id = answer.headers.get(CASE_OWNER_HEADER), answer.headers.get(CASE_ID_HEADER)
    if owner is not None:
        outcome = "allowed" if answer.is_success else "denied"
        await record(
            request, None, "patient_link.view", "case", case_id, outcome, owner_doctor_id=owner, case_id=case_id
        )
    if not answer.is_success:
        return relayed(answer)
    shown = answer.json()
    return JSONResponse({key: shown[key] for key in SHOWN})
