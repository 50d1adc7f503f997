"""The dashboard's SVG funnel."""

from __future__ import annotations

from app.ui.charts import bars_svg, funnel_svg


def test_funnel_svg_has_a_bar_per_stage_counts_and_rates() -> None:
    stages = [
        {"stage": "tofu", "count": 1000, "conversion_to_next": 0.4},
        {"stage": "mofu", "count": 400, "conversion_to_next": 0.25},
        {"stage": "won", "count": 100, "conversion_to_next": None},
    ]
    svg = funnel_svg(stages)
    assert svg.count("<rect") == 3
    assert "1,000" in svg
    assert "↓ 40.0%" in svg
    assert '<title id="funnel-title">Funnel: TOFU 1000, MOFU 400, WON 100</title>' in svg


def test_funnel_svg_escapes_labels_and_survives_zero() -> None:
    svg = funnel_svg([{"stage": "<script>", "count": 0, "conversion_to_next": None}])
    assert "<script>" not in svg


def test_bar_chart_labels_each_week() -> None:
    svg = bars_svg([("2026-11-02", 3), ("2026-11-09", 5)], "MQLs per week")
    assert svg.count("<rect") == 2
    assert "11-09" in svg
