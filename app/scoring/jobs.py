"""Background scoring work: the daily decay re-base and re-scoring after a model change."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from app.db import Database
from app.errors import NotFound
from app.models import Event, Lead, RescoreJob
from app.scoring.model import ScoringModelConfig
from app.scoring.recompute import recompute
from app.scoring.service import (
    UNSCORED_EVENTS,
    active_model,
    check_mql,
    refresh_fit,
    update_funnel_stage,
)
from app.settings import Settings
from app.types import utcnow

log = logging.getLogger(__name__)
RESCORE_BATCH = 500
RESCORE_LEASE = timedelta(minutes=5)

# One statement re-bases every stored score to `now`; reads stay exact either way (decay is
# applied at read time), this keeps stored numbers meaningful for lists and SQL filters.
REBASE_POSTGRES = """
UPDATE lead SET engagement_score = engagement_score
    * power(0.5, extract(epoch FROM (:now - engagement_as_of)) / 86400.0 / :half_life),
    engagement_as_of = :now
WHERE engagement_as_of < :now AND engagement_score <> 0
"""
REBASE_SQLITE = """
UPDATE lead SET engagement_score = engagement_score
    * pow_half((julianday(:now) - julianday(engagement_as_of)) / :half_life),
    engagement_as_of = :now
WHERE engagement_as_of < :now AND engagement_score <> 0
"""


def rebase_engagement(session: Session, now: datetime) -> int:
    """Decay every stored engagement score to `now` in one set-based UPDATE."""
    half_life = active_model(session).config.half_life_days
    if session.get_bind().dialect.name == "postgresql":
        result = session.execute(text(REBASE_POSTGRES), {"now": now, "half_life": half_life})
    else:
        stamp = now.replace(tzinfo=None).isoformat(sep=" ")
        result = session.execute(text(REBASE_SQLITE), {"now": stamp, "half_life": half_life})
    return int(getattr(result, "rowcount", 0) or 0)


def demote_cooled_leads(session: Session, settings: Settings, now: datetime) -> int:
    """Leads whose engagement decayed below their band and whose intent went stale drop a stage.

    Runs after the re-base, so `engagement_score` is current; only leads that must move are read.
    """
    model = active_model(session).config
    stale = now - timedelta(days=model.intent_fresh_days)

    def gone_stale(signal_at: Any) -> Any:
        return col(signal_at).is_(None) | (col(signal_at) < stale)

    bofu_cooled = (col(Lead.funnel_stage) == "bofu") & (col(Lead.engagement_score) < model.bands.bofu_at)
    mofu_cooled = (col(Lead.funnel_stage) == "mofu") & (col(Lead.engagement_score) < model.bands.mofu_at)
    candidates = select(Lead).where(
        gone_stale(Lead.bofu_signal_at),
        bofu_cooled | (mofu_cooled & gone_stale(Lead.mofu_signal_at)),
    )
    moved = 0
    for lead in session.exec(candidates.execution_options(yield_per=500)):
        moved += _move_funnel_stage(session, settings, lead, model, now)
    return moved


def _move_funnel_stage(
    session: Session, settings: Settings, lead: Lead, model: ScoringModelConfig, now: datetime
) -> bool:
    before = lead.funnel_stage
    update_funnel_stage(session, settings, lead, model, now)
    return lead.funnel_stage != before


def daily_decay_job(db: Database, settings: Settings) -> None:
    now = utcnow()
    with db.transaction() as session:
        rebased = rebase_engagement(session, now)
        moved = demote_cooled_leads(session, settings, now)
    log.info("engagement re-based", extra={"job": "decay", "count": rebased + moved})


def start_rescore(session: Session) -> RescoreJob:
    total = session.exec(select(func.count()).select_from(Lead).where(col(Lead.erased_at).is_(None))).one()
    job = RescoreJob(model_version=active_model(session).version, state="queued", total=total)
    session.add(job)
    session.flush()
    return job


@dataclass(frozen=True)
class _StoredEvent:
    id: uuid.UUID
    type: str
    properties: dict[str, Any]
    occurred_at: datetime
    score_rules: dict[str, float]


def _scored_histories(session: Session, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[_StoredEvent]]:
    """The batch's scorable events in recording order, as plain rows (no ORM identity map)."""
    columns = (Event.id, Event.lead_id, Event.type, Event.properties, Event.occurred_at, Event.score_rules)
    statement = (
        sa_select(*(col(column) for column in columns))
        .where(col(Event.lead_id).in_(lead_ids), col(Event.type).not_in(UNSCORED_EVENTS))
        .order_by(col(Event.recorded_at), col(Event.id))
    )
    histories: dict[uuid.UUID, list[_StoredEvent]] = defaultdict(list)
    for event_id, lead_id, event_type, properties, occurred_at, score_rules in session.execute(statement):
        histories[lead_id].append(_StoredEvent(event_id, event_type, properties, occurred_at, score_rules))
    return histories


