"""The answers about one case: the case as its page shows it, with what it waits for and its history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.api.access import Access
from services.cases.intake import records_result
from services.cases.models import Case, HistoryEntry, Label, PatientLink, Phase, Setup
from services.cases.views import action_required, case_detail, history_body, link_state
from shared.db import utcnow


async def latest_setup(session: AsyncSession, case: Case) -> Setup | None:
    """The case's latest setup version, if any was published."""
    query = select(Setup).where(Setup.case_id == case.id).order_by(Setup.version.desc()).limit(1)  # type: ignore[attr-defined]
    return (await session.execute(query)).scalar_one_or_none()


async def active_link(session: AsyncSession, case: Case) -> PatientLink | None:
    """The case's patient link that is neither revoked nor expired, if any."""
    query = (
        select(PatientLink)
        .where(PatientLink.case_id == case.id, PatientLink.revoked_at.is_(None), PatientLink.expires_at > utcnow())  # type: ignore[union-attr,operator]
        .order_by(PatientLink.created_at.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def phases_of(session: AsyncSession, case: Case) -> list[Phase]:
    """The case's phases, by number."""
    query = select(Phase).where(Phase.case_id == case.id).order_by(Phase.number)  # type: ignore[arg-type]
    return list((await session.execute(query)).scalars())


async def case_answer(session: AsyncSession, access: Access) -> dict[str, Any]:
    """The case as its page shows it (``services.cases.views.case_detail``) for the caller's relation."""
    case = access.case
    label = await session.get(Label, case.label_id) if case.label_id else None
    return case_detail(
        case,
        label,
        await phases_of(session, case),
        await active_link(session, case),
        await records_result(session, case),
        access.relation,
        utcnow(),
    )


async def case_history(session: AsyncSession, case: Case) -> list[dict[str, Any]]:
    """Every dated event of the case, oldest first (DOMAIN.md "Case page", History)."""
    query = select(HistoryEntry).where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.at, HistoryEntry.id)  # type: ignore[arg-type]
    return [history_body(entry) for entry in (await session.execute(query)).scalars()]


async def case_page(session: AsyncSession, access: Access, with_history: bool = True) -> dict[str, Any]:
    """``{case, action_required, history}``: the case, what it waits for from the caller, and (unless
    ``with_history`` is false: the gateway asks for it apart) every dated event of it, oldest first."""
    case = access.case
    pending = await latest_setup(session, case)
    page = {
        "case": await case_answer(session, access),
        "action_required": action_required(
            case,
            pending if pending and pending.state == "pending" else None,
            await records_result(session, case),
            access.relation,
            access.permissions,
            link_state(await active_link(session, case), utcnow()),
        ),
    }
    return {**page, "history": await case_history(session, case)} if with_history else page
