"""Funnel analytics (scope analytics:read). Every endpoint takes the same scope filters."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.access.service import Principal
from app.analytics import queries
from app.analytics.queries import Scope
from app.api.deps import SessionDep, require_scope
from app.capture.forms import get_live_form
from app.errors import InvalidInput
from app.types import utcnow

router = APIRouter(prefix="/analytics", tags=["analytics"])
AnalyticsRead = Annotated[Principal, Depends(require_scope("analytics:read"))]


def scope(
    session: SessionDep,
    _: AnalyticsRead,
    created_from: Annotated[datetime | None, Query(description="default: 90 days ago")] = None,
    created_to: Annotated[datetime | None, Query(description="default: now")] = None,
    form: Annotated[str | None, Query(description="form slug (first-touch form)")] = None,
    utm_source: Annotated[str | None, Query(max_length=200)] = None,
    sequence_id: uuid.UUID | None = None,
) -> Scope:
    end = created_to or utcnow() + timedelta(seconds=1)
    start = created_from or end - timedelta(days=90)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(["query", "created_from"], "give dates with a time zone, e.g. 2026-11-01T00:00:00Z")
    if start >= end:
        raise InvalidInput(["query", "created_from"], "must be before created_to")
    form_id = get_live_form(session, form).id if form else None
    return Scope(start, end, form_id=form_id, utm_source=utm_source, sequence_id=sequence_id)


ScopeDep = Annotated[Scope, Depends(scope)]


@router.get("/funnel")
def funnel(scope: ScopeDep, session: SessionDep) -> dict[str, Any]:
    """Leads reaching each stage, conversion between stages and overall, drop-off, time in stage."""
    return queries.funnel(session, scope)


@router.get("/cohorts")
def cohorts(scope: ScopeDep, session: SessionDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12) -> dict[str, Any]:
    """Capture week × weeks since capture → share reached MQL; share won."""
    return queries.cohorts(session, scope, weeks)


@router.get("/velocity")
def velocity(scope: ScopeDep, session: SessionDep) -> dict[str, Any]:
    return queries.velocity(session, scope)


@router.get("/sequences")
def sequences(scope: ScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    return queries.sequences(session, scope)


@router.get("/forms")
def forms(scope: ScopeDep, session: SessionDep) -> list[dict[str, Any]]:
    return queries.forms(session, scope)
