"""Hand-off reacts to domain events by writing webhook deliveries in the same transaction."""

from __future__ import annotations

from app.events import BecameMQL, ConsentChanged, LeadErased, StageChanged, subscribe
from app.handoff.outbox import queue_webhook
from app.handoff.payloads import lead_summary, mql_data
from app.handoff.sales import assign_owner
from app.leads.timeline import record_event
from app.models import Lead


@subscribe(BecameMQL)
def hand_off_mql(event: BecameMQL) -> None:
    lead = event.session.get(Lead, event.lead_id)
    if lead is None:
        return
    assign_owner(event.session, lead)
    queued = queue_webhook(
        event.session,
        "lead.mql",
        lead.id,
        mql_data(event.session, event.settings, lead, event.reason, event.details),
    )
    record_event(
        event.session,
        event.settings,
        lead,
        "handed_off",
        {"episode": event.episode, "owner": lead.owner, "endpoints": queued},
    )


@subscribe(StageChanged)
def announce_stage_change(event: StageChanged) -> None:
    lead = event.session.get(Lead, event.lead_id)
    if lead is None:
        return
    queue_webhook(
        event.session,
        "lead.stage_changed",
        lead.id,
        {
            "lead": lead_summary(lead),
            "kind": event.kind,
            "from": event.from_stage,
            "to": event.to_stage,
            "at": event.at.isoformat() if event.at else None,
        },
    )


@subscribe(ConsentChanged)
def announce_unsubscribe(event: ConsentChanged) -> None:
    if event.consent != "unsubscribed":
        return
    lead = event.session.get(Lead, event.lead_id)
    if lead is not None:
        queue_webhook(event.session, "lead.unsubscribed", lead.id, {"lead": lead_summary(lead)})


@subscribe(LeadErased)
def announce_erasure(event: LeadErased) -> None:
    # Only the id: the receiver must erase its copy, and we must not send the data again.
    queue_webhook(event.session, "lead.erased", event.lead_id, {"lead": {"id": str(event.lead_id)}})
