"""Exponential decay of engagement. Pure math.

Decay is linear in the points, so a score is exactly the sum of every event's points
decayed from its own time: S(T) = sum(p_i * 0.5 ** ((T - t_i) / half_life)). Storing
(score, as_of) and folding events in one at a time gives that same sum, in any order.
"""

from __future__ import annotations

from datetime import datetime

SECONDS_PER_DAY = 86400.0


def decay_factor(from_time: datetime, to_time: datetime, half_life_days: float) -> float:
    """How much of a score at `from_time` is left at `to_time` (1.0 if to_time is earlier)."""
    days = (to_time - from_time).total_seconds() / SECONDS_PER_DAY
    return 1.0 if days <= 0 else 0.5 ** (days / half_life_days)


def decayed(score: float, as_of: datetime, now: datetime, half_life_days: float) -> float:
    return score * decay_factor(as_of, now, half_life_days)


def add_points(
    score: float, as_of: datetime, points: float, at: datetime, half_life_days: float
) -> tuple[float, datetime]:
    """Fold `points` earned at `at` into (score, as_of); events may arrive out of order."""
    if at >= as_of:
        return decayed(score, as_of, at, half_life_days) + points, at
    return score + points * decay_factor(at, as_of, half_life_days), as_of
