"""Consent changes with evidence, and the opt-outs that end all marketing email."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, update

from app.events import ConsentChanged, publish
from app.leads.timeline import record_event
from app.models import Consent, ConsentRecord, Enrollment, Lead
from app.privacy.service import suppress
from app.settings import Settings
from app.types import utcnow

OPT_OUTS = {Consent.unsubscribed, Consent.bounced, Consent.complained}


def change_consent(
    session: Session,
    settings: Settings,
    lead: Lead,
    consent: str,
    *,
    source: str,
    ip: str | None = None,
    form_text: str | None = None,
) -> None:
    """Set consent with evidence (time, source, IP, what the person saw) and tell subscribers."""
    lead.consent = consent
    lead.consent_updated_at = utcnow()
    session.add(lead)
    session.add(
        ConsentRecord(
            lead_id=lead.id,
            consent=consent,
            source=source,
            ip=ip,
            form_text=(form_text or "")[:2000] or None,
        )
    )
    publish(ConsentChanged(session=session, settings=settings, lead_id=lead.id, consent=consent))


def opt_out(
    session: Session,
    settings: Settings,
    lead: Lead,
    consent: str,
    *,
    source: str,
    ip: str | None = None,
    details: Mapping[str, object] | None = None,
) -> bool:
    """Unsubscribe, hard bounce or complaint: at once, everywhere, and for good.

    Returns False when the lead had already opted out (the first reason is kept).
    """
    if lead.consent in OPT_OUTS:
        return False
    change_consent(session, settings, lead, consent, source=source, ip=ip)
    suppress(session, lead.email, consent)
    record_event(
        session,
        settings,
        lead,
        "unsubscribed" if consent == Consent.unsubscribed else f"email_{consent}",
        {"source": source, **(details or {})},
    )
    session.execute(
        update(Enrollment)
        .where(col(Enrollment.lead_id) == lead.id, col(Enrollment.status) == "active")
        .values(status="exited", exit_reason=consent, finished_at=utcnow(), next_run_at=None)
    )
    return True
