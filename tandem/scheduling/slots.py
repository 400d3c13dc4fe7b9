"""Open slots, computed from a clinician's rules. Pure: no database, no clock.

Hours are wall-clock times in the clinician's zone; everything else is an
aware instant. A slot is a start instant whose whole visit, widened by the
buffer on both sides, clashes with no busy interval or time off, and whose
visit itself lies inside one block of hours.
"""

from __future__ import annotations

import bisect
import datetime
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

UTC = datetime.UTC
OVERLAP = "overlaps another appointment"
TOO_CLOSE = "too close to another appointment"


@dataclass(frozen=True)
class Hours:
    """One weekly block: ``weekday`` 0 is Monday; times are local wall-clock."""

    weekday: int
    start: datetime.time
    end: datetime.time
    valid_from: datetime.date = datetime.date.min
    valid_until: datetime.date | None = None

    def applies_on(self, day: datetime.date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_until is None or day <= self.valid_until)
        )


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime.datetime
    end: datetime.datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


def local_instant(day: datetime.date, at: datetime.time, zone: zoneinfo.ZoneInfo) -> datetime.datetime | None:
    """The instant a wall clock in ``zone`` shows ``at`` on ``day``; None when
    that time does not exist (the hour skipped in spring). In the repeated
    autumn hour, the first occurrence."""
    naive = datetime.datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return aware.astimezone(UTC) if back == naive else None


def _wall_times(start: datetime.time, end: datetime.time, step: int) -> Iterable[datetime.time]:
    minute = start.hour * 60 + start.minute
    last = end.hour * 60 + end.minute if end != datetime.time(0, 0) else 24 * 60
    while minute < last:
        yield datetime.time(minute // 60, minute % 60)
        minute += step


def _block(day: datetime.date, hours: Hours, zone: zoneinfo.ZoneInfo) -> Interval | None:
    start = local_instant(day, hours.start, zone)
    if start is None:  # hours that open inside the skipped hour open when the clock resumes
        start = datetime.datetime.combine(day, hours.start).replace(tzinfo=zone).astimezone(UTC)
    if hours.end == datetime.time(0, 0):
        end = local_instant(day + datetime.timedelta(days=1), hours.end, zone)
    else:
        end = local_instant(day, hours.end, zone)
    if end is None:
        end = datetime.datetime.combine(day, hours.end).replace(tzinfo=zone, fold=1).astimezone(UTC)
    return Interval(start, end) if start < end else None


def find_slots(
    *,
    hours: Sequence[Hours],
    zone: str,
    busy: Sequence[Interval],
    time_off: Sequence[Interval] = (),
    minutes: int,
    buffer: int = 0,
    window_start: datetime.datetime,
    window_end: datetime.datetime,
    step: int = 15,
    max_per_day: int | None = None,
    booked_per_day: Mapping[datetime.date, int] | None = None,
    limit: int | None = None,
) -> list[datetime.datetime]:
    """Start instants (UTC) of every open slot of ``minutes`` in the window, in order."""
    if minutes <= 0 or step <= 0:
        raise ValueError("minutes and step must be positive")
    tz = zoneinfo.ZoneInfo(zone)
    length = datetime.timedelta(minutes=minutes)
    pad = datetime.timedelta(minutes=buffer)
    blocked = sorted([*busy, *time_off])
    starts = [b.start for b in blocked]
    reach: list[datetime.datetime] = []  # reach[i]: the latest end among blocked[0..i]
    for b in blocked:
        reach.append(max(reach[-1], b.end) if reach else b.end)
    booked = booked_per_day or {}
    found: set[datetime.datetime] = set()
    day = window_start.astimezone(tz).date()
    last_day = window_end.astimezone(tz).date()
    while day <= last_day:
        if max_per_day is None or booked.get(day, 0) < max_per_day:
            for block_hours in hours:
                if not block_hours.applies_on(day):
                    continue
                block = _block(day, block_hours, tz)
                if block is None:
                    continue
                for wall in _wall_times(block_hours.start, block_hours.end, step):
                    start = local_instant(day, wall, tz)
                    if start is None:
                        continue
                    end = start + length
                    if start < block.start or end > block.end or start < window_start or end > window_end:
                        continue
                    if _clashes(start - pad, end + pad, starts, reach):
                        continue
                    found.add(start)
        day += datetime.timedelta(days=1)
    ordered = sorted(found)
    return ordered[:limit] if limit is not None else ordered


def _clashes(
    start: datetime.datetime,
    end: datetime.datetime,
    starts: list[datetime.datetime],
    reach: list[datetime.datetime],
) -> bool:
    """Whether [start, end) meets a blocked interval: among those starting
    before ``end``, does any end after ``start``? ``reach`` is the running
    latest end, so one binary search answers it."""
    k = bisect.bisect_left(starts, end)
    return k > 0 and reach[k - 1] > start


def fits(
    *,
    hours: Sequence[Hours],
    zone: str,
    busy: Sequence[Interval],
    time_off: Sequence[Interval] = (),
    start: datetime.datetime,
    end: datetime.datetime,
    buffer: int = 0,
    max_per_day: int | None = None,
    booked_on_day: int = 0,
) -> list[str]:
    """Why a visit from ``start`` to ``end`` does not fit (empty when it does)."""
    tz = zoneinfo.ZoneInfo(zone)
    day = start.astimezone(tz).date()
    reasons = []
    blocks = [b for h in hours if h.applies_on(day) and (b := _block(day, h, tz)) is not None]
    if not any(b.start <= start and end <= b.end for b in blocks):
        reasons.append("outside the clinician's hours")
    pad = datetime.timedelta(minutes=buffer)
    wanted = Interval(start - pad, end + pad)
    if any(wanted.overlaps(b) for b in busy):
        reasons.append(OVERLAP if any(Interval(start, end).overlaps(b) for b in busy) else TOO_CLOSE)
    if any(Interval(start, end).overlaps(t) for t in time_off):
        reasons.append("during time off")
    if max_per_day is not None and booked_on_day >= max_per_day:
        reasons.append(f"the clinician's day is full ({max_per_day} appointments)")
    return reasons
