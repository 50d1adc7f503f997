"""The one way anything lands on a lead's timeline: `record_event`.

It stores the event and publishes `LeadEventRecorded`, so scoring (and anything else that
cares) reacts inside the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from app.events import LeadEventRecorded, publish
from app.models import Event, Lead
from app.settings import Settings
from app.types import utcnow


def record_event(
    session: Session,
    settings: Settings,
    lead: Lead,
    event_type: str,
    properties: dict[str, Any] | None = None,
    *,
    occurred_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Event:
    """Append an event to the lead's timeline (idempotent when a key is given)."""
    if idempotency_key is not None:
        existing = session.exec(select(Event).where(Event.idempotency_key == idempotency_key)).first()
        if existing is not None:
            return existing
    event = Event(
        lead_id=lead.id,
        type=event_type,
        properties=properties or {},
        occurred_at=occurred_at or utcnow(),
        idempotency_key=idempotency_key,
    )
    session.add(event)
    publish(LeadEventRecorded(session=session, settings=settings, lead_id=lead.id, row=event))
    session.flush()
    return event


def timeline(session: Session, lead_id: uuid.UUID, limit: int = 100) -> list[Event]:
    """The lead's most recent events, newest first."""
    statement = (
        select(Event)
        .where(Event.lead_id == lead_id)
        .order_by(Event.occurred_at.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return list(session.exec(statement).all())
