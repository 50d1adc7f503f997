"""`GET /leads/{id}/score`: the number explained rule by rule, in words a marketer reads."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.models import Event, Lead
from app.scoring.decay import decay_factor
from app.scoring.engine import fit_breakdown, lead_facts
from app.scoring.service import active_model, current_engagement, signal_times
from app.scoring.stages import band_stage, funnel_stage, hand_raise_is_fresh, mql_verdict, strongest_fresh_intent
from app.types import utcnow

EXPLAINED_EVENTS = 2000


def explain(session: Session, lead: Lead, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    active = active_model(session)
    model = active.config
    engagement = current_engagement(lead, model, now)
    descriptions = {rule.id: rule.description or rule.id for rule in model.engagement_rules}
    earned: dict[str, dict[str, float]] = defaultdict(lambda: {"events": 0, "points": 0.0, "points_now": 0.0})
    recent = select(Event).where(Event.lead_id == lead.id, col(Event.engagement_delta) != 0)
    for event in session.exec(recent.order_by(col(Event.occurred_at).desc()).limit(EXPLAINED_EVENTS)):
        for rule_id, points in event.score_rules.items():
            entry = earned[rule_id]
            entry["events"] += 1
            entry["points"] += points
            entry["points_now"] += points * decay_factor(event.occurred_at, now, model.half_life_days)
    explained = sum(entry["points_now"] for entry in earned.values())
    intent = strongest_fresh_intent(model, signal_times(lead), now)
    band = band_stage(model, engagement)
    verdict = mql_verdict(model, engagement, lead.fit_score, hand_raise_is_fresh(model, lead.hand_raise_at, now))
    return {
        "lead_id": str(lead.id),
        "model_version": active.version,
        "computed_at": now.isoformat(),
        "engagement": {
            "score": round(engagement, 2),
            "half_life_days": model.half_life_days,
            "rules": [
                {
                    "rule": rule_id,
                    "description": descriptions.get(rule_id, rule_id),
                    "events": int(v["events"]),
                    "points_earned": round(v["points"], 2),
                    "points_now": round(v["points_now"], 2),
                }
                for rule_id, v in sorted(earned.items(), key=lambda item: -item[1]["points_now"])
            ],
            # What the rules above do not add up to: the cut of a recycle (negative) or
            # events older than the ones explained (positive).
            "adjustment_now": round(engagement - explained, 2),
        },
        "fit": {
            "score": lead.fit_score,
            "rules": [
                {"rule": r.rule_id, "description": r.description, "points": r.points}
                for r in fit_breakdown(model, lead_facts(lead))
            ],
        },
        "funnel": {
            "stage": lead.funnel_stage,
            "from_engagement": band,
            "from_intent": intent,
            "explanation": _stage_sentence(
                model.bands.mofu_at,
                model.bands.bofu_at,
                engagement,
                band,
                intent,
                funnel_stage(model, engagement, intent),
            ),
        },
        "lifecycle_stage": lead.lifecycle_stage,
        "mql": {
            "is_mql": lead.is_mql,
            "rule": (
                f"engagement ≥ {model.mql.engagement_at_least:g} and fit ≥ {model.mql.fit_at_least:g}"
                + (
                    f", or a BOFU hand-raise with fit ≥ {model.mql.hand_raise_fit_floor:g}"
                    if model.mql.hand_raise_fit_floor is not None
                    else ""
                )
            ),
            "meets_rule_now": verdict.qualified,
            "explanation": verdict.reason,
            "engagement_gap": round(verdict.engagement_gap, 2),
            "fit_gap": round(verdict.fit_gap, 2),
        },
    }


def _stage_sentence(
    mofu_at: float, bofu_at: float, engagement: float, band: str, intent: str | None, stage: str
) -> str:
    text = f"Engagement {engagement:.1f} puts the lead in {band.upper()} (MOFU from {mofu_at:g}, BOFU from {bofu_at:g})"
    if intent:
        text += f"; its strongest recent intent signal is {intent.upper()}"
    return text + f"; the higher of the two is {stage.upper()}."
