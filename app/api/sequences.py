"""Admin API for nurture sequences (scope sequences:write)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlmodel import col, select

from app.access.service import Principal
from app.api.deps import SessionDep, SettingsDep, require_scope
from app.errors import InvalidInput, NotFound
from app.leads.service import LeadFilter, get_lead, list_leads
from app.models import Lead, Message, Sequence
from app.nurture.compose import finish_html, finish_text, unsubscribe_url
from app.nurture.schemas import (
    EnrollRequest,
    PreviewRequest,
    SequenceIn,
    SequencePublic,
    SequenceUpdate,
    TestSendRequest,
)
from app.nurture.service import (
    create_sequence,
    enroll_many,
    get_sequence,
    sequence_public,
    set_status,
    steps_of,
    update_sequence,
)
from app.nurture.stats import sequence_stats
from app.nurture.templating import SAMPLE_LEAD, lead_context, render
from app.types import utcnow

router = APIRouter(prefix="/sequences", tags=["sequences"])
SequencesWrite = Annotated[Principal, Depends(require_scope("sequences:write"))]
MAX_FILTER_ENROLL = 10_000


@router.post("", status_code=201)
def create(body: SequenceIn, session: SessionDep, _: SequencesWrite) -> SequencePublic:
    """A draft sequence; template errors are refused here with the step and line."""
    return sequence_public(session, create_sequence(session, body))


@router.get("")
def list_all(session: SessionDep, _: SequencesWrite) -> list[SequencePublic]:
    rows = session.exec(select(Sequence).where(Sequence.status != "archived").order_by(col(Sequence.created_at)))
    return [sequence_public(session, s) for s in rows.all()]


@router.get("/{sequence_id}")
def read(sequence_id: uuid.UUID, session: SessionDep, _: SequencesWrite) -> SequencePublic:
    return sequence_public(session, get_sequence(session, sequence_id))


@router.patch("/{sequence_id}")
def update(sequence_id: uuid.UUID, body: SequenceUpdate, session: SessionDep, _: SequencesWrite) -> SequencePublic:
    """New steps make a new version; leads already in the sequence finish the version they started."""
    return sequence_public(session, update_sequence(session, get_sequence(session, sequence_id), body))


@router.delete("/{sequence_id}", status_code=204)
def archive(sequence_id: uuid.UUID, session: SessionDep, _: SequencesWrite) -> None:
    set_status(session, get_sequence(session, sequence_id), "archived")


@router.post("/{sequence_id}/activate")
def activate(sequence_id: uuid.UUID, session: SessionDep, _: SequencesWrite) -> SequencePublic:
    return sequence_public(session, set_status(session, get_sequence(session, sequence_id), "active"))


@router.post("/{sequence_id}/pause")
def pause(sequence_id: uuid.UUID, session: SessionDep, _: SequencesWrite) -> SequencePublic:
    return sequence_public(session, set_status(session, get_sequence(session, sequence_id), "paused"))


@router.post("/{sequence_id}/enrollments")
def enroll_leads(sequence_id: uuid.UUID, body: EnrollRequest, session: SessionDep, _: SequencesWrite) -> dict[str, int]:
    """Enroll leads by id or by a lead filter; re-entry rules and opt-outs still apply."""
    sequence = get_sequence(session, sequence_id)
    leads = [get_lead(session, lead_id) for lead_id in body.lead_ids]
    if body.filter is not None:
        try:
            filters = LeadFilter(**body.filter)
        except TypeError as exc:
            raise InvalidInput(
                ["body", "filter"],
                "filters are funnel_stage, lifecycle_stage, min_score, min_fit, q, email, created_after",
            ) from exc
        leads += list_leads(session, filters, MAX_FILTER_ENROLL, None)[0]
    return {"enrolled": enroll_many(session, sequence, leads), "considered": len(leads)}


@router.get("/{sequence_id}/stats")
def stats(sequence_id: uuid.UUID, session: SessionDep, _: SequencesWrite) -> dict[str, Any]:
    return sequence_stats(session, get_sequence(session, sequence_id).id)


def _email_step(session: Any, sequence: Sequence, n: int) -> dict[str, Any]:
    steps = steps_of(session, sequence.id, sequence.version)
    if n < 0 or n >= len(steps) or steps[n]["type"] != "email":
        raise NotFound("email step", n)
    return steps[n]


def _context(session: Any, lead_id: uuid.UUID | None, settings: Any) -> tuple[dict[str, Any], Lead | None]:
    lead = get_lead(session, lead_id) if lead_id else None
    fields = lead_context(lead) if lead else SAMPLE_LEAD
    return {
        "lead": fields,
        "sender": {"name": settings.email_from, "address": settings.postal_address},
    }, lead


@router.post("/{sequence_id}/steps/{n}/preview")
def preview(
    sequence_id: uuid.UUID,
    n: int,
    body: PreviewRequest,
    session: SessionDep,
    settings: SettingsDep,
    _: SequencesWrite,
) -> dict[str, str]:
    """The email step rendered for a lead (or a sample lead), as it would be sent."""
    step = _email_step(session, get_sequence(session, sequence_id), n)
    context, _lead = _context(session, body.lead_id, settings)
    return {
        "subject": render(step["subject"], context, html=False),
        "html": render(step["html"], context, html=True),
        "text": render(step["text"], context, html=False),
    }


@router.post("/{sequence_id}/steps/{n}/test-send", status_code=202)
def send_test(
    sequence_id: uuid.UUID,
    n: int,
    body: TestSendRequest,
    session: SessionDep,
    settings: SettingsDep,
    _: SequencesWrite,
) -> dict[str, str]:
    """Queue the rendered step to any address (marked [TEST]; not counted in stats)."""
    sequence = get_sequence(session, sequence_id)
    step = _email_step(session, sequence, n)
    context, lead = _context(session, body.lead_id, settings)
    message_id = uuid.uuid4()
    unsubscribe = unsubscribe_url(settings, lead.id, message_id) if lead else f"{settings.base_url}/u/test"
    message = Message(
        id=message_id,
        lead_id=lead.id if lead else None,
        kind="test",
        to_address=body.to,
        subject="[TEST] " + render(step["subject"], context, html=False),
        html_body=finish_html(render(step["html"], context, html=True), settings, message_id, unsubscribe),
        text_body=finish_text(render(step["text"], context, html=False), settings, unsubscribe),
        status="queued",
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return {"message_id": str(message.id), "status": "queued"}
