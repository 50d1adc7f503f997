"""Scores recomputed from a lead's whole history. Pure: the reference the incremental path
must agree with, and what a re-score after a model change uses."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.scoring.decay import add_points
from app.scoring.engine import STAGE_RANK, capped, engagement_rules_for, intent_signal_for
from app.scoring.model import ScoringModelConfig


class HistoricEvent(Protocol):
    type: str
    properties: dict[str, Any]
    occurred_at: datetime


@dataclass
class Recomputed:
    engagement: float
    as_of: datetime
    intent_stage: str | None
    intent_at: datetime | None
    hand_raise_at: datetime | None


def recompute(model: ScoringModelConfig, events: list[HistoricEvent], start: datetime) -> Recomputed:
    """Replay `events` in the order they were recorded, caps per rule per day included."""
    score, as_of = 0.0, start
    earned: dict[tuple[str, str], float] = defaultdict(float)
    intent_stage: str | None = None
    intent_at: datetime | None = None
    hand_raise_at: datetime | None = None
    for event in events:
        day = event.occurred_at.date().isoformat()
        total = 0.0
        for rule in engagement_rules_for(model, event.type, event.properties):
            points = capped(rule, rule.points, earned[(rule.id, day)])
            earned[(rule.id, day)] += points
            total += points
        if total:
            score, as_of = add_points(score, as_of, total, event.occurred_at, model.half_life_days)
        signal = intent_signal_for(model, event.type, event.properties)
        if signal and (intent_stage is None or STAGE_RANK[signal.stage] >= STAGE_RANK[intent_stage]):
            intent_stage, intent_at = (
                signal.stage,
                max(event.occurred_at, intent_at or event.occurred_at),
            )
        if signal and signal.hand_raise and (hand_raise_at is None or event.occurred_at > hand_raise_at):
            hand_raise_at = event.occurred_at
    return Recomputed(score, as_of, intent_stage, intent_at, hand_raise_at)
