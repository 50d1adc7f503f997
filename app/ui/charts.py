"""Server-side SVG charts: no JavaScript, no CDN, readable by screen readers. Pure."""

from __future__ import annotations

from html import escape
from typing import Any

FUNNEL_COLOURS = ["#1d4ed8", "#2563eb", "#3b82f6", "#7c3aed", "#9333ea", "#c026d3", "#db2777", "#059669"]


def funnel_svg(stages: list[dict[str, Any]], width: int = 720) -> str:
    """Centred bars, widest at the top, with counts and the conversion to the next stage."""
    row, gap = 34, 22
    top = max((s["count"] for s in stages), default=0) or 1
    height = len(stages) * (row + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="funnel-title" class="chart"><title id="funnel-title">Funnel: '
        + escape(", ".join(f"{s['stage'].upper()} {s['count']}" for s in stages))
        + "</title>"
    ]
    label_width = 130
    usable = width - label_width - 20
    for index, stage in enumerate(stages):
        y = index * (row + gap)
        bar = max(4, usable * stage["count"] / top)
        x = label_width + (usable - bar) / 2
        colour = FUNNEL_COLOURS[index % len(FUNNEL_COLOURS)]
        parts.append(f'<text x="0" y="{y + 22}" class="label">{escape(stage["stage"].upper())}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="{row}" rx="4" fill="{colour}"/>')
        # Narrow bars cannot hold their number: put it beside the bar in dark ink.
        inside = bar >= 60
        text_x = label_width + usable / 2 if inside else x + bar + 8
        anchor, css = ("middle", "count") if inside else ("start", "count-outside")
        parts.append(
            f'<text x="{text_x:.1f}" y="{y + 22}" text-anchor="{anchor}" class="{css}">{stage["count"]:,}</text>'
        )
        rate = stage.get("conversion_to_next")
        if rate is not None and index + 1 < len(stages):
            parts.append(
                f'<text x="{label_width + usable / 2:.1f}" y="{y + row + 16}" text-anchor="middle" '
                f'class="rate">↓ {rate * 100:.1f}%</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(points: list[tuple[str, int]], title: str, width: int = 720, height: int = 160) -> str:
    """A small bar chart (e.g. MQLs per week)."""
    top = max((v for _, v in points), default=0) or 1
    step = width / max(1, len(points))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 30}" role="img" '
        f'class="chart"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(points):
        bar = (height - 20) * value / top
        x = index * step + 4
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bar:.1f}" width="{step - 8:.1f}" height="{bar:.1f}" '
            f'fill="#2563eb"><title>{escape(label)}: {value}</title></rect>'
        )
        parts.append(
            f'<text x="{x + (step - 8) / 2:.1f}" y="{height - bar - 4:.1f}" text-anchor="middle" '
            f'class="rate">{value}</text>'
        )
        parts.append(
            f'<text x="{x + (step - 8) / 2:.1f}" y="{height + 16}" text-anchor="middle" '
            f'class="tick">{escape(label[5:])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
