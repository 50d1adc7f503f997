"""What webhook receivers get: a stable envelope and the lead as sales needs it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.leads.timeline import timeline
from app.models import Lead
from app.settings import Settings
from app.types import utcnow

RECENT_EVENTS = 5


def lead_summary(lead: Lead) -> dict[str, Any]:
    touch = (
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "referrer",
        "landing_page",
    )
    return {
        "id": str(lead.id),
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "job_title": lead.job_title,
        "phone": lead.phone,
        "country": lead.country,
        "funnel_stage": lead.funnel_stage,
        "lifecycle_stage": lead.lifecycle_stage,
        "fit_score": lead.fit_score,
        "engagement_score": round(lead.engagement_score, 2),
        "owner": lead.owner,
        "mql_episode": lead.mql_episode,
        "first_touch": {name: getattr(lead, f"first_{name}") for name in touch},
        "last_touch": {name: getattr(lead, f"last_{name}") for name in touch},
    }


def lead_links(lead: Lead, settings: Settings) -> dict[str, str]:
    return {
        "lead": f"{settings.base_url}/ui/leads/{lead.id}",
        "decision": f"{settings.base_url}/api/v1/leads/{lead.id}/sales-decision",
        "outcome": f"{settings.base_url}/api/v1/leads/{lead.id}/sales-outcome",
    }


def recent_events(session: Session, lead: Lead) -> list[dict[str, Any]]:
    return [
        {"type": e.type, "occurred_at": e.occurred_at.isoformat(), "properties": e.properties}
        for e in timeline(session, lead.id, RECENT_EVENTS)
    ]


def mql_data(session: Session, settings: Settings, lead: Lead, reason: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "lead": lead_summary(lead),
        "reason": reason,
        "score": details,
        "recent_events": recent_events(session, lead),
        "links": lead_links(lead, settings),
    }


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event_type,
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "data": data,
    }
