"""Opens, clicks and unsubscribes coming back from sent email."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, delete

from app.leads.consent import change_consent, opt_out
from app.leads.timeline import record_event
from app.models import Consent, Lead, Message, Suppression
from app.privacy.service import email_hash
from app.settings import Settings
from app.tokens import InvalidToken, Purpose, verify
from app.types import utcnow


def _message(session: Session, payload: Any) -> Message | None:
    try:
        return session.get(Message, uuid.UUID(str(payload["m"])))
    except (KeyError, ValueError, TypeError):
        return None


def _lead(session: Session, message: Message) -> Lead | None:
    lead = session.get(Lead, message.lead_id) if message.lead_id else None
    return lead if lead is not None and lead.erased_at is None else None


def _properties(message: Message, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": str(message.id),
        "sequence_id": str(message.sequence_id) if message.sequence_id else None,
        "step": message.step_position,
        **extra,
    }


def record_open(session: Session, settings: Settings, token: str) -> None:
    """First open of a message becomes an `email_opened` event (unique opens)."""
    try:
        message = _message(session, verify(settings.secret_key, Purpose.OPEN, token))
    except InvalidToken:
        return
    if message is None or message.opened_at is not None:
        return
    message.opened_at = utcnow()
    session.add(message)
    lead = _lead(session, message)
    if lead is not None and message.kind == "marketing":
        record_event(session, settings, lead, "email_opened", _properties(message))


def record_click(session: Session, settings: Settings, token: str) -> str:
    """The URL the signed token names; the first click per message is an `email_clicked` event."""
    payload = verify(settings.secret_key, Purpose.CLICK, token)
    url = str(payload.get("u") or "") if isinstance(payload, dict) else ""
    if not url.startswith(("http://", "https://")):
        raise InvalidToken()
    message = _message(session, payload)
    if message is None:
        raise InvalidToken()
    lead = _lead(session, message)
    first_click = message.clicked_at is None
    if first_click:
        message.clicked_at = utcnow()
        message.opened_at = message.opened_at or message.clicked_at  # a click proves the open
        session.add(message)
    if lead is not None and first_click and message.kind == "marketing":
        record_event(session, settings, lead, "email_clicked", _properties(message, url=url))
    return url


def unsubscribe_lead(session: Session, settings: Settings, token: str, ip: str | None) -> Lead:
    """Unsubscribe whoever the token names, at once. Tokens do not expire (links must keep working)."""
    lead, message_id = _token_lead(session, settings, token)
    opt_out(
        session,
        settings,
        lead,
        Consent.unsubscribed,
        source="unsubscribe_link",
        ip=ip,
        details={"message_id": message_id},
    )
    return lead


def resubscribe_lead(session: Session, settings: Settings, token: str, ip: str | None) -> bool:
    """Undo the person's own unsubscribe from the page their link opens.

    Only an unsubscribe: a hard bounce or a complaint is not the person changing their mind."""
    lead = lead_for_unsubscribe(session, settings, token)
    if lead.consent != Consent.unsubscribed or lead.erased_at is not None:
        return False
    change_consent(session, settings, lead, Consent.subscribed, source="unsubscribe_page", ip=ip)
    session.execute(
        delete(Suppression).where(
            col(Suppression.email_hash) == email_hash(lead.email), col(Suppression.reason) == Consent.unsubscribed
        )
    )
    record_event(session, settings, lead, "resubscribed", {"source": "unsubscribe_page"})
    return True


def lead_for_unsubscribe(session: Session, settings: Settings, token: str) -> Lead:
    return _token_lead(session, settings, token)[0]


def _token_lead(session: Session, settings: Settings, token: str) -> tuple[Lead, str]:
    """The lead an unsubscribe token names, and the message it came in."""
    payload = verify(settings.secret_key, Purpose.UNSUBSCRIBE, token)
    try:
        lead = session.get(Lead, uuid.UUID(str(payload["l"])))
        message_id = str(payload.get("m") or "")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken() from exc
    if lead is None:
        raise InvalidToken()
    return lead, message_id
