"""Sequences (versioned steps), enrollment with re-entry rules, and the entry triggers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.errors import Conflict, InvalidInput, NotFound
from app.models import Enrollment, Form, Lead, Sequence, SequenceStep
from app.nurture.schemas import EmailStep, SequenceIn, SequencePublic, SequenceUpdate
from app.nurture.templating import check_template
from app.types import utcnow


def _check_templates(steps: list[Any]) -> None:
    """Template errors are caught when the marketer saves, with the step and line."""
    for index, step in enumerate(steps):
        if not isinstance(step, EmailStep):
            continue
        for part, html in (("subject", False), ("html", True), ("text", False)):
            problem = check_template(getattr(step, part), html=html)
            if problem:
                raise InvalidInput(["body", "steps", index, part], problem.message)


def _write_steps(session: Session, sequence: Sequence, steps: list[Any]) -> None:
    for position, step in enumerate(steps):
        session.add(
            SequenceStep(
                sequence_id=sequence.id,
                version=sequence.version,
                position=position,
                type=step.type,
                config=step.model_dump(mode="json", by_alias=True),
            )
        )


def steps_of(session: Session, sequence_id: uuid.UUID, version: int) -> list[dict[str, Any]]:
    statement = select(SequenceStep).where(SequenceStep.sequence_id == sequence_id, SequenceStep.version == version)
    return [row.config for row in session.exec(statement.order_by(col(SequenceStep.position))).all()]


def get_sequence(session: Session, sequence_id: uuid.UUID) -> Sequence:
    sequence = session.get(Sequence, sequence_id)
    if sequence is None or sequence.status == "archived":
        raise NotFound("sequence", sequence_id)
    return sequence


def sequence_public(session: Session, sequence: Sequence) -> SequencePublic:
    return SequencePublic.model_validate(
        sequence.model_dump() | {"steps": steps_of(session, sequence.id, sequence.version)}
    )


def create_sequence(session: Session, body: SequenceIn) -> Sequence:
    _check_templates(body.steps)
    sequence = Sequence(
        name=body.name,
        trigger=body.trigger.model_dump(mode="json"),
        exit_when=body.exit_when,
        send_window=body.send_window.model_dump(mode="json") if body.send_window else None,
        reentry=body.reentry,
        throttle_per_minute=body.throttle_per_minute,
    )
    session.add(sequence)
    session.flush()
    _write_steps(session, sequence, body.steps)
    session.flush()
    return sequence


def update_sequence(session: Session, sequence: Sequence, body: SequenceUpdate) -> Sequence:
    """Settings apply at once; new steps become a new version for new enrollments only."""
    current = sequence_public(session, sequence).model_dump(mode="json")
    changes = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    try:
        merged = SequenceIn.model_validate({k: current[k] for k in SequenceIn.model_fields} | changes)
    except ValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc
    if "steps" in changes:
        _check_templates(merged.steps)
        sequence.version += 1
        _write_steps(session, sequence, merged.steps)
    sequence.name, sequence.trigger = merged.name, merged.trigger.model_dump(mode="json")
    sequence.exit_when, sequence.reentry = merged.exit_when, merged.reentry
    sequence.send_window = merged.send_window.model_dump(mode="json") if merged.send_window else None
    sequence.throttle_per_minute = merged.throttle_per_minute
    sequence.updated_at = utcnow()
    session.add(sequence)
    session.flush()
    return sequence


def set_status(session: Session, sequence: Sequence, status: str) -> Sequence:
    sequence.status, sequence.updated_at = status, utcnow()
    session.add(sequence)
    if status == "archived":
        for enrollment in session.exec(
            select(Enrollment).where(Enrollment.sequence_id == sequence.id, Enrollment.status == "active")
        ).all():
            enrollment.status, enrollment.exit_reason = "exited", "sequence_archived"
            enrollment.finished_at, enrollment.next_run_at = utcnow(), None
            session.add(enrollment)
    session.flush()
    return sequence


def _may_enter(session: Session, sequence: Sequence, lead_id: uuid.UUID) -> bool:
    previous = session.exec(
        select(Enrollment)
        .where(Enrollment.lead_id == lead_id, Enrollment.sequence_id == sequence.id)
        .order_by(col(Enrollment.enrolled_at).desc())
    ).first()
    if previous is None:
        return True
    if previous.status == "active" or sequence.reentry == "never":
        return False
    if sequence.reentry.startswith("after:"):
        return utcnow() - previous.enrolled_at >= timedelta(days=int(sequence.reentry.split(":")[1]))
    return True


def enroll(session: Session, sequence: Sequence, lead: Lead) -> Enrollment | None:
    """Put the lead at the start of the sequence, unless the re-entry policy says no."""
    if sequence.status != "active" or lead.erased_at is not None or not _may_enter(session, sequence, lead.id):
        return None
    enrollment = Enrollment(
        lead_id=lead.id,
        sequence_id=sequence.id,
        sequence_version=sequence.version,
        next_run_at=utcnow(),
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def active_sequences(session: Session) -> list[Sequence]:
    return list(session.exec(select(Sequence).where(Sequence.status == "active")).all())


def matches_trigger(sequence: Sequence, kind: str, *, form: Form | None = None, stage: str | None = None) -> bool:
    trigger = sequence.trigger
    if trigger.get("type") != kind:
        return False
    if kind == "form_submitted":
        return form is not None and trigger.get("form") in (None, "", form.slug)
    if kind == "form_kind":
        return form is not None and trigger.get("kind") == form.kind
    if kind == "funnel_stage_entered":
        return trigger.get("stage") == stage
    return kind == "sales_rejected"


def enroll_many(session: Session, sequence: Sequence, leads: list[Lead]) -> int:
    if sequence.status != "active":
        raise Conflict("activate the sequence before enrolling leads")
    return sum(enroll(session, sequence, lead) is not None for lead in leads)
