"""The access chart: median and 90th-percentile days from referral to first
visit, month by month, drawn on the server as SVG.

The markup is built as an element tree, so every text and attribute is
escaped by the serializer. The site's content security policy allows no
inline styles or scripts, so the chart uses SVG presentation attributes only
(``stroke``, ``fill``, ``stroke-dasharray``…). The two lines differ by dash
and by marker shape as well as by colour, and the page carries the same
figures as a table for anyone who cannot see the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from django.utils.safestring import SafeString, mark_safe

from tandem.referrals.metrics import MonthPoint

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT = 720, 330
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 56, 64
INK = "#1b2430"
MUTED = "#566173"
GRID = "#d7dce3"
MEDIAN_COLOUR = "#1f5fa8"
P90_COLOUR = "#8a5a00"
FONT_SIZE = "12"
TITLE = "Days from referral to first visit, by month referred"


def _e(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    """A child element; attribute names use ``_`` for ``-`` (``stroke_width``)."""
    element = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _n(value: float) -> str:
    """A coordinate, short and exact enough."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _days(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f} days"


def nice_scale(highest: float, ticks: int = 5) -> tuple[float, float]:
    """A round tick step, and the top of the axis (a multiple of it at or above ``highest``)."""
    highest = max(highest, 1.0)
    raw = highest / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step, step * math.ceil(highest / step - 1e-9)


def _tick_label(value: float) -> str:
    return f"{round(value, 6):g}"


def _root(id_prefix: str, height: int, description: str) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {WIDTH} {height}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": f"{id_prefix}-title {id_prefix}-desc",
            "class": "chart",
            "font-size": FONT_SIZE,
            "fill": INK,
        },
    )
    _e(svg, "title", TITLE, id=f"{id_prefix}-title")
    _e(svg, "desc", description, id=f"{id_prefix}-desc")
    return svg


def _serialize(svg: ET.Element) -> SafeString:
    # ElementTree escapes every text and attribute value it writes.
    return mark_safe(ET.tostring(svg, encoding="unicode"))  # noqa: S308


def _describe(points: Sequence[MonthPoint]) -> str:
    with_data = [p for p in points if p.first_visit.n]
    span = f"from {points[0].label} to {points[-1].label}"
    if not with_data:
        return f"No referral submitted {span} has had its first visit yet, so there is nothing to draw."
    worst = max(with_data, key=lambda p: p.first_visit.p90 or 0.0)
    latest = with_data[-1]
    return (
        f"Line chart of the median and the 90th percentile of days from referral to first visit, "
        f"for referrals submitted each month {span}. {len(with_data)} of {len(points)} months have "
        f"completed first visits. Latest: {latest.label}, median {_days(latest.first_visit.median)}, "
        f"90th percentile {_days(latest.first_visit.p90)}, {latest.first_visit.n} first visits. "
        f"Highest 90th percentile: {_days(worst.first_visit.p90)} in {worst.label}. "
        f"The table below the chart lists every month."
    )


