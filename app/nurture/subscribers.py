"""Entry triggers: captures, funnel stage changes and sales rejections enroll leads."""

from __future__ import annotations

from sqlmodel import Session

from app.events import LeadCaptured, SalesRejected, StageChanged, subscribe
from app.models import Form, Lead, Sequence
from app.nurture.service import active_sequences, enroll, matches_trigger


def _enroll_matching(
    session: Session,
    lead: Lead,
    kinds: tuple[str, ...],
    *,
    form: Form | None = None,
    stage: str | None = None,
) -> None:
    for sequence in active_sequences(session):
        if any(matches_trigger(sequence, kind, form=form, stage=stage) for kind in kinds):
            enroll(session, sequence, lead)


@subscribe(LeadCaptured)
def on_capture(event: LeadCaptured) -> None:
    lead = event.session.get(Lead, event.lead_id)
    form = event.session.get(Form, event.form_id) if event.form_id else None
    if lead is None or form is None:
        return
    if form.sequence_id:
        sequence = event.session.get(Sequence, form.sequence_id)
        if sequence is not None:
            enroll(event.session, sequence, lead)
    _enroll_matching(event.session, lead, ("form_submitted", "form_kind"), form=form)


@subscribe(StageChanged)
def on_stage_change(event: StageChanged) -> None:
    if event.kind != "funnel":
        return
    lead = event.session.get(Lead, event.lead_id)
    if lead is not None:
        _enroll_matching(event.session, lead, ("funnel_stage_entered",), stage=event.to_stage)


@subscribe(SalesRejected)
def on_sales_rejected(event: SalesRejected) -> None:
    lead = event.session.get(Lead, event.lead_id)
    if lead is not None:
        _enroll_matching(event.session, lead, ("sales_rejected",))
