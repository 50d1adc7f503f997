"""Admin API for leads: list with filters, read, edit, timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.leads.schemas import (
    EventPublic,
    LeadPublic,
    LeadsPublic,
    LeadUpdate,
    event_public,
    lead_public,
)
from app.leads.service import LeadFilter, get_lead, list_leads, update_lead
from app.leads.timeline import timeline
from app.models import FunnelStage, LifecycleStage
from app.scoring.service import engagement_now

router = APIRouter(prefix="/leads", tags=["leads"])
LeadsRead = Annotated[Principal, Depends(require_scope("leads:read"))]
LeadsWrite = Annotated[Principal, Depends(require_scope("leads:write"))]


@router.get("")
def list_all(
    session: SessionDep,
    _: LeadsRead,
    email: str | None = None,
    funnel_stage: FunnelStage | None = None,
    lifecycle_stage: LifecycleStage | None = None,
    min_score: Annotated[float | None, Query(description="minimum engagement score")] = None,
    min_fit: float | None = None,
    q: Annotated[str | None, Query(max_length=200, description="search email, name, company")] = None,
    created_after: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> LeadsPublic:
    filters = LeadFilter(
        email=email,
        funnel_stage=funnel_stage,
        lifecycle_stage=lifecycle_stage,
        min_score=min_score,
        min_fit=min_fit,
        q=q,
        created_after=created_after,
    )
    leads, next_cursor = list_leads(session, filters, limit, cursor)
    return LeadsPublic(
        data=[lead_public(lead, engagement_now(session, lead)) for lead in leads], next_cursor=next_cursor
    )


@router.get("/{lead_id}")
def read(lead_id: uuid.UUID, session: SessionDep, _: LeadsRead) -> LeadPublic:
    lead = get_lead(session, lead_id)
    return lead_public(lead, engagement_now(session, lead))


@router.patch("/{lead_id}")
def update(
    lead_id: uuid.UUID, body: LeadUpdate, session: SessionDep, settings: SettingsDep, _: LeadsWrite
) -> LeadPublic:
    lead = update_lead(session, settings, get_lead(session, lead_id), body)
    return lead_public(lead, engagement_now(session, lead))


@router.get("/{lead_id}/timeline")
def lead_timeline(
    lead_id: uuid.UUID,
    session: SessionDep,
    _: LeadsRead,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventPublic]:
    get_lead(session, lead_id)
    return [event_public(event) for event in timeline(session, lead_id, limit)]
