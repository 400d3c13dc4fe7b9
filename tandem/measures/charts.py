"""Score trends as accessible SVG, drawn on the server so the same chart
works in the browser, in print and in PDFs, with no script.

One chart per instrument: the scores over time as a line with a point per
score, the instrument's severity bands shaded behind it, and medication
changes marked as vertical lines on the same time axis. The SVG carries a
title and a description (the first and latest score, and the change), every
point its own <title>, and a table of the same numbers sits beside it on the
page for screen readers.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from tandem.measures.instruments import Instrument

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 34
# Light to dark: the higher the band, the deeper the shade.
SHADES = ["#eef6ee", "#f6f4e4", "#fbeedd", "#f8e1d8", "#f3d3d3", "#eec5c5"]


@dataclass(frozen=True)
class Point:
    when: datetime.datetime
    total: int


@dataclass(frozen=True)
class Marker:
    when: datetime.datetime
    label: str


def trend_svg(
    instrument: Instrument, points: Sequence[Point], markers: Sequence[Marker] = (), chart_id: str = ""
) -> str:
    """The chart, or an empty string when there is nothing to draw."""
    if not points:
        return ""
    ordered = sorted(points, key=lambda p: p.when)
    first, last = ordered[0], ordered[-1]
    span_start = min([first.when, *(m.when for m in markers)])
    span_end = max([last.when, *(m.when for m in markers)])
    seconds = max((span_end - span_start).total_seconds(), 86400.0)
    top = instrument.max_total
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(when: datetime.datetime) -> float:
        return LEFT + plot_w * (when - span_start).total_seconds() / seconds

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top) if top else TOP + plot_h

    key = chart_id or instrument.key
    title = f"{instrument.short_name} over time"
    change = last.total - first.total
    desc = (
        f"{len(ordered)} scores from {first.when:%b %d, %Y} to {last.when:%b %d, %Y}: "
        f"first {first.total}, latest {last.total} ({'+' if change > 0 else ''}{change})."
    )
    if markers:
        desc += f" {len(markers)} medication change{'s' if len(markers) != 1 else ''} marked."
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc" class="trend">',
        f'<title id="{key}-title">{escape(title)}</title>',
        f'<desc id="{key}-desc">{escape(desc)}</desc>',
    ]
    for n, band in enumerate(instrument.bands):
        y_top, y_bottom = y(band.max + 0.5 if band.max < top else top), y(band.min - 0.5 if band.min > 0 else 0)
        shade = SHADES[min(n, len(SHADES) - 1)]
        parts.append(
            f'<rect class="band" x="{LEFT}" y="{y_top:.1f}" width="{plot_w}" height="{y_bottom - y_top:.1f}" '
            f'fill="{shade}"><title>{escape(band.label)}: {band.min}–{band.max}</title></rect>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{y_top + 11:.1f}" text-anchor="end" font-size="10" fill="#555">'
            f"{escape(band.label)}</text>"
        )
    for value in sorted({0, top, *(b.min for b in instrument.bands)}):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 3:.1f}" text-anchor="end" font-size="10" fill="#333">{value}</text>'
        )
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#888" />')
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="10" fill="#333">{first.when:%b %d}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="10" fill="#333">'
        f"{span_end:%b %d}</text>"
    )
    for marker in sorted(markers, key=lambda m: m.when):
        mx = x(marker.when)
        parts.append(
            f'<g class="medication"><line x1="{mx:.1f}" y1="{TOP}" x2="{mx:.1f}" y2="{TOP + plot_h}" '
            f'stroke="#5b4b8a" stroke-dasharray="4 3" /><title>{escape(marker.label)}, '
            f"{marker.when:%b %d, %Y}</title></g>"
        )
    line = " ".join(f"{x(p.when):.1f},{y(p.total):.1f}" for p in ordered)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f5f99" stroke-width="2" />')
    for p in ordered:
        found = instrument.band_for(p.total)
        label = f"{p.total}" + (f", {found.label}" if found else "")
        parts.append(
            f'<circle class="score" cx="{x(p.when):.1f}" cy="{y(p.total):.1f}" r="3.5" fill="#1f5f99">'
            f"<title>{p.when:%b %d, %Y}: {escape(label)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
