"""Bounces and complaints from the email provider: a generic shape and Amazon SES via SNS."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.capture.intake import normalise_email
from app.errors import InvalidInput
from app.leads.consent import opt_out
from app.leads.timeline import record_event
from app.models import Consent, Lead
from app.privacy.service import suppress
from app.settings import Settings

router = APIRouter(prefix="/email-events", tags=["email events"])
Admin = Annotated[Principal, Depends(require_scope("admin"))]


class EmailEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["bounce", "complaint"]
    email: str = Field(max_length=320)
    bounce_type: Literal["hard", "soft"] = "hard"
    message_id: str | None = Field(default=None, max_length=300)
    detail: str | None = Field(default=None, max_length=1000)


class Handled(BaseModel):
    handled: int


def apply_email_event(session: Session, settings: Settings, event: EmailEvent) -> None:
    """Hard bounces and complaints suppress the address for good; soft bounces are noted."""
    try:
        email = normalise_email(event.email)
    except ValueError as exc:
        raise InvalidInput(["body", "email"], str(exc)) from exc
    lead = session.exec(select(Lead).where(Lead.email == email, col(Lead.erased_at).is_(None))).first()
    details = {
        "message_id": event.message_id,
        "detail": event.detail,
        "bounce_type": event.bounce_type,
    }
    if event.type == "bounce" and event.bounce_type == "soft":
        if lead is not None:
            record_event(session, settings, lead, "email_soft_bounced", details)
        return
    consent = Consent.bounced if event.type == "bounce" else Consent.complained
    if lead is None:
        suppress(session, email, consent)  # never mail it, even if it arrives later
        return
    opt_out(session, settings, lead, consent, source="provider", details=details)


@router.post("")
def generic(body: EmailEvent | list[EmailEvent], session: SessionDep, settings: SettingsDep, _: Admin) -> Handled:
    """`{type: bounce|complaint, email, bounce_type: hard|soft, message_id}` (or a list of them)."""
    events = body if isinstance(body, list) else [body]
    for event in events:
        apply_email_event(session, settings, event)
    return Handled(handled=len(events))


def ses_events(notification: dict[str, Any]) -> list[EmailEvent]:
    """Amazon SES bounce/complaint notifications, as delivered by SNS."""
    message = notification.get("Message", notification)
    if isinstance(message, str):
        message = json.loads(message)
    kind = message.get("notificationType") or message.get("eventType")
    mail_id = (message.get("mail") or {}).get("messageId")
    if kind == "Bounce":
        bounce = message.get("bounce") or {}
        hard = bounce.get("bounceType") == "Permanent"
        return [
            EmailEvent(
                type="bounce",
                email=r["emailAddress"],
                bounce_type="hard" if hard else "soft",
                message_id=mail_id,
                detail=str(r.get("diagnosticCode", ""))[:1000],
            )
            for r in bounce.get("bouncedRecipients", [])
        ]
    if kind == "Complaint":
        complaint = message.get("complaint") or {}
        return [
            EmailEvent(type="complaint", email=r["emailAddress"], message_id=mail_id)
            for r in complaint.get("complainedRecipients", [])
        ]
    return []


@router.post("/ses")
async def amazon_ses(request: Request, session: SessionDep, settings: SettingsDep, _: Admin) -> Handled:
    """An SNS HTTP(S) subscription posting SES notifications (subscription confirmations are ignored)."""
    try:
        notification = json.loads(await request.body())
        events = ses_events(notification) if isinstance(notification, dict) else []
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(["body"], "not an SNS notification carrying an SES event") from exc
    for event in events:
        apply_email_event(session, settings, event)
    return Handled(handled=len(events))
