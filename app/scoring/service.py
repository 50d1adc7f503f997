"""Scoring with persistence: the active model, incremental updates, stages and MQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app.db import locked_row, note_locked, transaction_memo
from app.events import BecameMQL, publish
from app.leads.stages import set_funnel_stage, set_lifecycle_stage
from app.leads.timeline import record_event
from app.models import Event, Lead, LifecycleStage, ScoringModel
from app.scoring.decay import add_points, decayed
from app.scoring.engine import (
    capped,
    engagement_rules_for,
    fit_score,
    intent_signal_for,
    lead_facts,
)
from app.scoring.model import DEFAULT_MODEL, ScoringModelConfig
from app.scoring.stages import funnel_stage, hand_raise_is_fresh, latest, mql_verdict, strongest_fresh_intent
from app.settings import Settings
from app.types import utcnow

# Our own derived events never score (they would feed back into themselves).
UNSCORED_EVENTS = frozenset(
    {
        "stage_changed",
        "became_mql",
        "handed_off",
        "sales_accepted",
        "sales_rejected",
        "sla_breached",
        "email_sent",
    }
)
QUALIFIABLE = frozenset({LifecycleStage.subscriber, LifecycleStage.lead, LifecycleStage.recycled})
MODEL_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class ActiveModel:
    version: int
    config: ScoringModelConfig


class _ModelCache:
    """The active model per process, re-read at most every few seconds (PUT clears it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[float, str, ActiveModel] | None = None

    def get(self, session: Session) -> ActiveModel:
        key = str(session.get_bind().engine.url)
        with self._lock:
            if self._value and self._value[1] == key and time.monotonic() - self._value[0] < MODEL_CACHE_SECONDS:
                return self._value[2]
        row = session.exec(select(ScoringModel).where(col(ScoringModel.active).is_(True))).first()
        model = (
            ActiveModel(1, DEFAULT_MODEL)
            if row is None
            else ActiveModel(row.version, ScoringModelConfig.model_validate(row.config))
        )
        with self._lock:
            self._value = (time.monotonic(), key, model)
        return model

    def clear(self) -> None:
        with self._lock:
            self._value = None


model_cache = _ModelCache()


def active_model(session: Session) -> ActiveModel:
    return model_cache.get(session)


def save_model(session: Session, config: ScoringModelConfig) -> ActiveModel:
    """Store a new version and make it the active one."""
    current = active_model(session)
    latest = session.exec(select(func.max(ScoringModel.version))).one() or current.version
    for row in session.exec(select(ScoringModel).where(col(ScoringModel.active).is_(True))).all():
        row.active = False
        session.add(row)
    version = max(latest, current.version) + 1
    session.add(ScoringModel(version=version, config=config.model_dump(mode="json"), active=True))
    session.flush()
    model_cache.clear()
    return ActiveModel(version, config)


def lock_lead(session: Session, lead_id: uuid.UUID) -> Lead | None:
    """The lead row, locked on PostgreSQL: scores are read-modify-write, and two events for
    one lead in concurrent transactions must not overwrite each other's points."""
    if (held := locked_row(session, lead_id)) is not None:
        return held  # type: ignore[no-any-return]
    if session.get_bind().dialect.name != "postgresql":
        return session.get(Lead, lead_id)  # SQLite transactions take the write lock up front
    session.flush()  # refreshing below must not drop this transaction's pending changes
    lead = session.get(Lead, lead_id, with_for_update=True, populate_existing=True)
    if lead is not None:
        note_locked(session, lead)
    return lead


def current_engagement(lead: Lead, model: ScoringModelConfig, now: datetime | None = None) -> float:
    """Engagement decayed to `now` (stored scores are exact at their as_of time)."""
    return decayed(lead.engagement_score, lead.engagement_as_of, now or utcnow(), model.half_life_days)


def engagement_now(session: Session, lead: Lead, now: datetime | None = None) -> float:
    """What lead JSON shows: engagement decayed to the moment of the answer, under the active model."""
    return current_engagement(lead, active_model(session).config, now)


def _earned_today(session: Session, lead: Lead, event: Event, rule_ids: list[str]) -> dict[str, float]:
    """Points the capped rules already gave this lead for this event type on the event's
    (UTC) day: one query, then kept for the rest of the transaction (which holds the lead's
    lock, so nobody else adds to it meanwhile) — a batch of events needs no more queries."""
    day_start = event.occurred_at.replace(hour=0, minute=0, second=0, microsecond=0)
    memo = transaction_memo(session).setdefault("earned_today", {})
    key = (lead.id, event.type, day_start)
    if key not in memo:
        statement = select(Event.score_rules).where(
            Event.lead_id == lead.id,
            Event.type == event.type,
            Event.id != event.id,
            col(Event.occurred_at) >= day_start,
            col(Event.occurred_at) < day_start + timedelta(days=1),
        )
        earned: dict[str, float] = defaultdict(float)
        for rules in session.exec(statement):
            for rule_id, points in rules.items():
                earned[rule_id] += float(points)
        memo[key] = earned
    return memo[key]  # type: ignore[no-any-return]


def _score_engagement(session: Session, lead: Lead, event: Event, model: ScoringModelConfig) -> None:
    rules = engagement_rules_for(model, event.type, event.properties)
    capped_ids = [rule.id for rule in rules if rule.cap_per_day and rule.points > 0]
    today = _earned_today(session, lead, event, capped_ids) if capped_ids else {}
    earned: dict[str, float] = {}
    for rule in rules:
        points = capped(rule, rule.points, today.get(rule.id, 0.0))
        if points:
            earned[rule.id] = points
            if rule.id in capped_ids:
                today[rule.id] += points  # the next event of the day in this transaction sees it
    total = sum(earned.values())
    if total:
        lead.engagement_score, lead.engagement_as_of = add_points(
            lead.engagement_score,
            lead.engagement_as_of,
            total,
            event.occurred_at,
            model.half_life_days,
        )
    event.score_rules = earned
    event.engagement_delta = total


def signal_times(lead: Lead) -> dict[str, datetime | None]:
    return {"tofu": lead.tofu_signal_at, "mofu": lead.mofu_signal_at, "bofu": lead.bofu_signal_at}


def _note_intent(lead: Lead, event: Event, model: ScoringModelConfig) -> None:
    signal = intent_signal_for(model, event.type, event.properties)
    if signal is None:
        return
    at = event.occurred_at
    if signal.stage == "bofu":
        lead.bofu_signal_at = latest(lead.bofu_signal_at, at)
    elif signal.stage == "mofu":
        lead.mofu_signal_at = latest(lead.mofu_signal_at, at)
    else:
        lead.tofu_signal_at = latest(lead.tofu_signal_at, at)
    if signal.hand_raise:
        lead.hand_raise_at = latest(lead.hand_raise_at, at)


def refresh_fit(lead: Lead, model: ScoringModelConfig) -> float:
    """Recompute fit from the lead's fields; returns the change."""
    new = fit_score(model, lead_facts(lead))
    delta, lead.fit_score = new - lead.fit_score, new
    return delta


def score_event(session: Session, settings: Settings, lead: Lead, event: Event, now: datetime | None = None) -> None:
    """Fold one new event into the lead's scores, stages and MQL status (O(1) in history)."""
    now = now or utcnow()
    model = active_model(session).config
    event.occurred_at = min(event.occurred_at, now)  # a clock ahead of ours must not lock in points
    _score_engagement(session, lead, event, model)
    _note_intent(lead, event, model)
    if event.type == "form_submitted":
        event.fit_delta = refresh_fit(lead, model)
    session.add(event)
    session.add(lead)
    update_funnel_stage(session, settings, lead, model, now)
    check_mql(session, settings, lead, model, now)


def update_funnel_stage(
    session: Session, settings: Settings, lead: Lead, model: ScoringModelConfig, now: datetime
) -> None:
    intent = strongest_fresh_intent(model, signal_times(lead), now)
    set_funnel_stage(session, settings, lead, funnel_stage(model, current_engagement(lead, model, now), intent), now)


def check_mql(session: Session, settings: Settings, lead: Lead, model: ScoringModelConfig, now: datetime) -> None:
    """Qualify the lead when the MQL rule holds; once per episode (a recycled lead may requalify)."""
    if lead.lifecycle_stage not in QUALIFIABLE:
        return
    engagement = current_engagement(lead, model, now)
    verdict = mql_verdict(model, engagement, lead.fit_score, hand_raise_is_fresh(model, lead.hand_raise_at, now))
    if not verdict.qualified:
        return
    set_lifecycle_stage(session, settings, lead, LifecycleStage.mql, now)
    lead.became_mql_at = now
    lead.mql_episode += 1
    session.add(lead)
    details = {
        "episode": lead.mql_episode,
        "reason": verdict.reason,
        "engagement": round(engagement, 2),
        "fit": lead.fit_score,
        "funnel_stage": lead.funnel_stage,
    }
    record_event(session, settings, lead, "became_mql", details, occurred_at=now)
    publish(
        BecameMQL(
            session=session,
            settings=settings,
            lead_id=lead.id,
            episode=lead.mql_episode,
            reason=verdict.reason,
            details=details,
        )
    )


def recompute_fit(session: Session, settings: Settings, lead: Lead, now: datetime | None = None) -> None:
    """After the lead's fields change (capture, PATCH, import): fit, then stage and MQL."""
    now = now or utcnow()
    model = active_model(session).config
    refresh_fit(lead, model)
    session.add(lead)
    update_funnel_stage(session, settings, lead, model, now)
    check_mql(session, settings, lead, model, now)


def apply_recycle(session: Session, settings: Settings, lead: Lead, now: datetime | None = None) -> None:
    """Sales rejected the lead: keep a share of engagement, forget intent, back to nurture.

    The MQL rule is not re-checked here, so a rejection never bounces straight back; the
    lead requalifies on its next activity (a new MQL episode).
    """
    now = now or utcnow()
    model = active_model(session).config
    lead.engagement_score = current_engagement(lead, model, now) * model.recycle.engagement_factor
    lead.engagement_as_of = now
    lead.tofu_signal_at = lead.mofu_signal_at = lead.bofu_signal_at = lead.hand_raise_at = None
    session.add(lead)
    update_funnel_stage(session, settings, lead, model, now)
