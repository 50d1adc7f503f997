"""Writing deliveries: one row per subscribed endpoint, in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from app.handoff.payloads import envelope
from app.models import WebhookDelivery, WebhookEndpoint
from app.types import utcnow

EVENT_TYPES = (
    "lead.mql",
    "lead.stage_changed",
    "lead.sales_accepted",
    "lead.sales_rejected",
    "lead.unsubscribed",
    "lead.erased",
    "lead.sla_breached",
    "lead.outcome",
)


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return "*" in endpoint.events or event_type in endpoint.events


def queue_webhook(session: Session, event_type: str, lead_id: uuid.UUID | None, data: dict[str, Any]) -> int:
    """Queue `event_type` for every enabled endpoint that wants it; returns how many."""
    endpoints = session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.enabled).is_(True))).all()
    body = envelope(event_type, data)
    now = utcnow()
    queued = 0
    for endpoint in endpoints:
        if subscribed(endpoint, event_type):
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    lead_id=lead_id,
                    event_type=event_type,
                    payload=body,
                    next_attempt_at=now,
                )
            )
            queued += 1
    if queued:
        session.flush()
    return queued
