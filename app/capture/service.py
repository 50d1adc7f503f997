"""The capture flow: one transaction that upserts the lead, logs the submission, puts a
`form_submitted` event on the timeline and publishes `LeadCaptured`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.capture.intake import UTM_FIELDS, Intake
from app.events import LeadCaptured, publish
from app.leads.consent import change_consent
from app.leads.service import upsert_lead
from app.leads.stages import record_initial_stages
from app.leads.timeline import record_event
from app.models import Consent, Form, FormKind, Lead, Submission, Suppression
from app.nurture.outbox import queue_transactional_email
from app.pages import render_email
from app.privacy.service import email_hash
from app.settings import Settings
from app.tokens import Purpose, sign
from app.types import utcnow

DOWNLOAD_LINK_DAYS = 30
CONFIRM_LINK_DAYS = 7
# Never resubscribed by a form post: the person (or their mailbox) said no.
FINAL_CONSENTS = {Consent.unsubscribed, Consent.bounced, Consent.complained}


@dataclass(frozen=True)
class Visitor:
    """Who posted, as far as HTTP tells: kept on the submission as evidence, never logged."""

    ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    visitor_id: str | None = None


@dataclass
class CaptureOutcome:
    lead_id: uuid.UUID
    submission_id: uuid.UUID
    download_token: str | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "lead_id": str(self.lead_id),
            "submission_id": str(self.submission_id),
        }
        if self.download_token:
            body["download_token"] = self.download_token
        return body


def _merge(lead: Lead, intake: Intake, visitor: Visitor, is_new: bool) -> None:
    """Fill what is empty, never wipe with blanks; first touch once, last touch always."""
    for name, value in intake.lead_fields.items():
        if getattr(lead, name) in (None, ""):
            setattr(lead, name, value)
    if intake.custom:
        lead.custom = {
            **intake.custom,
            **{k: v for k, v in lead.custom.items() if v not in (None, "")},
        }
    touch = {name: intake.attribution.get(name) for name in UTM_FIELDS}
    touch["referrer"] = intake.attribution.get("referrer") or visitor.referrer
    touch["landing_page"] = intake.attribution.get("landing_page") or visitor.referrer
    for name, value in touch.items():
        if value and is_new:
            setattr(lead, f"first_{name}", value[:2000])
        if value:
            setattr(lead, f"last_{name}", value[:2000])
    if intake.visitor_id or visitor.visitor_id:
        lead.visitor_id = intake.visitor_id or visitor.visitor_id
    lead.last_touch_at = lead.updated_at = utcnow()


def _set_consent(session: Session, settings: Settings, lead: Lead, form: Form, visitor: Visitor) -> None:
    if lead.consent != Consent.pending:
        return  # already decided: subscribed stays, and no form post overrides a final no
    suppression = session.get(Suppression, email_hash(lead.email))
    if suppression is not None:
        # An address erased or bounced before must not be resurrected by a new post.
        target = suppression.reason if suppression.reason in FINAL_CONSENTS else Consent.unsubscribed
    elif form.double_opt_in:
        target = Consent.pending
    else:
        target = Consent.subscribed
    if target == lead.consent and suppression is None:
        return
    change_consent(
        session,
        settings,
        lead,
        target,
        source=f"form:{form.slug}",
        ip=visitor.ip,
        form_text=consent_text(form),
    )


def consent_text(form: Form) -> str:
    labels = [f.get("label") for f in form.fields if f.get("name") == "consent" and f.get("label")]
    return str(labels[0]) if labels else f"Submitted form '{form.name}'"


def replayed_answer(session: Session, form: Form, idempotency_key: str | None) -> CaptureOutcome | None:
    """The first answer given for this Idempotency-Key on this form, if any."""
    if not idempotency_key:
        return None
    statement = select(Submission).where(Submission.form_id == form.id, Submission.idempotency_key == idempotency_key)
    submission = session.exec(statement).first()
    if submission is None or submission.lead_id is None:
        return None
    stored = submission.response or {}
    return CaptureOutcome(
        lead_id=submission.lead_id,
        submission_id=submission.id,
        download_token=stored.get("download_token"),
        replayed=True,
    )


class DuplicateIdempotencyKey(Exception):
    """A concurrent request with the same key won; the caller replays its answer."""


def _queue_emails(
    session: Session,
    settings: Settings,
    lead: Lead,
    form: Form,
    download_token: str | None,
    needs_confirmation: bool,
) -> None:
    common = {"first_name": lead.first_name, "postal_address": settings.postal_address}
    if download_token and form.offer:
        html_body, text_body = render_email(
            "ebook_delivery",
            offer_title=form.offer["title"],
            download_url=f"{settings.base_url}/d/{download_token}",
            **common,
        )
        queue_transactional_email(
            session,
            lead,
            subject=f"Your copy of {form.offer['title']}",
            html_body=html_body,
            text_body=text_body,
        )
    if needs_confirmation:
        token = sign(settings.secret_key, Purpose.CONFIRM, {"l": str(lead.id)})
        html_body, text_body = render_email(
            "confirm_subscription", confirm_url=f"{settings.base_url}/confirm/{token}", **common
        )
        queue_transactional_email(
            session,
            lead,
            subject="Please confirm your subscription",
            html_body=html_body,
            text_body=text_body,
        )


def _claim_idempotency_key(session: Session, submission: Submission) -> None:
    """Store the submission now, so a concurrent request with the same key fails here."""
    session.add(submission)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise DuplicateIdempotencyKey from exc


def capture(
    session: Session,
    settings: Settings,
    form: Form,
    intake: Intake,
    visitor: Visitor,
    idempotency_key: str | None = None,
) -> CaptureOutcome:
    """Store one accepted submission and everything it implies, in the caller's transaction."""
    replay = replayed_answer(session, form, idempotency_key)
    if replay is not None:
        return replay
    submission = Submission(
        form_id=form.id,
        payload={**intake.lead_fields, **intake.custom, "email": intake.email},
        ip=visitor.ip,
        user_agent=(visitor.user_agent or "")[:500] or None,
        referrer=(visitor.referrer or "")[:2000] or None,
        attribution=intake.attribution,
        idempotency_key=idempotency_key,
    )
    if idempotency_key is not None:
        _claim_idempotency_key(session, submission)
    lead, is_new = upsert_lead(session, intake.email)
    _merge(lead, intake, visitor, is_new)
    if is_new:
        lead.first_form_id = form.id
        record_initial_stages(session, lead)
    was_pending = lead.consent == Consent.pending
    _set_consent(session, settings, lead, form, visitor)
    session.add(lead)
    event = record_event(
        session,
        settings,
        lead,
        "form_submitted",
        {
            "form_id": str(form.id),
            "form_slug": form.slug,
            "form_kind": form.kind,
            "stage_hint": form.stage_hint,
            "points": form.points,
        },
    )
    download_token = None
    if form.kind == FormKind.ebook and form.offer:
        download_token = sign(settings.secret_key, Purpose.DOWNLOAD, {"l": str(lead.id), "f": str(form.id)})
    needs_confirmation = lead.consent == Consent.pending and form.double_opt_in and (is_new or was_pending)
    _queue_emails(session, settings, lead, form, download_token, needs_confirmation)
    outcome = CaptureOutcome(lead_id=lead.id, submission_id=submission.id, download_token=download_token)
    submission.lead_id = lead.id
    submission.response = outcome.response()
    session.add(submission)
    session.flush()  # one INSERT (or, when a key was claimed, one UPDATE) with the answer
    publish(
        LeadCaptured(
            session=session,
            settings=settings,
            lead_id=lead.id,
            form_id=form.id,
            submission_id=submission.id,
            event_id=event.id,
            is_new_lead=is_new,
        )
    )
    return outcome
