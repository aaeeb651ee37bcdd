"""The access-control walk: every route of the running gateway's OpenAPI document, called by the wrong people.

The gateway runs with every internal service it relays to. Doctor A makes one object of each kind; doctor B then
calls every route that takes a path parameter with A's ids, with a session token and with an API key (403 or 404,
never 2xx, and A's objects unchanged, in the gateway's database and as A reads them); nobody without credentials
gets anything but 401; a doctor gets 403 from every admin and staff route. Routes are read from ``/openapi.json``,
so a route added later is walked without changing this file; a kind of object added later is walked against a
real object of A's once it has a line in :data:`A_OBJECTS`."""

from __future__ import annotations

import importlib
import importlib.util
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from services.gateway import models
from services.gateway.downstream import INTERNAL_SERVICES
from services.gateway.tests.conftest import (
    Gateway,
    gateway_database,
    registration,
    sign_up,
)
from shared.http import OPERATIONS_PATHS
from tests.harness.system import running_portal

API = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")

Body = dict[str, object] | Callable[[dict[str, str]], dict[str, object]]


@dataclass(frozen=True)
class Make:
    """How doctor A makes one object: POST ``body`` (or ``body(ids made so far)``) to ``collection`` under /api/v1;
    the answer's ``id`` is the object's id, and ``also`` names other objects the answer gives the id of (path
    segment → field of the answer)."""

    collection: str
    body: Body
    also: dict[str, str] = field(default_factory=dict)


A_OBJECTS: dict[str, Make | None] = {
    "practices": Make("/account/practices", registration()["practice"]),  # type: ignore[arg-type]
    "phones": Make("/account/phones", {"label": "mobile", "number": "+33 6 12 34 56 78"}),
    "api-keys": Make("/account/api-keys", {"name": "lab bridge", "scopes": ["read", "write"]}),
    "collaborators": Make("/account/collaborators", {"email": "colleague@example.org", "permissions": ["view"]}),
    "patients": Make(
        "/patients", {"first_name": "Léa", "last_name": "Martin", "date_of_birth": "2011-05-17", "sex": "female"}
    ),
    "orders": Make("/orders", lambda ids: {"kind": "aligner", "patient_id": ids["patients"]}, {"cases": "case_id"}),
    "accounts": None,
    "doctors": None,
}
"""The path segment that precedes an id parameter → how doctor A makes such an object, when the document has the
POST route for it (``None``: A's own account id). Add a line here when a new kind of object gets routes; a segment
missing here gets a random id."""

GATEWAY_OBJECTS = frozenset({"practices", "phones", "api-keys", "collaborators"})
"""Objects the gateway itself keeps: a refused attempt on one must be in the owner's audit log."""

PUBLIC_PATHS = frozenset({f"{API}/auth/register", f"{API}/auth/login", f"{API}/patient-links/{{token}}"})
"""Routes anyone may call without credentials (the operations routes are public too)."""

ROLE_PREFIXES = (f"{API}/admin", f"{API}/staff")
"""Routes for staff and admins only: a doctor gets 403 from every one."""

VOLATILE_READS = frozenset({f"{API}/account/audit-log", f"{API}/dashboard"})
"""Reads of A's whose answer legitimately changes during the walk (B's refused attempts are audited; the insights
run until now)."""

PATTERN_SAMPLES = (
    "FR",
    "+33 4 72 00 00 00",
    "walker_01",
    "DP-2026-000123",
    "2026-01-01",
    "11",
    "1",
    "x",
)
"""Candidate values for a string field with a ``pattern``: the first that matches is used."""


@dataclass
class Call:
    """One request to make: method, path (parameters substituted) and what it carries."""

    method: str
    template: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    data: dict[str, str] | None = None

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        """Send the request with ``client`` (whose base URL is the gateway's root)."""
        kwargs: dict[str, Any] = {"params": self.params}
        if self.files is not None or self.data is not None:
            kwargs.update(files=self.files or None, data=self.data or None)
        elif self.json is not None:
            kwargs["json"] = self.json
        return await client.request(self.method.upper(), self.path, **kwargs)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.template} ({self.path})"


