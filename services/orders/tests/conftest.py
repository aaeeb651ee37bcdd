"""Fixtures for the orders service's tests: the service over real HTTP on its migrated database (SQLite, then
PostgreSQL) and a fresh broker virtual host; callers with internal tokens; case statuses as the cases service would
announce them; bodies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.orders.app import create_app
from services.orders.settings import Settings
from shared.events.cases import CaseStatusChanged
from shared.internal_token import Principal, mint_internal_token
from tests.harness.events import envelope_of, publish
from tests.harness.fixtures import migrate
from tests.harness.servers import serve


@dataclass
class Orders:
    """A running orders service: its settings, its base URL and its broker virtual host."""

    settings: Settings
    base: str
    vhost_url: str

    def token(self, role: str = "doctor", doctor_id: uuid.UUID | None = None) -> dict[str, str]:
        """Headers with an internal token: a new doctor by default; ``role="staff"`` has no doctor id."""
        user = uuid.uuid4()
        doctor = (doctor_id or user) if role == "doctor" else doctor_id
        token = mint_internal_token(self.settings, Principal(user_id=user, role=role, doctor_id=doctor))  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """An HTTP client for ``/v1`` sending ``headers`` (an internal token)."""
        return httpx.AsyncClient(base_url=f"{self.base}/v1", headers=headers or {}, timeout=30)

    def doctor(self) -> httpx.AsyncClient:
        """A client acting for a new doctor."""
        return self.client(self.token())

    def staff(self) -> httpx.AsyncClient:
        """A client acting for a staff member."""
        return self.client(self.token("staff"))


def orders_settings(tmp_path: Path, rabbitmq_url: str, database_url: str) -> Settings:
    """Orders settings for a test (test environment, its own data directory, broker and database, a quick relay)."""
    return Settings(
        env="test",
        data_dir=tmp_path / "data",
        rabbitmq_url=rabbitmq_url,
        orders_database_url=database_url,
        outbox_poll_seconds=0.1,
        retry_delays_seconds=[0.2, 0.4],
    )


@pytest.fixture
async def orders(tmp_path: Path, vhost_url: str, database_url: str) -> AsyncIterator[Orders]:
    """The orders service, migrated and ready, on each kind of database in turn."""
    settings = orders_settings(tmp_path, vhost_url, database_url)
    await migrate("orders", settings)
    async with serve(create_app(settings)) as base:
        yield Orders(settings, base, vhost_url)


async def publish_case_status(
    url: str, case_id: str, doctor_id: str, status: str, previous: str | None, version: int
) -> None:
    """Publish ``case.status_changed`` onto ``portal.events`` as the cases service would (a valid envelope)."""
    payload = CaseStatusChanged(
        case_id=case_id,
        doctor_id=doctor_id,
        status=status,  # type: ignore[arg-type]
        previous_status=previous,  # type: ignore[arg-type]
        reason="test",
        actor="staff",
    )
    await publish(url, envelope_of(payload, source="cases", subject=case_id, version=version))


def new_patient(**overrides: Any) -> dict[str, Any]:
    """A valid new-patient body."""
    return {"first_name": "Zoë", "last_name": "Lefèvre", "date_of_birth": "1990-04-12", "sex": "female", **overrides}


def complete_aligner(**overrides: Any) -> dict[str, Any]:
    """Every section of a valid aligner order (a new patient typed in), ready to submit."""
    return {
        "kind": "aligner",
        "patient": new_patient(),
        "general": {
            "practice_id": "practice-1",
            "arches": "both",
            "chief_concern": "crowding of the lower incisors",
            "duration": {"mode": "limit", "max_steps": 20},
            "wear_schedule_days": 14,
        },
        "records": {"scans": "digital", "scanner": "iTero Element"},
        "treatment_approach": {
            "dentition": "permanent",
            "ap_relationship": {"right": "maintain", "left": "improve"},
            "overjet": "maintain",
            "overbite": "improve",
            "midline": "maintain",
            "crossbite": {"anterior": "maintain", "posterior": "correct"},
            "crowding": {"upper": ["expand", "procline"], "lower": ["ipr"]},
            "spacing": "close",
            "ipr_allowed": True,
            "attachments_allowed": True,
            "extractions": [14, 24],
            "teeth_not_to_move": [36],
        },
        "additional": {"instructions": "keep the midline", "collaborator_ids": []},
        "terms_accepted": True,
        **overrides,
    }


def complete_retainer(**overrides: Any) -> dict[str, Any]:
    """A valid retainer order, ready to submit."""
    return {
        "kind": "retainer",
        "patient": new_patient(),
        "general": {"practice_id": "practice-1", "arches": "both"},
        "retainer": {"source": "new_scans", "sets": 2, "shipping_method": "express"},
        "terms_accepted": True,
        **overrides,
    }


def problem_fields(response: httpx.Response) -> list[str]:
    """The fields a 422 problem names, in its order."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in response.json()["errors"]]
