"""The rule engine, stage bands and MQL rule of the default model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.scoring.decay import decayed
from app.scoring.engine import (
    capped,
    engagement_rules_for,
    fit_breakdown,
    fit_score,
    intent_signal_for,
    lead_facts,
)
from app.scoring.model import DEFAULT_MODEL, ScoringModelConfig
from app.scoring.recompute import recompute
from app.scoring.stages import band_stage, funnel_stage, mql_verdict, strongest_fresh_intent

M = DEFAULT_MODEL


def _lead(**fields: object) -> SimpleNamespace:
    base = {"email": "ana@acme-corp.com", "job_title": None, "company_size": None, "custom": {}}
    return SimpleNamespace(**(base | fields))


def test_decision_maker_with_business_domain_scores_fit() -> None:
    rules = {r.rule_id for r in fit_breakdown(M, lead_facts(_lead(job_title="VP Marketing")))}
    assert rules == {"decision_maker", "business_domain"}
    assert fit_score(M, lead_facts(_lead(job_title="VP Marketing"))) == 35


def test_students_on_free_mail_lose_fit() -> None:
    facts = lead_facts(_lead(email="kid@gmail.com", job_title="Student"))
    assert fit_score(M, facts) == -35


def test_manager_rule_does_not_stack_with_decision_maker() -> None:
    assert {r.rule_id for r in fit_breakdown(M, lead_facts(_lead(job_title="Head of Product Marketing Manager")))} == {
        "decision_maker",
        "business_domain",
    }


def test_pricing_page_view_matches_pricing_and_page_rules() -> None:
    rules = {r.id for r in engagement_rules_for(M, "page_viewed", {"url": "https://x.com/pricing"})}
    assert rules == {"pricing_page", "page_view"}


def test_form_kind_picks_the_form_rule() -> None:
    assert [r.id for r in engagement_rules_for(M, "form_submitted", {"form_kind": "webinar"})] == [
        "webinar_registration"
    ]


def test_demo_request_is_a_bofu_hand_raise() -> None:
    signal = intent_signal_for(M, "form_submitted", {"form_kind": "demo_request"})
    assert signal is not None
    assert signal.stage == "bofu"
    assert signal.hand_raise


def test_daily_cap_limits_gains_only() -> None:
    [rule] = [r for r in M.engagement_rules if r.id == "page_view"]
    assert capped(rule, 1, 9) == 1
    assert capped(rule, 1, 10) == 0
    assert capped(rule, -5, 100) == -5


@pytest.mark.parametrize(("engagement", "stage"), [(0, "tofu"), (19.9, "tofu"), (20, "mofu"), (50, "bofu")])
def test_engagement_bands(engagement: float, stage: str) -> None:
    assert band_stage(M, engagement) == stage


def test_the_higher_of_band_and_fresh_intent_wins() -> None:
    assert funnel_stage(M, 25, "tofu") == "mofu"
    assert funnel_stage(M, 5, "bofu") == "bofu"
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert strongest_fresh_intent(M, {"bofu": now - timedelta(days=31)}, now) is None
    assert strongest_fresh_intent(M, {"bofu": now - timedelta(days=29)}, now) == "bofu"


def test_a_stale_bofu_signal_falls_back_to_a_fresh_mofu_signal() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    seen = {"tofu": now - timedelta(days=2), "mofu": now - timedelta(days=10), "bofu": now - timedelta(days=40)}
    assert strongest_fresh_intent(M, seen, now) == "mofu"
    assert strongest_fresh_intent(M, seen, now + timedelta(days=25)) == "tofu"


def test_mql_by_scores_or_by_hand_raise_above_the_floor() -> None:
    assert mql_verdict(M, 55, 30, False).qualified
    assert not mql_verdict(M, 55, 29, False).qualified
    assert mql_verdict(M, 0, 10, True).qualified
    assert not mql_verdict(M, 0, 9, True).qualified
    assert mql_verdict(M, 40, 35, False).reason == "needs 10.0 engagement points"


def test_invalid_models_are_refused_with_reasons() -> None:
    raw = M.model_dump()
    with pytest.raises(ValidationError, match="bofu_at"):
        ScoringModelConfig.model_validate(raw | {"bands": {"mofu_at": 50, "bofu_at": 20}})
    with pytest.raises(ValidationError, match="unique"):
        ScoringModelConfig.model_validate(raw | {"fit_rules": raw["fit_rules"] * 2})
    with pytest.raises(ValidationError, match="list"):
        ScoringModelConfig.model_validate(
            raw
            | {
                "fit_rules": [
                    {
                        "id": "x",
                        "points": 1,
                        "when": [{"field": "country", "op": "in", "value": "DE"}],
                    }
                ]
            }
        )


T0 = datetime(2026, 1, 1, tzinfo=UTC)
event_kinds = st.sampled_from(
    [
        ("page_viewed", {"url": "https://x.com/pricing"}),
        ("page_viewed", {"url": "https://x.com/blog"}),
        ("email_opened", {}),
        ("email_clicked", {}),
        ("form_submitted", {"form_kind": "ebook"}),
        ("form_submitted", {"form_kind": "demo_request"}),
        ("content_downloaded", {}),
        ("custom", {}),
    ]
)


@given(st.lists(st.tuples(event_kinds, st.integers(min_value=0, max_value=90 * 24)), max_size=40))
def test_incremental_scoring_equals_full_recomputation(
    history: list[tuple[tuple[str, dict[str, str]], int]],
) -> None:
    """Events arrive in any order (occurred_at jumps around); the folded score equals a replay."""
    events = [SimpleNamespace(type=t, properties=p, occurred_at=T0 + timedelta(hours=h)) for (t, p), h in history]
    score, as_of = 0.0, T0
    earned: dict[tuple[str, str], float] = {}
    from app.scoring.decay import add_points

    for event in events:
        total = 0.0
        for rule in engagement_rules_for(M, event.type, event.properties):
            key = (rule.id, event.occurred_at.date().isoformat())
            points = capped(rule, rule.points, earned.get(key, 0.0))
            earned[key] = earned.get(key, 0.0) + points
            total += points
        if total:
            score, as_of = add_points(score, as_of, total, event.occurred_at, M.half_life_days)
    replay = recompute(M, events, T0)  # type: ignore[arg-type]
    now = T0 + timedelta(days=120)
    assert decayed(score, as_of, now, 30) == pytest.approx(decayed(replay.engagement, replay.as_of, now, 30), abs=1e-6)


@given(st.lists(st.tuples(event_kinds, st.integers(min_value=0, max_value=90 * 24)), max_size=40), st.randoms())
def test_intent_signals_do_not_depend_on_arrival_order(
    history: list[tuple[tuple[str, dict[str, str]], int]], shuffler: Random
) -> None:
    events = [SimpleNamespace(type=t, properties=p, occurred_at=T0 + timedelta(hours=h)) for (t, p), h in history]
    arrived = events[:]
    shuffler.shuffle(arrived)
    in_order, shuffled = recompute(M, events, T0), recompute(M, arrived, T0)  # type: ignore[arg-type]
    assert (shuffled.signal_at, shuffled.hand_raise_at) == (in_order.signal_at, in_order.hand_raise_at)
    now = T0 + timedelta(days=100)
    assert strongest_fresh_intent(M, shuffled.signal_at, now) == strongest_fresh_intent(M, in_order.signal_at, now)


def test_a_rule_capped_below_one_event_is_refused() -> None:
    raw = M.model_dump()
    raw["engagement_rules"][0] |= {"points": 10, "cap_per_day": 5}
    with pytest.raises(ValidationError, match="cap_per_day"):
        ScoringModelConfig.model_validate(raw)
