"""Funnel stage and MQL rules. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.scoring.engine import STAGE_RANK
from app.scoring.model import ScoringModelConfig


def band_stage(model: ScoringModelConfig, engagement: float) -> str:
    if engagement >= model.bands.bofu_at:
        return "bofu"
    if engagement >= model.bands.mofu_at:
        return "mofu"
    return "tofu"


def strongest_fresh_intent(
    model: ScoringModelConfig, last_signal_at: Mapping[str, datetime | None], now: datetime
) -> str | None:
    """The highest stage whose latest intent signal is still within the freshness window."""
    horizon = now - timedelta(days=model.intent_fresh_days)
    for stage in ("bofu", "mofu", "tofu"):
        at = last_signal_at.get(stage)
        if at is not None and at >= horizon:
            return stage
    return None


def hand_raise_is_fresh(model: ScoringModelConfig, hand_raise_at: datetime | None, now: datetime) -> bool:
    return hand_raise_at is not None and now - hand_raise_at <= timedelta(days=model.intent_fresh_days)


def latest(current: datetime | None, at: datetime) -> datetime:
    """Signals fold by keeping the latest time, so their arrival order does not matter."""
    return at if current is None or at > current else current


def funnel_stage(model: ScoringModelConfig, engagement: float, intent: str | None) -> str:
    """The higher of the engagement band and the strongest fresh intent signal."""
    band = band_stage(model, engagement)
    if intent is None or STAGE_RANK[band] >= STAGE_RANK[intent]:
        return band
    return intent


@dataclass(frozen=True)
class MqlVerdict:
    qualified: bool
    reason: str
    engagement_gap: float
    fit_gap: float


def mql_verdict(model: ScoringModelConfig, engagement: float, fit: float, hand_raise_fresh: bool) -> MqlVerdict:
    rule = model.mql
    engagement_gap = max(0.0, rule.engagement_at_least - engagement)
    fit_gap = max(0.0, rule.fit_at_least - fit)
    if engagement_gap == 0 and fit_gap == 0:
        reason = f"engagement {engagement:.1f} ≥ {rule.engagement_at_least:g} and fit {fit:.1f} ≥ {rule.fit_at_least:g}"
        return MqlVerdict(True, reason, 0.0, 0.0)
    floor = rule.hand_raise_fit_floor
    if hand_raise_fresh and floor is not None and fit >= floor:
        return MqlVerdict(
            True,
            f"BOFU hand-raise (demo or trial request) with fit {fit:.1f} ≥ {floor:g}",
            engagement_gap,
            fit_gap,
        )
    missing = []
    if engagement_gap:
        missing.append(f"{engagement_gap:.1f} engagement points")
    if fit_gap:
        missing.append(f"{fit_gap:.1f} fit points")
    return MqlVerdict(False, "needs " + " and ".join(missing), engagement_gap, fit_gap)
