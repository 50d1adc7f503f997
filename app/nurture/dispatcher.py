"""The dispatcher: each tick plans due enrollments into queued messages, then sends them.

Plan (one short transaction): claim due enrollments (FOR UPDATE SKIP LOCKED on PostgreSQL,
a process lock on SQLite), run the step machine, write each email as a `message` row —
unique per (enrollment, step), so nothing is planned twice — and move the enrollment on.

Send: claim queued messages under a lease (status 'sending', next_attempt_at pushed past
the time a batch can take), send them outside any transaction, then mark them. Each
message is marked as handed to the SMTP server (in the same commit as earlier answers)
before it goes on the wire, so when a worker dies the next claim knows: not handed yet —
send it; handed but unanswered — it may have gone out, so it becomes 'unknown' and is
never sent again. No email goes out twice; a crash leaves at most UNRECORDED_LIMIT in doubt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select, update

from app.db import Database, sqlite_claim_lock, upsert_insert
from app.leads.consent import opt_out
from app.leads.timeline import record_event
from app.models import Consent, Enrollment, Event, Lead, Message, Sequence
from app.nurture.compose import finish_html, finish_text, list_id, mime_message, unsubscribe_url
from app.nurture.machine import LeadState, goal_reached, next_action
from app.nurture.schedule import SendWindow
from app.nurture.service import steps_of
from app.nurture.templating import lead_context, render
from app.nurture.transports import OutgoingEmail, SendResult, Transport, make_transport
from app.scheduler import stopping
from app.scoring.service import active_model, current_engagement
from app.settings import Settings
from app.types import utcnow

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
SEND_BATCH = 100
SEND_LEASE = timedelta(minutes=5)
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
PENDING_CONSENT_GRACE = timedelta(days=7)
NEXT_STEP_DELAY = timedelta(seconds=1)


def _claim_due(session: Session, now: datetime, limit: int, is_sqlite: bool) -> list[Enrollment]:
    statement = (
        select(Enrollment)
        .where(Enrollment.status == "active", col(Enrollment.next_run_at) <= now)
        .order_by(col(Enrollment.next_run_at))
        .limit(limit)
    )
    if not is_sqlite:
        statement = statement.with_for_update(skip_locked=True, of=Enrollment)
    return list(session.exec(statement).all())


@dataclass
class _Batch:
    """What planning one claimed batch reads once, instead of once per enrollment."""

    session: Session
    settings: Settings
    now: datetime
    leads: dict[uuid.UUID, Lead] = field(default_factory=dict)
    sequences: dict[uuid.UUID, Sequence] = field(default_factory=dict)
    steps: dict[tuple[uuid.UUID, int], list[dict[str, Any]]] = field(default_factory=dict)
    # Marketing emails of the batch's leads in the last 7 days, newest first; kept current as
    # the batch plans more, so two sequences of one lead in one batch respect the limits.
    recent_sends: dict[uuid.UUID, list[datetime]] = field(default_factory=dict)

    # Marketing emails planned in the last minute, per sequence (None: all), for the throttles;
    # read once per batch, then counted up as the batch plans.
    last_minute: dict[uuid.UUID | None, int] = field(default_factory=dict)

    def planned_last_minute(self, sequence_id: uuid.UUID | None) -> int:
        if sequence_id not in self.last_minute:
            statement = select(func.count()).select_from(Message)
            statement = statement.where(
                Message.kind == "marketing", col(Message.created_at) > self.now - timedelta(minutes=1)
            )
            if sequence_id is not None:
                statement = statement.where(Message.sequence_id == sequence_id)
            self.last_minute[sequence_id] = self.session.exec(statement).one()
        return self.last_minute[sequence_id]

    def count_planned(self, lead_id: uuid.UUID, sequence_id: uuid.UUID) -> None:
        self.recent_sends.setdefault(lead_id, []).insert(0, self.now)
        for key in (sequence_id, None):
            if key in self.last_minute:
                self.last_minute[key] += 1

    def steps_of(self, sequence_id: uuid.UUID, version: int) -> list[dict[str, Any]]:
        key = (sequence_id, version)
        if key not in self.steps:
            self.steps[key] = steps_of(self.session, sequence_id, version)
        return self.steps[key]


def _load_batch(session: Session, settings: Settings, enrollments: list[Enrollment], now: datetime) -> _Batch:
    lead_ids = {e.lead_id for e in enrollments}
    batch = _Batch(session, settings, now)
    batch.leads = {x.id: x for x in session.exec(select(Lead).where(col(Lead.id).in_(lead_ids))).all()}
    sequence_ids = {e.sequence_id for e in enrollments}
    batch.sequences = {x.id: x for x in session.exec(select(Sequence).where(col(Sequence.id).in_(sequence_ids))).all()}
    sends = session.exec(
        select(Message.lead_id, Message.created_at)
        .where(
            col(Message.lead_id).in_(lead_ids),
            Message.kind == "marketing",
            col(Message.created_at) > now - timedelta(days=7),
        )
        .order_by(col(Message.created_at).desc())
    ).all()
    for lead_id, created_at in sends:
        if lead_id is not None:
            batch.recent_sends.setdefault(lead_id, []).append(created_at)
    return batch


def _engagement_used(steps: list[dict[str, Any]]) -> tuple[bool, bool]:
    """Whether branches look at opens/clicks of earlier steps, and at the engagement score."""
    conditions = [step["if"] for step in steps if step["type"] == "branch"]
    return (
        any("opened_step" in c or "clicked_step" in c for c in conditions),
        any("min_engagement" in c for c in conditions),
    )


def _lead_state(
    batch: _Batch, lead: Lead, enrollment: Enrollment, sequence: Sequence, steps: list[dict[str, Any]]
) -> LeadState:
    session, now = batch.session, batch.now
    uses_engagement, uses_score = _engagement_used(steps)
    messages = (
        session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).all() if uses_engagement else []
    )
    clicks = (
        session.exec(
            select(Event.properties).where(
                Event.lead_id == lead.id,
                Event.type == "email_clicked",
                col(Event.occurred_at) >= enrollment.enrolled_at,
            )
        ).all()
        if any(isinstance(goal, dict) and "clicked" in goal for goal in sequence.exit_when)
        else []
    )
    return LeadState(
        funnel_stage=lead.funnel_stage,
        lifecycle_stage=lead.lifecycle_stage,
        engagement=current_engagement(lead, active_model(session).config, now) if uses_score else 0.0,
        fields=lead_context(lead),
        opened_steps=frozenset(m.step_position for m in messages if m.opened_at and m.step_position is not None),
        clicked_steps=frozenset(m.step_position for m in messages if m.clicked_at and m.step_position is not None),
        clicked_urls=tuple(str(p.get("url", "")) for p in clicks),
        became_mql_since_enrolled=bool(lead.became_mql_at and lead.became_mql_at >= enrollment.enrolled_at),
    )


def _finish(enrollment: Enrollment, status: str, reason: str, now: datetime) -> None:
    enrollment.status, enrollment.exit_reason = status, reason
    enrollment.finished_at, enrollment.next_run_at = now, None


def _not_sendable_reason(lead: Lead, enrollment: Enrollment, now: datetime) -> str | None:
    """Why this lead must get no marketing email now: 'pending' means wait, others mean exit.

    Consent alone decides: every opt-out and capture keeps it in step with the suppression list."""
    if lead.erased_at is not None:
        return "erased"
    if lead.consent == Consent.pending:
        return "pending" if now - enrollment.enrolled_at < PENDING_CONSENT_GRACE else "not_confirmed"
    if lead.consent != Consent.subscribed:
        return lead.consent
    return None


def _deferred_until(batch: _Batch, lead: Lead, sequence: Sequence) -> datetime | None:
    """The earliest time limits allow another marketing email, or None if it may go now."""
    now, settings = batch.now, batch.settings
    if sequence.send_window:
        opens = SendWindow.from_config(sequence.send_window).next_open(now, lead.timezone)
        if opens > now:
            return opens
    recent = batch.recent_sends.get(lead.id, [])
    day = [t for t in recent if t > now - timedelta(days=1)]
    if len(day) >= settings.max_marketing_emails_per_day:
        return day[settings.max_marketing_emails_per_day - 1] + timedelta(days=1, minutes=1)
    if len(recent) >= settings.max_marketing_emails_per_week:
        return recent[settings.max_marketing_emails_per_week - 1] + timedelta(days=7, minutes=1)
    return _throttled_until(batch, sequence)


def _throttled_until(batch: _Batch, sequence: Sequence) -> datetime | None:
    limits = ((sequence.id, sequence.throttle_per_minute), (None, batch.settings.max_emails_per_minute))
    if any(limit and batch.planned_last_minute(key) >= limit for key, limit in limits):
        return batch.now + timedelta(minutes=1)
    return None


def _plan_email(
    session: Session,
    settings: Settings,
    lead: Lead,
    sequence: Sequence,
    enrollment: Enrollment,
    step: dict[str, Any],
    position: int,
    now: datetime,
) -> None:
    message_id = uuid.uuid4()
    context = {
        "lead": lead_context(lead),
        "sender": {"name": settings.email_from, "address": settings.postal_address},
    }
    unsubscribe = unsubscribe_url(settings, lead.id, message_id)
    values = {
        "id": message_id,
        "lead_id": lead.id,
        "enrollment_id": enrollment.id,
        "sequence_id": sequence.id,
        "step_position": position,
        "kind": "marketing",
        "to_address": lead.email,
        "subject": render(step["subject"], context, html=False).strip()[:500],
        "html_body": finish_html(render(step["html"], context, html=True), settings, message_id, unsubscribe),
        "text_body": finish_text(render(step["text"], context, html=False), settings, unsubscribe),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    insert = upsert_insert(session.get_bind().dialect.name)
    # Unique (enrollment, step): a step re-planned after a crash or a loop sends nothing new.
    session.execute(
        insert(Message).values(**values).on_conflict_do_nothing(index_elements=["enrollment_id", "step_position"])
    )


def _advance(batch: _Batch, enrollment: Enrollment) -> None:
    session, settings, now = batch.session, batch.settings, batch.now
    lead = batch.leads.get(enrollment.lead_id)
    sequence = batch.sequences.get(enrollment.sequence_id)
    if lead is None or sequence is None or sequence.status == "archived":
        _finish(enrollment, "exited", "sequence_archived", now)
        return
    if sequence.status != "active":
        enrollment.next_run_at = now + timedelta(minutes=5)  # paused: look again later
        return
    steps = batch.steps_of(sequence.id, enrollment.sequence_version)
    state = _lead_state(batch, lead, enrollment, sequence, steps)
    goal = goal_reached(sequence.exit_when, state)
    if goal:
        _finish(enrollment, "exited", goal, now)
        return
    action = next_action(steps, enrollment.current_step, state, now)
    if action.kind == "done":
        # Running off the end or reaching an exit step is finishing; a branch loop is not.
        finished = action.reason in ("completed", "exit_step")
        _finish(enrollment, "completed" if finished else "exited", action.reason, now)
        return
    if action.kind == "wait":
        assert action.run_at is not None
        run_at = action.run_at
        if action.reason == "until_send_window" and sequence.send_window:
            run_at = SendWindow.from_config(sequence.send_window).next_open(run_at, lead.timezone)
        enrollment.current_step, enrollment.next_run_at = action.position, run_at
        return
    blocked = _not_sendable_reason(lead, enrollment, now)
    if blocked == "pending":
        enrollment.next_run_at = now + timedelta(hours=1)
        return
    if blocked:
        _finish(enrollment, "exited", blocked, now)
        return
    deferred = _deferred_until(batch, lead, sequence)
    if deferred:
        enrollment.next_run_at = deferred
        return
    _plan_email(session, settings, lead, sequence, enrollment, steps[action.position], action.position, now)
    batch.count_planned(lead.id, sequence.id)
    # The next step waits for the next tick, so a lead's emails never share a send batch
    # (parallel SMTP connections would not keep their order).
    enrollment.current_step, enrollment.next_run_at = action.position + 1, now + NEXT_STEP_DELAY


def plan_due(db: Database, settings: Settings, now: datetime) -> int:
    """Move every claimed due enrollment one step on (an email step plans one message)."""

    def run(session: Session) -> int:
        enrollments = _claim_due(session, now, settings.dispatch_batch_size, db.is_sqlite)
        if not enrollments:
            return 0
        batch = _load_batch(session, settings, enrollments, now)
        for enrollment in enrollments:
            _advance(batch, enrollment)
            session.add(enrollment)
        return len(enrollments)

    if db.is_sqlite:
        with sqlite_claim_lock, db.transaction() as session:
            return run(session)
    with db.transaction() as session:
        return run(session)


def _claim_messages(session: Session, now: datetime, is_sqlite: bool) -> list[Message]:
    statement = (
        select(Message)
        .where(
            col(Message.status).in_(("queued", "sending")),
            col(Message.next_attempt_at) <= now,
        )
        .order_by(col(Message.next_attempt_at))
        .limit(SEND_BATCH)
    )
    if not is_sqlite:
        statement = statement.with_for_update(skip_locked=True)
    claimed = []
    for message in session.exec(statement).all():
        if message.status == "sending" and message.handed_at is not None:
            _in_doubt(message)
        else:
            message.status, message.next_attempt_at, message.handed_at = "sending", now + SEND_LEASE, None
            claimed.append(message)
        session.add(message)
    return claimed


def _in_doubt(message: Message) -> None:
    """Its worker died after handing it to the SMTP server and before the answer was recorded."""
    message.status, message.next_attempt_at = "unknown", None
    message.last_error = "the worker stopped while the SMTP server had it; not resent, to never send twice"
    log.warning("message %s left in doubt by a stopped worker; not resent", message.id)


def _still_wanted(lead: Lead | None, message: Message) -> bool:
    """Consent may have changed since the message was planned: check again right before sending."""
    if message.kind == "test":
        return bool(message.to_address)
    if lead is None or lead.erased_at is not None or not message.to_address:
        return False
    if lead.consent in (Consent.bounced, Consent.complained):
        return False
    return message.kind != "marketing" or lead.consent == Consent.subscribed


def _mime(settings: Settings, message: Message, sequence: Sequence | None) -> OutgoingEmail:
    marketing = message.kind == "marketing" and message.lead_id is not None
    assert message.to_address is not None
    return mime_message(
        settings,
        to=message.to_address,
        subject=message.subject or "",
        html_body=message.html_body or "",
        text_body=message.text_body or "",
        unsubscribe=unsubscribe_url(settings, message.lead_id, message.id) if marketing and message.lead_id else None,
        list_id=list_id(sequence.name, sequence.id, settings) if sequence else None,
        message_uuid=message.id,
    )


def send_due(db: Database, settings: Settings, transport: Transport, now: datetime) -> int:
    if db.is_sqlite:
        with sqlite_claim_lock, db.transaction() as session:
            outgoing = _prepare_sends(session, settings, now, True)
    else:
        with db.transaction() as session:
            outgoing = _prepare_sends(session, settings, now, False)
    if not outgoing:
        return 0

    def record(results: list[tuple[int, SendResult]], handing: list[int]) -> None:
        answers = [(outgoing[index][0], result) for index, result in results]
        _record_progress(db, settings, answers, [outgoing[index][0] for index in handing], now)

    transport.send_batch([mime for _, mime in outgoing], record)
    return len(outgoing)


def _record_progress(
    db: Database,
    settings: Settings,
    results: list[tuple[uuid.UUID, SendResult]],
    handing: list[uuid.UUID],
    now: datetime,
) -> None:
    """One commit: the answers that arrived, and the messages about to be handed over."""
    with db.transaction() as session:
        if handing:
            session.execute(update(Message).where(col(Message.id).in_(handing)).values(handed_at=utcnow()))
        if results:
            loaded = _load_for_sending(session, [message_id for message_id, _ in results])
            for message_id, result in results:
                if message_id in loaded.messages:
                    _mark(session, settings, loaded, loaded.messages[message_id], result, now)


@dataclass
class _Loaded:
    """Rows read in one query per table; held here because the session's identity map
    keeps only what something references."""

    messages: dict[uuid.UUID, Message]
    leads: dict[uuid.UUID, Lead]
    sequences: dict[uuid.UUID, Sequence]

    def lead_of(self, message: Message) -> Lead | None:
        return self.leads.get(message.lead_id) if message.lead_id else None


def _load_for_sending(session: Session, message_ids: list[uuid.UUID]) -> _Loaded:
    messages = session.exec(select(Message).where(col(Message.id).in_(message_ids))).all()
    lead_ids = {m.lead_id for m in messages if m.lead_id}
    sequence_ids = {m.sequence_id for m in messages if m.sequence_id}
    leads = session.exec(select(Lead).where(col(Lead.id).in_(lead_ids))).all() if lead_ids else []
    sequences = session.exec(select(Sequence).where(col(Sequence.id).in_(sequence_ids))).all() if sequence_ids else []
    return _Loaded({m.id: m for m in messages}, {x.id: x for x in leads}, {x.id: x for x in sequences})


def _prepare_sends(
    session: Session, settings: Settings, now: datetime, is_sqlite: bool
) -> list[tuple[uuid.UUID, OutgoingEmail]]:
    outgoing = []
    claimed = _claim_messages(session, now, is_sqlite)
    loaded = _load_for_sending(session, [message.id for message in claimed])
    for message in claimed:
        if not _still_wanted(loaded.lead_of(message), message):
            message.status, message.next_attempt_at = "cancelled", None
            continue
        sequence = loaded.sequences.get(message.sequence_id) if message.sequence_id else None
        outgoing.append((message.id, _mime(settings, message, sequence)))
    return outgoing


def _mark(
    session: Session, settings: Settings, loaded: _Loaded, message: Message, result: SendResult, now: datetime
) -> None:
    message.attempts += 1
    if result.ok:
        message.status, message.sent_at, message.next_attempt_at = "sent", now, None
        message.provider_message_id, message.last_error = result.provider_id, None
        lead = loaded.lead_of(message)
        if lead is not None and message.kind == "marketing":
            record_event(
                session,
                settings,
                lead,
                "email_sent",
                {
                    "message_id": str(message.id),
                    "sequence_id": str(message.sequence_id),
                    "step": message.step_position,
                },
                occurred_at=now,
            )
    elif result.permanent:
        message.status, message.next_attempt_at, message.last_error = "bounced", None, result.error
        lead = loaded.lead_of(message)
        if lead is not None:
            opt_out(
                session,
                settings,
                lead,
                Consent.bounced,
                source="smtp",
                details={"message_id": str(message.id), "error": (result.error or "")[:200]},
            )
    elif message.attempts > len(RETRY_DELAYS):
        message.status, message.next_attempt_at, message.last_error = "failed", None, result.error
    else:
        message.status, message.last_error = "queued", result.error
        message.next_attempt_at = now + RETRY_DELAYS[message.attempts - 1]
    session.add(message)


def dispatch(db: Database, settings: Settings, *, clock: Clock = utcnow, transport: Transport | None = None) -> int:
    """One tick: plan until nothing is due, then send what is queued. Returns messages sent."""
    transport = transport or make_transport(settings.smtp_url, settings.outbox_dir)
    # An email step leaves its enrollment due at once (to reach the following wait), so plan
    # again while anything moved; bounded so a tick never runs forever.
    for _ in range(20):
        if stopping.is_set() or plan_due(db, settings, clock()) == 0:
            break
    sent = 0
    for _ in range(100):
        if stopping.is_set():
            break
        batch = send_due(db, settings, transport, clock())
        sent += batch
        if batch < SEND_BATCH:
            break
    return sent


def dispatch_job(db: Database, settings: Settings) -> None:
    sent = dispatch(db, settings)
    if sent:
        log.info("emails sent", extra={"job": "dispatch", "count": sent})
