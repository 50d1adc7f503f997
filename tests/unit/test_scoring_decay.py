"""Decay math: exact half-life, order independence, re-basing is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.scoring.decay import add_points, decay_factor, decayed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_score_halves_after_one_half_life() -> None:
    assert decayed(80.0, T0, T0 + timedelta(days=30), 30) == pytest.approx(40.0)
    assert decayed(80.0, T0, T0 + timedelta(days=60), 30) == pytest.approx(20.0)


def test_no_decay_backwards_in_time() -> None:
    assert decay_factor(T0, T0 - timedelta(days=3), 30) == 1.0


def test_rebasing_twice_equals_rebasing_once() -> None:
    once = decayed(50.0, T0, T0 + timedelta(days=10), 14)
    twice = decayed(
        decayed(50.0, T0, T0 + timedelta(days=4), 14),
        T0 + timedelta(days=4),
        T0 + timedelta(days=10),
        14,
    )
    assert twice == pytest.approx(once)


moments = st.lists(
    st.tuples(st.floats(min_value=-50, max_value=50), st.integers(min_value=0, max_value=200 * 24)),
    min_size=1,
    max_size=30,
)


@given(moments, st.integers(min_value=0, max_value=24 * 400))
def test_folding_in_any_order_equals_the_closed_form_sum(events: list[tuple[float, int]], read_after: int) -> None:
    score, as_of = 0.0, T0
    for points, hours in events:
        score, as_of = add_points(score, as_of, points, T0 + timedelta(hours=hours), 30)
    now = T0 + timedelta(hours=max(h for _, h in events) + read_after)
    expected = sum(p * 0.5 ** ((now - (T0 + timedelta(hours=h))).total_seconds() / 86400 / 30) for p, h in events)
    assert decayed(score, as_of, now, 30) == pytest.approx(expected, abs=1e-6)
