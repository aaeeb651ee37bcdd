"""How cases are shown: the JSON bodies of the API (API.md "Cases"; ``services.cases.schemas`` documents them).

Times are RFC 3339 in UTC with a ``Z``. The orders list item (:func:`case_item`) is what both the list and the case
page start from; the page adds what only it shows (:func:`case_detail`, :func:`action_required`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.cases.expiry import expiry_level
from services.cases.models import Case, HistoryEntry, Label, PatientLink, Phase, RecordsResult, Setup
from services.cases.statuses import BY_CODE, allowed_actions


def rfc3339(moment: datetime | None) -> str | None:
    """An aware datetime as RFC 3339 text in UTC, ``Z`` suffixed; None stays None."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def label_body(label: Label) -> dict[str, Any]:
    """``{id, color, name}``."""
    return {"id": label.id, "color": label.color, "name": label.name}


def case_item(case: Case, label: Label | None, today: date, *, owner: bool) -> dict[str, Any]:
    """One row of the orders list (API.md "Cases" ``GET /cases``), its expiry level as of ``today`` (UTC; an expired
    case's level is ``expired`` whatever the day). The label and the comment are the treating doctor's own notes:
    shown to that doctor only (``owner``), never to a collaborator or the lab."""
    setup = None
    if case.setup_version is not None:
        setup = {
            "version": case.setup_version,
            "published_at": rfc3339(case.setup_published_at),
            "state": case.setup_state,
        }
    return {
        "id": case.id,
        "doctor_id": case.doctor_id,
        "kind": case.kind,
        "order_number": case.order_number,
        "patient": {"id": case.patient_id, "first_name": case.patient_first_name, "last_name": case.patient_last_name},
        "main_photo_document_id": case.main_photo_document_id,
        "created_at": rfc3339(case.created_at),
        "submitted_at": rfc3339(case.submitted_at),
        "status": case.status,
        "status_label": BY_CODE[case.status].label,
        "bucket": case.bucket,
        "label": label_body(label) if label and owner else None,
        "setup": setup,
        "collaborator_status": case.collaborator_status,
        "package": case.package,
        "expires_at": rfc3339(case.expires_at),
        "expiry_level": "expired" if case.status == "expired" else expiry_level(case.expires_at, today),
        "comment": case.comment if owner else None,
    }


def setup_body(setup: Setup) -> dict[str, Any]:
    """A treatment setup version with the technician's comment, step counts and the doctor's decision."""
    return {
        "version": setup.version,
        "state": setup.state,
        "published_at": rfc3339(setup.published_at),
        "technician_comment": setup.technician_comment,
        "steps_upper": setup.steps_upper,
        "steps_lower": setup.steps_lower,
        "document_id": setup.document_id,
        "decided_at": rfc3339(setup.decided_at),
        "decision_reason": setup.decision_reason,
        "package": setup.package,
        "collaborator_verdict": setup.collaborator_verdict,
        "collaborator_reason": setup.collaborator_reason,
    }


def phase_body(phase: Phase) -> dict[str, Any]:
    """A phase: its steps, and where it stands (``in_production``, ``shipped`` or ``delivered``)."""
    state = "delivered" if phase.delivered_at else "shipped" if phase.shipped_at else "in_production"
    return {
        "number": phase.number,
        "steps_from": phase.steps_from,
        "steps_to": phase.steps_to,
        "state": state,
        "created_at": rfc3339(phase.created_at),
        "shipped_at": rfc3339(phase.shipped_at),
        "carrier": phase.carrier,
        "tracking_number": phase.tracking_number,
        "delivered_at": rfc3339(phase.delivered_at),
        "final": phase.final,
    }


def history_body(entry: HistoryEntry) -> dict[str, Any]:
    """A history entry ``{at, kind, actor, summary, details}`` (API.md), with who exactly and the status change."""
    return {
        "at": rfc3339(entry.at),
        "kind": entry.kind,
        "actor": entry.actor,
        "actor_id": entry.actor_id,
        "summary": entry.summary,
        "reason": entry.reason,
        "status_from": entry.status_from,
        "status_to": entry.status_to,
        "number": entry.number,
        "details": entry.details,
    }


