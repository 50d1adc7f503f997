"""Funnel stage and MQL rules. Pure."""

from __future__ import annotations

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


def fresh_intent(
    model: ScoringModelConfig, intent_stage: str | None, intent_at: datetime | None, now: datetime
) -> str | None:
    if intent_stage is None or intent_at is None:
        return None
    return intent_stage if now - intent_at <= timedelta(days=model.intent_fresh_days) else None


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
