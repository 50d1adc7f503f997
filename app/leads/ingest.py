"""Activity from elsewhere (`POST /api/v1/events`): webinar platforms, product sign-ups..."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.capture.intake import normalise_email
from app.db import transaction_memo
from app.errors import NotFound
from app.leads.service import get_lead, upsert_lead
from app.leads.stages import record_initial_stages
from app.leads.timeline import record_event
from app.models import Event, Lead
from app.settings import Settings

# Written only by the service itself; accepting them from outside would forge history.
RESERVED_TYPES = frozenset(
    {
        "stage_changed",
        "became_mql",
        "handed_off",
        "sales_accepted",
        "sales_rejected",
        "sla_breached",
        "form_submitted",
        "email_sent",
        "unsubscribed",
    }
)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    lead_id: uuid.UUID | None = None
    type: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,39}$")
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    create_lead: bool = Field(default=False, description="create an unknown email as a subscriber")

    @field_validator("type")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_TYPES:
            raise ValueError(f"'{value}' events are recorded by Leadnurture itself")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value is not None else None

    @model_validator(mode="after")
    def _identifies_a_lead(self) -> EventIn:
        if (self.email is None) == (self.lead_id is None):
            raise ValueError("give exactly one of email or lead_id")
        return self


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=1000)


@dataclass
class Ingested:
    event_id: uuid.UUID
    lead_id: uuid.UUID
    duplicate: bool


def _find_lead(session: Session, item: EventIn) -> Lead:
    if item.lead_id is not None:
        return get_lead(session, item.lead_id)
    assert item.email is not None
    seen: dict[str, Lead] = transaction_memo(session).setdefault("leads_by_email", {})
    known = seen.get(item.email)  # a batch names the same leads again and again
    if known is None or known.erased_at is not None:
        statement = select(Lead).where(Lead.email == item.email, col(Lead.erased_at).is_(None))
        known = session.exec(statement).first()
    if known is None:
        if not item.create_lead:
            raise NotFound("lead with that email")
        known, created = upsert_lead(session, item.email, lifecycle_stage="subscriber")
        if created:
            record_initial_stages(session, known)
    seen[item.email] = known
    return known


def ingest(session: Session, settings: Settings, item: EventIn) -> Ingested:
    """Record one event (idempotent by key); scoring reacts inside this transaction."""
    if item.idempotency_key:
        existing = session.exec(select(Event).where(Event.idempotency_key == item.idempotency_key)).first()
        if existing is not None and existing.lead_id is not None:
            return Ingested(existing.id, existing.lead_id, duplicate=True)
    lead = _find_lead(session, item)
    record = partial(record_event, session, settings, lead, item.type, item.properties, occurred_at=item.occurred_at)
    if not item.idempotency_key:
        return Ingested(record().id, lead.id, duplicate=False)
    try:
        with session.begin_nested():
            event = record(idempotency_key=item.idempotency_key)
    except IntegrityError:  # the same key raced in from another request
        existing = session.exec(select(Event).where(Event.idempotency_key == item.idempotency_key)).one()
        assert existing.lead_id is not None
        return Ingested(existing.id, existing.lead_id, duplicate=True)
    return Ingested(event.id, lead.id, duplicate=False)
