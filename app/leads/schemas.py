"""API shapes of leads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models import Event, Lead

TOUCH_FIELDS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_page",
)


class Touch(BaseModel):
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    referrer: str | None = None
    landing_page: str | None = None


class LeadPublic(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    phone: str | None
    country: str | None
    company_size: int | None
    timezone: str | None
    custom: dict[str, Any]
    funnel_stage: str
    lifecycle_stage: str
    fit_score: float
    engagement_score: float = Field(description="decayed to the time of the answer")
    is_mql: bool
    became_mql_at: datetime | None
    consent: str
    owner: str | None
    first_touch: Touch
    last_touch: Touch
    created_at: datetime
    updated_at: datetime


class LeadsPublic(BaseModel):
    data: list[LeadPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class LeadUpdate(BaseModel):
    """PATCH: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=0)
    timezone: str | None = Field(default=None, max_length=64)
    custom: dict[str, str | int | float | bool | None] | None = None
    owner: str | None = Field(default=None, max_length=320)


class EventPublic(BaseModel):
    id: uuid.UUID
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    engagement_delta: float
    fit_delta: float


def lead_public(lead: Lead, engagement_now: float | None = None) -> LeadPublic:
    values = {name: getattr(lead, name) for name in LeadPublic.model_fields if hasattr(lead, name)}
    values["engagement_score"] = lead.engagement_score if engagement_now is None else engagement_now
    values["first_touch"] = Touch(**{f: getattr(lead, f"first_{f}") for f in TOUCH_FIELDS})
    values["last_touch"] = Touch(**{f: getattr(lead, f"last_{f}") for f in TOUCH_FIELDS})
    return LeadPublic.model_validate(values)


def event_public(event: Event) -> EventPublic:
    return EventPublic.model_validate(event, from_attributes=True)