class Walker:
    """Builds calls for every operation of an OpenAPI document, with ids of A's objects in the path."""

    def __init__(self, document: dict[str, Any], ids: dict[str, str]) -> None:
        self.document = document
        self.ids = ids

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every (path, method, operation) of the document, operations routes left out."""
        return [
            (path, method, operation)
            for path, item in sorted(self.document["paths"].items())
            if path not in OPERATIONS_PATHS
            for method, operation in item.items()
            if method in METHODS
        ]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with a ``$ref`` followed."""
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def sample(self, schema: dict[str, Any], depth: int = 0) -> Any:
        """A small value that ``schema`` accepts: required members only, first options, lowest bounds."""
        schema = self.resolve(schema)
        if depth > 12:
            return None
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for union in ("anyOf", "oneOf"):
            if union in schema:
                options = [o for o in schema[union] if self.resolve(o).get("type") != "null"]
                return self.sample(options[0], depth + 1) if options else None
        if schema.get("allOf"):
            return self.sample(schema["allOf"][0], depth + 1)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            return {name: self.sample(properties.get(name, {}), depth + 1) for name in schema.get("required", [])}
        if kind == "array":
            return [self.sample(schema.get("items", {}), depth + 1) for _ in range(max(1, schema.get("minItems", 1)))]
        if kind == "integer" or kind == "number":
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
            return int(low) if kind == "integer" else float(low)
        if kind == "boolean":
            return False
        if kind == "string":
            return self.sample_string(schema)
        return None

    @staticmethod
    def sample_string(schema: dict[str, Any]) -> str:
        """A string of the schema's format, pattern and length."""
        formats = {
            "email": f"walker-{uuid.uuid4().hex[:8]}@example.org",
            "uuid": str(uuid.uuid4()),
            "date": "2000-01-01",
            "date-time": "2026-01-01T00:00:00Z",
            "uri": "https://example.org/",
            "binary": "walk",
        }
        if schema.get("format") in formats:
            return formats[schema["format"]]
        if "pattern" in schema:
            for candidate in PATTERN_SAMPLES:
                if re.search(schema["pattern"], candidate):
                    return candidate
        return "x" * max(1, schema.get("minLength", 1))

    def path_value(self, path: str, name: str, operation: dict[str, Any]) -> str:
        """The value for path parameter ``name``: A's object of the segment before it, else a value of its type."""
        segments = path.split("/")
        position = segments.index(f"{{{name}}}")
        before = segments[position - 1] if position > 0 else ""
        if before in self.ids:
            return self.ids[before]
        declared = next((p for p in operation.get("parameters", []) if p.get("name") == name), {})
        schema = self.resolve(declared.get("schema", {}))
        if schema.get("type") in ("integer", "number"):
            return str(self.sample(schema))
        return str(uuid.uuid4())

    def call(self, path: str, method: str, operation: dict[str, Any]) -> Call:
        """The call of one operation: A's ids in the path, required query parameters, a minimal valid body."""
        concrete = re.sub(r"\{([^}]+)\}", lambda m: self.path_value(path, m.group(1), operation), path)
        query = {
            p["name"]: str(self.sample(p.get("schema", {})))
            for p in operation.get("parameters", [])
            if p.get("in") == "query" and p.get("required")
        }
        call = Call(method, path, concrete, query)
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            call.json = self.sample(content["application/json"].get("schema", {}))
        elif "multipart/form-data" in content or "application/x-www-form-urlencoded" in content:
            form = content.get("multipart/form-data") or content["application/x-www-form-urlencoded"]
            schema = self.resolve(form.get("schema", {}))
            call.files, call.data = {}, {}
            for name in schema.get("required", []):
                prop = self.resolve(schema.get("properties", {}).get(name, {}))
                if prop.get("format") == "binary" or self.resolve(prop.get("items", {})).get("format") == "binary":
                    call.files[name] = ("walk.bin", b"walk", "application/octet-stream")
                else:
                    value = self.sample(prop)
                    call.data[name] = value if isinstance(value, str) else str(value)
        elif method in ("post", "put", "patch"):
            call.json = {}
        return call