def _rescore_lead(lead: Lead, events: list[_StoredEvent], model: ScoringModelConfig) -> list[dict[str, Any]]:
    """Replay one lead under the model; returns the event rows whose points changed."""
    result = recompute(model, events, lead.created_at)
    lead.engagement_score, lead.engagement_as_of = result.engagement, result.as_of
    lead.tofu_signal_at = result.signal_at.get("tofu")
    lead.mofu_signal_at = result.signal_at.get("mofu")
    lead.bofu_signal_at = result.signal_at.get("bofu")
    lead.hand_raise_at = result.hand_raise_at
    refresh_fit(lead, model)
    return [
        {"id": event.id, "score_rules": earned, "engagement_delta": sum(earned.values())}
        for event, earned in zip(events, result.earned, strict=True)
        if earned != event.score_rules
    ]


def _rescore_batch(session: Session, settings: Settings, leads: list[Lead], now: datetime) -> None:
    model = active_model(session).config
    histories = _scored_histories(session, [lead.id for lead in leads])
    changed_events: list[dict[str, Any]] = []
    for lead in leads:
        changed_events += _rescore_lead(lead, histories.get(lead.id, []), model)
        session.add(lead)
        update_funnel_stage(session, settings, lead, model, now)
        check_mql(session, settings, lead, model, now)
    if changed_events:
        # Event rows keep the points the current model gives them: explanations and daily caps read them.
        session.execute(update(Event), changed_events)


def run_rescore(
    db: Database,
    settings: Settings,
    job_id: uuid.UUID,
    progress: Callable[[int, int], None] | None = None,
) -> RescoreJob:
    """Re-score every lead in batches, one transaction per batch; memory stays bounded.

    Each batch commits its leads with the job's cursor, so a run that dies resumes exactly
    where it stopped (replaying a lead is harmless anyway: the result is the same).
    """
    while True:
        with db.transaction() as session:
            job = _rescore_step(session, settings, job_id)
        if progress:
            progress(job.done, job.total)
        if job.state == "done":
            return job


def _rescore_step(session: Session, settings: Settings, job_id: uuid.UUID) -> RescoreJob:
    job = session.get(RescoreJob, job_id, with_for_update=True)  # one runner per batch
    if job is None:
        raise NotFound("re-score job", job_id)
    statement = select(Lead).where(col(Lead.erased_at).is_(None))
    if job.last_lead_id is not None:
        statement = statement.where(col(Lead.id) > job.last_lead_id)
    leads = list(session.exec(statement.order_by(col(Lead.id)).limit(RESCORE_BATCH)).all())
    now = utcnow()
    if leads:
        _rescore_batch(session, settings, leads, now)
        job.last_lead_id, job.done, job.state = leads[-1].id, min(job.total, job.done + len(leads)), "running"
    else:
        job.done, job.state, job.finished_at = job.total, "done", now
    job.heartbeat_at = now
    session.add(job)
    return job


def _claim_rescore(db: Database, now: datetime) -> uuid.UUID | None:
    """A queued job, or a running one whose worker stopped renewing its lease."""
    with db.transaction() as session:
        abandoned = (col(RescoreJob.state) == "running") & (col(RescoreJob.heartbeat_at) < now - RESCORE_LEASE)
        statement = select(RescoreJob).where((col(RescoreJob.state) == "queued") | abandoned)
        if not db.is_sqlite:
            statement = statement.with_for_update(skip_locked=True)
        job = session.exec(statement.order_by(col(RescoreJob.created_at)).limit(1)).first()
        if job is None:
            return None
        job.state, job.heartbeat_at = "running", now
        session.add(job)
        return job.id


def rescore_job(db: Database, settings: Settings) -> None:
    """Scheduler tick: claim one re-score job and run it to the end.

    A database outage leaves the job running with a stale lease, so a later tick resumes it;
    any other error marks it failed.
    """
    job_id = _claim_rescore(db, utcnow())
    if job_id is None:
        return
    try:
        run_rescore(db, settings, job_id)
    except OperationalError:
        raise
    except Exception as exc:
        with db.transaction() as session:
            failed = session.get(RescoreJob, job_id)
            if failed is not None:
                failed.state, failed.error = "failed", type(exc).__name__
                session.add(failed)
        raise
