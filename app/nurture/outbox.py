"""Queueing email: a `message` row is the outbox; the dispatcher sends queued rows.

Transactional mail (double opt-in confirmation, ebook delivery) is exempt from marketing
consent and communication limits, but never goes to a bounced or complained address.
"""

from __future__ import annotations

from sqlmodel import Session

from app.models import Lead, Message
from app.types import utcnow


def queue_transactional_email(session: Session, lead: Lead, *, subject: str, html_body: str, text_body: str) -> Message:
    message = Message(
        lead_id=lead.id,
        kind="transactional",
        to_address=lead.email,
        subject=subject,
        html_body=html_body,
        text_body=text_body,
        status="queued",
        next_attempt_at=utcnow(),
    )
    session.add(message)  # written with the rest of the transaction's changes
    return message
