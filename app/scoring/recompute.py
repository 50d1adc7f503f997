"""Scores recomputed from a lead's whole history. Pure: the reference the incremental path
must agree with, and what a re-score after a model change uses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.scoring.decay import add_points
from app.scoring.engine import capped, engagement_rules_for, intent_signal_for
from app.scoring.model import ScoringModelConfig
from app.scoring.stages import latest


class HistoricEvent(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def properties(self) -> dict[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass
class Recomputed:
    engagement: float
    as_of: datetime
    signal_at: dict[str, datetime] = field(default_factory=dict)
    hand_raise_at: datetime | None = None
    # Points per rule for each event, in the order given (what the event rows should hold).
    earned: list[dict[str, float]] = field(default_factory=list)


def recompute(model: ScoringModelConfig, events: Sequence[HistoricEvent], start: datetime) -> Recomputed:
    """Replay `events` in the order they were recorded, caps per rule per day included."""
    result = Recomputed(0.0, start)
    earned_on_day: dict[tuple[str, str], float] = defaultdict(float)
    for event in events:
        day = event.occurred_at.date().isoformat()
        points_by_rule: dict[str, float] = {}
        for rule in engagement_rules_for(model, event.type, event.properties):
            points = capped(rule, rule.points, earned_on_day[(rule.id, day)])
            earned_on_day[(rule.id, day)] += points
            if points:
                points_by_rule[rule.id] = points
        result.earned.append(points_by_rule)
        total = sum(points_by_rule.values())
        if total:
            result.engagement, result.as_of = add_points(
                result.engagement, result.as_of, total, event.occurred_at, model.half_life_days
            )
        signal = intent_signal_for(model, event.type, event.properties)
        if signal is None:
            continue
        result.signal_at[signal.stage] = latest(result.signal_at.get(signal.stage), event.occurred_at)
        if signal.hand_raise:
            result.hand_raise_at = latest(result.hand_raise_at, event.occurred_at)
    return result
