"""What a page shows of a patient's scores: each instrument's responses with
its trend chart, medication changes marked. The callers pass only what the
viewer may see (``policy.visible_responses`` and the medication changes of
``policy.visible_medications``)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

from tandem.measures import charts, instruments, scoring
from tandem.measures.instruments import Instrument
from tandem.measures.models import Response
from tandem.medications.models import ChangeKind, MedicationChange

# Medication changes shown a little before the first score too.
MARKER_LEAD = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Trend:
    instrument: Instrument
    rows: list[Response]  # newest first, as listed
    svg: SafeString
    # From the first score to the latest: the change, response and remission.
    outcome: scoring.Change | None


def marker_label(change: MedicationChange) -> str:
    m = change.medication
    if change.kind in (ChangeKind.DOSE, ChangeKind.TAPER) and change.dose_before is not None:
        assert change.dose_after is not None
        return f"{m.display} {change.dose_before.normalize():f}→{change.dose_after.normalize():f} {m.dose_unit}"
    if change.kind in (ChangeKind.START, ChangeKind.RESUME) and change.dose_after is not None:
        return f"{m.display} {change.get_kind_display().lower()} {change.dose_after.normalize():f} {m.dose_unit}"
    return f"{m.display} {change.get_kind_display().lower()}"


def trends(responses: Sequence[Response], changes: Sequence[MedicationChange]) -> list[Trend]:
    every = instruments.all_instruments()
    by_instrument: dict[str, list[Response]] = {}
    for r in responses:
        if r.instrument in every and r.completed_at is not None and r.total is not None:
            by_instrument.setdefault(r.instrument, []).append(r)
    markers = [
        charts.Marker(
            datetime.datetime.combine(c.effective_on, datetime.time(12), tzinfo=datetime.UTC), marker_label(c)
        )
        for c in changes
    ]
    out = []
    for key, rows in sorted(by_instrument.items()):
        first = min(r.completed_at for r in rows if r.completed_at)
        points = sorted(
            (charts.Point(r.completed_at, r.total) for r in rows if r.completed_at and r.total is not None),
            key=lambda p: p.when,
        )
        svg = charts.trend_svg(every[key], points, [m for m in markers if m.when >= first - MARKER_LEAD])
        outcome = scoring.change(every[key], points[0].total, points[-1].total) if len(points) > 1 else None
        safe = mark_safe(svg)  # noqa: S308 - trend_svg escapes every text it draws
        out.append(Trend(every[key], rows, safe, outcome))
    return out
