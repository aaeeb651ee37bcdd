"""Every (status, action) pair over HTTP: a case is brought to each status through the service's own routes and
handlers, then each action a doctor or the lab can take over the API is tried on a fresh case in that status. The
allowed ones land where :data:`EXPECTED` says (written from DOMAIN.md's transitions table, not from the code's); every
other one is a 409 naming the current status and the actions it allows, and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import sqlalchemy as sa

from services.cases.expiry import remind_and_expire
from services.cases.models import Case
from services.cases.statuses import STATUSES
from services.cases.tests.conftest import Cases, Order, draft_created, new_order, ok, submitted
from shared.db import utcnow

SETUP = {"technician_comment": "IPR 0.3 mm 32-42", "steps_upper": 20, "steps_lower": 20}


@dataclass
class Actors:
    """The treating doctor and a lab technician."""

    doctor: httpx.AsyncClient
    lab: httpx.AsyncClient


Call = Callable[[Actors, str], Awaitable[httpx.Response]]
ACTIONS: dict[str, Call] = {
    "publish_setup": lambda a, case: a.lab.post(f"/staff/cases/{case}/setups", json=SETUP),
    "approve_setup": lambda a, case: a.doctor.post(f"/cases/{case}/setups/1/approve", json={"package": "ONE"}),
    "reject_setup": lambda a, case: a.doctor.post(f"/cases/{case}/setups/1/reject", json={"reason": "more torque"}),
    "raise_records_problem": lambda a, case: a.lab.post(f"/staff/cases/{case}/records-problem", json={"reason": "x"}),
    "answer_records_problem": lambda a, case: a.doctor.post(
        f"/cases/{case}/records-problem/answer", json={"answer": "y"}
    ),
    "receive_impressions": lambda a, case: a.lab.post(f"/staff/cases/{case}/impressions-received"),
    "start_phase": lambda a, case: a.lab.post(
        f"/staff/cases/{case}/phases", json={"number": 2, "steps_from": 11, "steps_to": 20}
    ),
    "ship_phase": lambda a, case: a.lab.post(
        f"/staff/cases/{case}/phases/1/ship", json={"carrier": "DHL", "tracking_number": "T1"}
    ),
    "deliver_phase": lambda a, case: a.lab.post(f"/staff/cases/{case}/phases/1/deliver", json={"final": False}),
    "deliver_final_phase": lambda a, case: a.lab.post(f"/staff/cases/{case}/phases/1/deliver", json={"final": True}),
    "hold": lambda a, case: a.doctor.post(f"/cases/{case}/hold", json={"reason": "travel"}),
    "resume": lambda a, case: a.doctor.post(f"/cases/{case}/resume"),
    "cancel": lambda a, case: a.doctor.post(f"/cases/{case}/cancel", json={"reason": "moved away"}),
}
"""Each action a person takes over the API, as its natural call on a case of the setup below (a retainer from PVS
impressions, one setup of 20 steps, phase 1 of steps 1-10)."""

EXPECTED: dict[tuple[str, str], str] = {
    ("incomplete_submission", "cancel"): "cancelled",
    ("awaiting_records", "receive_impressions"): "setup_in_progress",
    ("awaiting_records", "cancel"): "cancelled",
    ("setup_in_progress", "raise_records_problem"): "submission_problem",
    ("setup_in_progress", "publish_setup"): "setup_approval_pending",
    ("setup_in_progress", "cancel"): "cancelled",
    ("submission_problem", "answer_records_problem"): "setup_in_progress",
    ("submission_problem", "cancel"): "cancelled",
    ("setup_approval_pending", "approve_setup"): "in_production",
    ("setup_approval_pending", "reject_setup"): "setup_in_progress",
    ("setup_approval_pending", "cancel"): "cancelled",
    ("in_production", "ship_phase"): "shipped",
    ("in_production", "hold"): "on_hold",
    ("shipped", "start_phase"): "in_production",
    ("shipped", "deliver_phase"): "shipped",
    ("shipped", "deliver_final_phase"): "last_phase_delivered",
    ("shipped", "hold"): "on_hold",
    ("on_hold", "resume"): "shipped",
    ("on_hold", "deliver_phase"): "on_hold",
}
"""DOMAIN.md's transitions that a person makes over the API, from the states :func:`reach` builds; a pair missing here
must be refused. Two rows keep the status: a phase delivered that is not the last one."""


PATHS: dict[str, list[str]] = {
    "setup_in_progress": ["receive_impressions"],
    "submission_problem": ["receive_impressions", "raise_records_problem"],
    "setup_approval_pending": ["receive_impressions", "publish_setup"],
    "in_production": ["receive_impressions", "publish_setup", "approve_setup", "phase_one"],
    "shipped": ["receive_impressions", "publish_setup", "approve_setup", "phase_one", "ship_phase"],
    "on_hold": ["receive_impressions", "publish_setup", "approve_setup", "phase_one", "ship_phase", "hold"],
    "last_phase_delivered": [
        "receive_impressions", "publish_setup", "approve_setup", "phase_one", "ship_phase", "deliver_final_phase"
    ],
    "expired": ["receive_impressions", "publish_setup", "approve_setup", "phase_one", "ship_phase"],
}  # fmt: skip
"""The calls that take a submitted case (``awaiting_records``: its PVS impressions are in the mail) to each status."""


async def reach(cases: Cases, actors: Actors, doctor_id: str, status: str) -> Order:
    """A new case of ``doctor_id`` brought to ``status`` the way it would get there: its retainer order drafted,
    submitted (from PVS impressions, no file needed), then the calls of :data:`PATHS`; an expired case also has its
    expiry date moved to yesterday before the expiry job runs."""
    order = new_order(doctor_id, kind="retainer")
    await cases.apply(draft_created(cases, order))
    if status == "cancelled":
        await ok(await ACTIONS["cancel"](actors, order.case_id))
    if status in ("incomplete_submission", "cancelled"):
        return order
    await cases.apply(submitted(cases, order, scans=None, source="pvs_impressions", required=[]))
    for name in PATHS.get(status, []):
        if name == "phase_one":
            phase = {"number": 1, "steps_from": 1, "steps_to": 10}
            await ok(await actors.lab.post(f"/staff/cases/{order.case_id}/phases", json=phase), 201)
        else:
            answer = await ACTIONS[name](actors, order.case_id)
            assert answer.status_code in (200, 201), (status, name, answer.text)
    if status == "expired":
        async with cases.sessions() as session, session.begin():
            yesterday = utcnow() - timedelta(days=1)
            await session.execute(sa.update(Case).where(Case.id == order.case_id).values(expires_at=yesterday))
        await remind_and_expire(cases.sessions, utcnow())
    return order


async def test_every_status_and_action_over_the_api(cases: Cases) -> None:
    doctor_id = str(uuid.uuid4())
    wrong: list[str] = []
    async with cases.doctor(doctor_id) as doctor, cases.staff() as lab:
        actors = Actors(doctor, lab)
        for status in (s.code for s in STATUSES):
            for action, call in ACTIONS.items():
                order = await reach(cases, actors, doctor_id, status)
                before = await ok(await doctor.get(f"/cases/{order.case_id}"))
                assert before["case"]["status"] == status, (status, before["history"])
                answer = await call(actors, order.case_id)
                after = (await ok(await doctor.get(f"/cases/{order.case_id}")))["case"]
                expected = EXPECTED.get((status, action))
                if expected is not None:
                    if answer.status_code not in (200, 201) or after["status"] != expected:
                        wrong.append(
                            f"{status} + {action}: {answer.status_code} {after['status']}, expected {expected}"
                        )
                elif (
                    answer.status_code != 409 or after["status"] != status or answer.json().get("case_status") != status
                ):
                    wrong.append(f"{status} + {action}: {answer.status_code} {answer.text[:200]}, expected 409")
                elif not isinstance(answer.json().get("allowed_actions"), list):
                    wrong.append(f"{status} + {action}: 409 without allowed_actions")
    assert not wrong, "\n".join(wrong)
