"""Scoring reacts to what happens to leads, inside the same transaction."""

from __future__ import annotations

from sqlmodel import Session, col, select, update

from app.events import LeadCaptured, LeadEventRecorded, LeadFieldsChanged, subscribe
from app.models import Event, Lead
from app.scoring.service import UNSCORED_EVENTS, lock_lead, recompute_fit, score_event
from app.settings import Settings

MAX_STITCHED_EVENTS = 1000


@subscribe(LeadEventRecorded)
def on_event_recorded(event: LeadEventRecorded) -> None:
    row = event.row
    if row.type in UNSCORED_EVENTS:
        return
    lead = lock_lead(event.session, event.lead_id)
    if lead is not None:
        score_event(event.session, event.settings, lead, row)


@subscribe(LeadFieldsChanged)
def on_fields_changed(event: LeadFieldsChanged) -> None:
    lead = event.session.get(Lead, event.lead_id)
    if lead is not None:
        recompute_fit(event.session, event.settings, lead)


@subscribe(LeadCaptured)
def stitch_anonymous_page_views(event: LeadCaptured) -> None:
    """Page views this browser made before the form post now belong to the lead, and score."""
    lead = event.session.get(Lead, event.lead_id)
    if lead is None or not lead.visitor_id:
        return
    stitch(event.session, event.settings, lead)


def stitch(session: Session, settings: Settings, lead: Lead) -> int:
    anonymous = select(Event.id).where(Event.visitor_id == lead.visitor_id, col(Event.lead_id).is_(None))
    ids = list(session.exec(anonymous.order_by(col(Event.occurred_at)).limit(MAX_STITCHED_EVENTS)).all())
    if not ids:
        return 0
    session.execute(update(Event).where(col(Event.id).in_(ids)).values(lead_id=lead.id))
    for row in session.exec(select(Event).where(col(Event.id).in_(ids)).order_by(col(Event.occurred_at))).all():
        score_event(session, settings, lead, row)
    return len(ids)
