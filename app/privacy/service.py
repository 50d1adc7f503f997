"""GDPR/CCPA: export everything held about a person, erase it, purge old raw data.

Erasure keeps anonymous aggregates (stage history, event types and times, message
counts) so analytics stay right, and puts a hash of the address on the suppression list
so a later import or form post cannot resurrect mailing.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, SQLModel, select

from app.db import Database
from app.errors import NotFound
from app.events import LeadErased, publish
from app.models import (
    AuditLog,
    Consent,
    ConsentRecord,
    Event,
    Lead,
    Message,
    SalesOutcome,
    StageChange,
    Submission,
    Suppression,
    WebhookDelivery,
)
from app.settings import Settings
from app.types import utcnow

log = logging.getLogger(__name__)


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def is_suppressed(session: Session, email: str) -> bool:
    return session.get(Suppression, email_hash(email)) is not None


def suppress(session: Session, email: str, reason: str) -> None:
    """Put an address on the suppression list (idempotent; the first reason is kept)."""
    if not is_suppressed(session, email):
        session.add(Suppression(email_hash=email_hash(email), reason=reason))
        session.flush()


def _rows(session: Session, model: type[SQLModel], column: Any, lead_id: uuid.UUID) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in session.exec(select(model).where(column == lead_id)).all()]


def export_lead(session: Session, lead_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about one person, as JSON-ready data."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    return {
        "lead": lead.model_dump(mode="json"),
        "submissions": _rows(session, Submission, Submission.lead_id, lead_id),
        "events": _rows(session, Event, Event.lead_id, lead_id),
        "messages": _rows(session, Message, Message.lead_id, lead_id),
        "webhook_deliveries": _rows(session, WebhookDelivery, WebhookDelivery.lead_id, lead_id),
        "consent_history": _rows(session, ConsentRecord, ConsentRecord.lead_id, lead_id),
        "stage_history": _rows(session, StageChange, StageChange.lead_id, lead_id),
        "sales_outcomes": _rows(session, SalesOutcome, SalesOutcome.lead_id, lead_id),
        "exported_at": utcnow().isoformat(),
    }


def _scrub_lead(lead: Lead) -> None:
    lead.email = f"erased+{lead.id.hex}@erased.invalid"
    for name in (
        "first_name",
        "last_name",
        "company",
        "job_title",
        "phone",
        "timezone",
        "first_referrer",
        "first_landing_page",
        "last_referrer",
        "last_landing_page",
        "visitor_id",
        "owner",
    ):
        setattr(lead, name, None)
    lead.custom = {}
    lead.consent = Consent.unsubscribed
    lead.erased_at = utcnow()
    lead.updated_at = lead.erased_at


def erase_lead(session: Session, settings: Settings, lead_id: uuid.UUID, actor: str) -> None:
    """Erase personal data everywhere; keep anonymous aggregates; suppress the address."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.erased_at is not None:
        raise NotFound("lead", lead_id)
    suppress(session, lead.email, "erased")
    # Subscribers (webhooks) read the lead before it is scrubbed.
    publish(LeadErased(session=session, settings=settings, lead_id=lead.id))
    _scrub_lead(lead)
    session.add(lead)
    session.execute(
        update(Submission)
        .where(Submission.lead_id == lead_id)  # type: ignore[arg-type]
        .values(payload={}, ip=None, user_agent=None, referrer=None, response=None, attribution={})
    )
    session.execute(update(Event).where(Event.lead_id == lead_id).values(properties={}))  # type: ignore[arg-type]
    session.execute(
        update(Message)
        .where(Message.lead_id == lead_id)  # type: ignore[arg-type]
        .values(to_address=None, subject=None, html_body=None, text_body=None, last_error=None)
    )
    session.execute(update(ConsentRecord).where(ConsentRecord.lead_id == lead_id).values(ip=None))  # type: ignore[arg-type]
    # Deliveries not yet sent would carry the person's data out after erasure: drop them.
    # lead.erased itself is queued by the subscriber above and carries only the id.
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.lead_id == lead_id,  # type: ignore[arg-type]
            WebhookDelivery.status == "pending",  # type: ignore[arg-type]
            WebhookDelivery.event_type != "lead.erased",  # type: ignore[arg-type]
        )
    )
    session.add(AuditLog(actor=actor, action="lead.erased", target=str(lead_id)))
    session.flush()


def purge_old_raw_data(session: Session, retention_days: int) -> dict[str, int]:
    """Blank raw payloads older than the window; anonymous page views go entirely.

    Rows of known leads stay (type and time only) so funnel and email analytics keep
    their counts.
    """
    cutoff = utcnow() - timedelta(days=retention_days)
    blanked = session.execute(
        update(Submission)
        .where(Submission.received_at < cutoff, Submission.ip.is_not(None))  # type: ignore[arg-type, union-attr]
        .values(payload={}, ip=None, user_agent=None, referrer=None, response=None)
    )
    scrubbed = session.execute(
        update(Event)
        .where(Event.occurred_at < cutoff, Event.lead_id.is_not(None))  # type: ignore[arg-type, union-attr]
        .values(properties={})
    )
    deleted = session.execute(
        delete(Event).where(Event.occurred_at < cutoff, Event.lead_id.is_(None))  # type: ignore[arg-type, union-attr]
    )
    return {
        "submissions": blanked.rowcount or 0,  # type: ignore[attr-defined]
        "events": scrubbed.rowcount or 0,  # type: ignore[attr-defined]
        "anonymous_events": deleted.rowcount or 0,  # type: ignore[attr-defined]
    }


def retention_job(db: Database, settings: Settings) -> None:
    """Daily: apply LEADNURTURE_RETENTION_DAYS (off when unset)."""
    if settings.retention_days is None:
        return
    with db.transaction() as session:
        counts = purge_old_raw_data(session, settings.retention_days)
    log.info("retention purge", extra={"job": "retention", "count": sum(counts.values())})