def first_visit_chart(points: Sequence[MonthPoint], *, id_prefix: str = "access-chart") -> SafeString:
    """The monthly chart as SVG markup, safe to put in a page. Months without
    a completed first visit leave a gap in the lines; with none at all, the
    chart says so instead of drawing empty axes."""
    if not points:
        raise ValueError("the chart needs the months it covers")
    description = _describe(points)
    if not any(p.first_visit.n for p in points):
        svg = _root(id_prefix, 96, description)
        _e(svg, "rect", x=0.5, y=0.5, width=WIDTH - 1, height=95, rx=8, fill="#fafbfc", stroke=GRID)
        _e(
            svg,
            "text",
            f"No completed first visits for referrals submitted from {points[0].label} to {points[-1].label}.",
            x=_n(WIDTH / 2),
            y=52,
            text_anchor="middle",
            fill=MUTED,
        )
        return _serialize(svg)

    svg = _root(id_prefix, HEIGHT, description)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    highest = max((p.first_visit.p90 or 0.0) for p in points)
    step, top = nice_scale(highest)

    def x_at(index: int) -> float:
        return LEFT + (plot_w * index / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y_at(days: float) -> float:
        return bottom - plot_h * days / top

    # Legend, in words as well as colours and dashes.
    legend = _e(svg, "g", class_="legend")
    legend_items = [("Median", MEDIAN_COLOUR, ""), ("90th percentile", P90_COLOUR, "6 4")]
    for offset, (label, colour, dash) in enumerate(legend_items):
        left = LEFT + offset * 150
        line = _e(legend, "line", x1=left, y1=20, x2=left + 28, y2=20, stroke=colour, stroke_width=2.5)
        if dash:
            line.set("stroke-dasharray", dash)
        _e(legend, "text", label, x=left + 36, y=24)

    # Horizontal grid and the days axis.
    axis = _e(svg, "g", class_="axis", fill=MUTED)
    tick = 0.0
    while tick <= top + 1e-9:
        level = _n(y_at(tick))
        _e(axis, "line", x1=LEFT, y1=level, x2=LEFT + plot_w, y2=level, stroke=GRID, stroke_width=1)
        _e(axis, "text", _tick_label(tick), x=LEFT - 8, y=_n(y_at(tick) + 4), text_anchor="end")
        tick += step
    _e(
        axis,
        "text",
        "Days",
        x=_n(-(TOP + plot_h / 2)),
        y=18,
        transform="rotate(-90)",
        text_anchor="middle",
    )
    # Months along the bottom; the year under the first month and each January.
    for index, point in enumerate(points):
        centre = _n(x_at(index))
        _e(axis, "text", point.month.strftime("%b"), x=centre, y=bottom + 18, text_anchor="middle")
        if index == 0 or point.month.month == 1:
            _e(axis, "text", str(point.month.year), x=centre, y=bottom + 32, text_anchor="middle")
    _e(axis, "line", x1=LEFT, y1=bottom, x2=LEFT + plot_w, y2=bottom, stroke=MUTED, stroke_width=1)
    _e(
        axis,
        "text",
        "Month the referral was submitted",
        x=_n(LEFT + plot_w / 2),
        y=HEIGHT - 8,
        text_anchor="middle",
    )

    for name, colour, dash, attribute in [
        ("median", MEDIAN_COLOUR, "", "median"),
        ("p90", P90_COLOUR, "6 4", "p90"),
    ]:
        series = _e(svg, "g", class_=f"series {name}")
        # One path per run of consecutive months with data.
        runs: list[list[tuple[float, float]]] = [[]]
        for index, point in enumerate(points):
            value = getattr(point.first_visit, attribute)
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((x_at(index), y_at(value)))
        for run in runs:
            if len(run) > 1:
                path = _e(
                    series,
                    "path",
                    d=" ".join(f"{'M' if i == 0 else 'L'}{_n(x)} {_n(y)}" for i, (x, y) in enumerate(run)),
                    fill="none",
                    stroke=colour,
                    stroke_width=2.5,
                    stroke_linejoin="round",
                )
                if dash:
                    path.set("stroke-dasharray", dash)
        for index, point in enumerate(points):
            value = getattr(point.first_visit, attribute)
            if value is None:
                continue
            px, py = x_at(index), y_at(value)
            if name == "median":
                marker = _e(series, "circle", cx=_n(px), cy=_n(py), r=4, fill=colour)
            else:
                marker = _e(series, "rect", x=_n(px - 4), y=_n(py - 4), width=8, height=8, fill="#fff", stroke=colour)
                marker.set("stroke-width", "2")
            summary = point.first_visit
            _e(
                marker,
                "title",
                f"{point.label}: median {_days(summary.median)}, 90th percentile {_days(summary.p90)}, "
                f"{summary.n} first visit{'s' if summary.n != 1 else ''}",
            )
    return _serialize(svg)