@pytest.fixture
async def portal(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway with every internal service it relays to, each on its own database of the same kind."""
    services = tuple(name for name in INTERNAL_SERVICES if importlib.util.find_spec(f"services.{name}.app") is not None)
    async with running_portal(tmp_path, vhost_url, database_url, services) as running:
        yield running.gateway


async def openapi(gateway: Gateway) -> dict[str, Any]:
    """The running gateway's OpenAPI document."""
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(f"{root(gateway)}/openapi.json")
    assert answer.status_code == 200, answer.text
    return answer.json()


def root(gateway: Gateway) -> str:
    """The gateway's root URL (the OpenAPI paths start with /api/v1)."""
    return gateway.base.removesuffix(API)


def client_at_root(gateway: Gateway, token: str | None = None) -> httpx.AsyncClient:
    """A client for paths as the OpenAPI document writes them, with a bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=root(gateway), headers=headers, timeout=30)


async def create_objects(
    gateway: Gateway, document: dict[str, Any], doctor: dict[str, Any], token: str
) -> dict[str, str]:
    """Doctor A's objects, one of each kind of :data:`A_OBJECTS` the document can make: path segment → id."""
    ids: dict[str, str] = {}
    async with gateway.client(token) as client:
        for segment, make in A_OBJECTS.items():
            if make is None:
                ids[segment] = str(doctor["id"])
                continue
            if "post" not in document["paths"].get(f"{API}{make.collection}", {}):
                continue
            body = make.body(ids) if callable(make.body) else make.body
            created = await client.post(make.collection, json=body)
            assert created.status_code == 201, (make.collection, created.text)
            ids[segment] = created.json()["id"]
            ids.update({other: created.json()[name] for other, name in make.also.items()})
    return ids


async def rows_of_account(gateway: Gateway, account_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the gateway's tables that belongs to ``account_id`` (by ``id``, ``doctor_id`` or
    ``account_id``), table by table."""
    tables = [
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, SQLModel) and getattr(value, "__table__", None) is not None
    ]
    rows: dict[str, list[dict[str, Any]]] = {}
    async with gateway_database(gateway.settings) as session:
        for model in tables:
            table = model.__table__  # type: ignore[attr-defined]
            owner = next((c for c in ("doctor_id", "account_id") if c in table.c), None)
            if owner is None and model is not models.Account:
                continue
            column = table.c[owner] if owner else table.c.id
            found = (await session.execute(select(table).where(column == account_id))).mappings()
            rows[table.name] = sorted((dict(row) for row in found), key=lambda row: str(row["id"]))
    return rows


async def api_view(gateway: Gateway, walker: Walker, token: str) -> dict[str, tuple[int, Any]]:
    """What A reads of their own data: every GET without a path parameter, and every GET of one of A's objects."""
    view: dict[str, tuple[int, Any]] = {}
    async with client_at_root(gateway, token) as client:
        for path, method, operation in walker.operations():
            if method != "get" or path in VOLATILE_READS:
                continue
            if "{" in path and not any(f"/{segment}/{{" in path for segment in walker.ids):
                continue
            call = walker.call(path, method, operation)
            answer = await call.send(client)
            body = answer.json() if answer.headers.get("content-type", "").endswith("json") else answer.text
            view[str(call)] = (answer.status_code, body)
    return view


async def test_another_doctor_reaches_none_of_my_objects(portal: Gateway) -> None:
    doctor_a, token_a = await sign_up(portal)
    _, token_b = await sign_up(portal)
    document = await openapi(portal)
    ids = await create_objects(portal, document, doctor_a, token_a)
    assert {"practices", "collaborators"} <= ids.keys(), ids
    walker = Walker(document, ids)
    rows_before = await rows_of_account(portal, str(doctor_a["id"]))
    view_before = await api_view(portal, walker, token_a)

    credentials = {"session": token_b}
    if "post" in document["paths"].get(f"{API}/account/api-keys", {}):
        async with portal.client(token_b) as client:
            key = await client.post("/account/api-keys", json={"name": "b's robot", "scopes": ["read", "write"]})
        assert key.status_code == 201, key.text
        credentials["API key"] = key.json()["secret"]

    walked, wrong = [], []
    for kind, credential in credentials.items():
        async with client_at_root(portal, credential) as client:
            for path, method, operation in walker.operations():
                if "{" not in path:
                    continue
                call = walker.call(path, method, operation)
                answer = await call.send(client)
                walked.append(str(call))
                if answer.status_code not in (403, 404):
                    wrong.append(f"{call} with B's {kind}: {answer.status_code} {answer.text[:300]}")
    assert walked, "the document has no route with a path parameter"
    assert not wrong, "doctor B reached doctor A's objects:\n" + "\n".join(wrong)

    assert await rows_of_account(portal, str(doctor_a["id"])) == rows_before
    assert await api_view(portal, walker, token_a) == view_before
    async with portal.client(token_a) as client:
        log = (await client.get("/account/audit-log", params={"page_size": 200})).json()
    denied = {entry["object_id"] for entry in log["items"] if entry["outcome"] == "denied"}
    attacked = {
        object_id
        for segment, object_id in ids.items()
        if segment in GATEWAY_OBJECTS and any(f"/{segment}/{{" in path for path in document["paths"])
    }
    assert attacked <= denied, f"refused attempts on {sorted(attacked - denied)} are missing from A's audit log"


async def test_nothing_but_the_public_routes_answers_without_credentials(portal: Gateway) -> None:
    doctor_a, token_a = await sign_up(portal)
    document = await openapi(portal)
    walker = Walker(document, await create_objects(portal, document, doctor_a, token_a))
    walked, wrong = [], []
    async with client_at_root(portal) as client:
        for path, method, operation in walker.operations():
            if path in PUBLIC_PATHS:
                continue
            call = walker.call(path, method, operation)
            answer = await call.send(client)
            walked.append(str(call))
            if answer.status_code != 401 or answer.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{call}: {answer.status_code} {answer.text[:300]}")
    assert len(walked) >= 10, walked
    assert not wrong, "routes answered without credentials:\n" + "\n".join(wrong)
    assert PUBLIC_PATHS <= document["paths"].keys()


async def test_a_doctor_gets_403_from_every_admin_and_staff_route(portal: Gateway) -> None:
    doctor_a, token_a = await sign_up(portal)
    document = await openapi(portal)
    walker = Walker(document, await create_objects(portal, document, doctor_a, token_a))
    wrong = []
    async with client_at_root(portal, token_a) as client:
        for path, method, operation in walker.operations():
            if not any(path == prefix or path.startswith(f"{prefix}/") for prefix in ROLE_PREFIXES):
                continue
            call = walker.call(path, method, operation)
            answer = await call.send(client)
            if answer.status_code != 403:
                wrong.append(f"{call}: {answer.status_code} {answer.text[:300]}")
    assert not wrong, "a doctor was not refused:\n" + "\n".join(wrong)