def link_state(link: PatientLink | None, now: datetime) -> dict[str, Any] | None:
    """The case's patient link as its doctor sees it (never the token: it is shown once, at creation)."""
    if link is None or link.revoked_at is not None or link.expires_at <= now:
        return None
    return {
        "created_at": rfc3339(link.created_at),
        "expires_at": rfc3339(link.expires_at),
        "password_protected": link.password_hash is not None,
        "views": link.views,
        "last_viewed_at": rfc3339(link.last_viewed_at),
    }


def case_detail(
    case: Case,
    label: Label | None,
    phases: list[Phase],
    link: PatientLink | None,
    records: RecordsResult | None,
    relation: str,
    now: datetime,
) -> dict[str, Any]:
    """The case as its page shows it: the list row plus package, phases, patient link (its doctor only), the
    records of the last submitted order, a records problem, and the actions the caller may ask for now (a submitted
    order waiting for its records check can no longer be submitted or deleted)."""
    actor = {"owner": "doctor", "staff": "staff"}.get(relation)
    actions = allowed_actions(case.status, actor) if actor else []
    if case.intake_order_id is not None:
        actions = [action for action in actions if action not in ("submit", "delete_draft")]
    return {
        **case_item(case, label, now.date(), owner=relation == "owner"),
        "approved_at": rfc3339(case.approved_at),
        "held_from": case.held_from,
        "phases": [phase_body(phase) for phase in phases],
        "patient_link": link_state(link, now) if relation == "owner" else None,
        "records": {
            "order_id": case.intake_order_id,
            "required": list(case.intake_required_slots),
            "missing": list(records.missing) if records else None,
            "complete": records.complete if records else None,
            "pvs_impressions": case.intake_pvs,
            "impressions_received_at": rfc3339(case.impressions_received_at),
        },
        "records_problem": {
            "reason": case.problem_reason,
            "slots": list(case.problem_slots),
            "raised_at": rfc3339(case.problem_raised_at),
        }
        if case.status == "submission_problem"
        else None,
        "allowed_actions": actions,
    }


def action_required(
    case: Case,
    pending: Setup | None,
    records: RecordsResult | None,
    relation: str,
    permissions: tuple[str, ...],
    patient_link: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """What the case waits for from the caller (DOMAIN.md "Case page", Action required); empty when nothing is. A
    submitted order whose records check has not come back waits for nobody; while records are awaited, the slots to
    upload are those the check found missing, or every required one while it has not answered. A collaborator is
    asked to evaluate a pending setup only with the ``evaluate_setups`` permission. The doctor's review of a pending
    setup carries the case's active ``patient_link`` (:func:`link_state`; None when there is none), for showing the
    setup to the patient before deciding."""
    if relation == "staff":
        return []
    actions: list[dict[str, Any]] = []
    if case.status == "incomplete_submission" and relation == "owner" and case.intake_order_id is None:
        actions.append({"kind": "complete_submission", "order_id": case.order_id})
    if case.status == "setup_approval_pending" and pending is not None:
        if relation == "owner":
            actions.append({"kind": "review_setup", **setup_body(pending), "patient_link": patient_link})
        elif "evaluate_setups" in permissions:
            actions.append({"kind": "evaluate_setup", **setup_body(pending)})
    if case.status == "awaiting_records" and relation == "owner":
        missing = list(records.missing) if records is not None else list(case.intake_required_slots)
        if missing and not (records is not None and records.complete):
            actions.append({"kind": "upload_records", "order_id": case.intake_order_id, "missing": missing})
        if case.intake_pvs and case.impressions_received_at is None:
            actions.append({"kind": "mail_impressions", "order_id": case.intake_order_id})
    if case.status == "submission_problem" and relation == "owner":
        actions.append(
            {"kind": "answer_records_problem", "reason": case.problem_reason, "slots": list(case.problem_slots)}
        )
    return actions
