"""Route of the dashboard's numbers: counts per bucket and status, and the practice insights of a period
(API.md "Cases" ``GET /dashboard``; the gateway adds the notifications)."""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from services.cases.api.access import Caller, Database
from services.cases.insights import PERIODS, change, counts, metrics, windows
from services.cases.models import Doctor
from services.cases.views import rfc3339
from shared.db import utcnow
from shared.problems import CaseRoute

router = APIRouter(route_class=CaseRoute)


@router.get("/dashboard")
async def dashboard(
    viewer: Caller,
    session: Database,
    period: Annotated[Literal[PERIODS], Query()] = "mtd",  # type: ignore[valid-type]
) -> JSONResponse:
    """``{counts: {buckets, statuses}, insights: {period, time_zone, start, end, metrics, previous_start,
    previous_end, previous, change}}``: the counts over the cases the doctor sees (own and shared, as the orders
    list), the insights over the doctor's own cases, in the doctor's time zone. 403 for the lab (it has no
    practice)."""
    if viewer.doctor_id is None:
        raise HTTPException(403, "the dashboard is a doctor's")
    doctor = await session.get(Doctor, viewer.doctor_id)
    zone_name = doctor.time_zone if doctor else "UTC"
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone_name, zone = "UTC", zoneinfo.ZoneInfo("UTC")
    current, previous = windows(period, utcnow(), zone)
    now_metrics, *earlier = await metrics(session, viewer.doctor_id, [current, *([previous] if previous else [])])
    before = earlier[0] if earlier else None
    insights = {
        "period": period,
        "time_zone": zone_name,
        "start": rfc3339(current.start),
        "end": rfc3339(current.end),
        "metrics": now_metrics,
        "previous_start": rfc3339(previous.start) if previous else None,
        "previous_end": rfc3339(previous.end) if previous else None,
        "previous": before,
        "change": change(now_metrics, before) if before is not None else None,
    }
    return JSONResponse({"counts": await counts(session, viewer.visible()), "insights": insights})
