"""Bounces and complaints from the email provider: a generic shape and Amazon SES via SNS."""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from app.access.service import Principal, authenticate
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.capture.intake import normalise_email
from app.errors import DomainError, InvalidInput
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


# SNS posts from AWS and cannot send a bearer token: the subscription URL carries the key as
# HTTP Basic credentials (https://sns:<api key>@leads.example.com/api/v1/email-events/ses).
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
SNS_CONFIRM_TIMEOUT = 10.0


class SnsConfirmationFailed(DomainError):
    """SNS (upstream) did not take the confirmation; SNS retries, so the caller may too."""

    status_code = 502


def sns_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    key = value.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key, validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            key = ""
    elif scheme.lower() != "bearer":
        key = ""
    principal = authenticate(session, key, settings.bootstrap_api_key)
    principal.require("admin")
    return principal


async def raw_body(request: Request) -> bytes:
    # SNS sends JSON as text/plain; read it here so the route itself stays a plain `def`.
    return await request.body()


@router.post("/ses")
def amazon_ses(
    body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
    _: Annotated[Principal, Depends(sns_principal)],
) -> Handled:
    """Amazon SES bounce and complaint notifications through an SNS HTTPS subscription
    (the subscription confirmation is answered too)."""
    try:
        notification = json.loads(body)
        if not isinstance(notification, dict):
            raise TypeError("not an object")
        if notification.get("Type") == "SubscriptionConfirmation":
            _confirm_subscription(str(notification.get("SubscribeURL") or ""))
            return Handled(handled=0)
        events = ses_events(notification)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(["body"], "not an SNS notification carrying an SES event") from exc
    for event in events:
        apply_email_event(session, settings, event)
    return Handled(handled=len(events))


def _confirm_subscription(url: str) -> None:
    """Visit SNS's confirmation link — only ever an https URL of SNS itself (never a fetch of
    whatever URL a caller names)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or "") or parts.port not in (None, 443):
        raise InvalidInput(["body", "SubscribeURL"], "not an Amazon SNS confirmation URL")
    try:
        httpx.get(url, timeout=SNS_CONFIRM_TIMEOUT, follow_redirects=False).raise_for_status()
    except httpx.HTTPError as exc:
        raise SnsConfirmationFailed("Amazon SNS did not accept the subscription confirmation") from exc
