"""Slots never overlap what is booked and never leave the hours, across DST
changes and zones (property tests), plus the DST days written out by hand."""

from __future__ import annotations

import datetime
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.scheduling.slots import Hours, Interval, find_slots, fits, local_instant

UTC = datetime.UTC
ZONES = ["America/Los_Angeles", "America/New_York", "America/Phoenix", "America/Denver", "Pacific/Honolulu", "UTC"]
# Windows around the 2026 US changes (March 8 and November 1) and an ordinary week.
ANCHORS = [datetime.date(2026, 3, 6), datetime.date(2026, 10, 30), datetime.date(2026, 6, 10)]


@st.composite
def hours_blocks(draw: st.DrawFn) -> list[Hours]:
    blocks = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, 22 * 4)) * 15
        end = draw(st.integers(start // 15 + 2, 24 * 4 - 1)) * 15
        blocks.append(
            Hours(
                weekday=draw(st.integers(0, 6)),
                start=datetime.time(start // 60, start % 60),
                end=datetime.time(end // 60, end % 60),
            )
        )
    return blocks


@st.composite
def busy_intervals(draw: st.DrawFn, origin: datetime.datetime) -> list[Interval]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        start = origin + datetime.timedelta(minutes=draw(st.integers(0, 5 * 24 * 60)))
        out.append(Interval(start, start + datetime.timedelta(minutes=draw(st.integers(5, 180)))))
    return out


def _inside_hours(slot: datetime.datetime, end: datetime.datetime, hours: list[Hours], zone: str) -> bool:
    tz = zoneinfo.ZoneInfo(zone)
    day = slot.astimezone(tz).date()
    for h in hours:
        if not h.applies_on(day):
            continue
        opens = local_instant(day, h.start, tz) or datetime.datetime.combine(day, h.start, tzinfo=tz)
        closes = local_instant(day, h.end, tz) or datetime.datetime.combine(day, h.end, tzinfo=tz).replace(fold=1)
        if opens <= slot and end <= closes:
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    anchor=st.sampled_from(ANCHORS),
    hours=hours_blocks(),
    minutes=st.sampled_from([15, 30, 50, 60]),
    buffer=st.sampled_from([0, 5, 10, 15]),
    data=st.data(),
)
def test_slots_never_clash_and_never_leave_the_hours(
    zone: str, anchor: datetime.date, hours: list[Hours], minutes: int, buffer: int, data: st.DataObject
) -> None:
    origin = datetime.datetime.combine(anchor, datetime.time(0), tzinfo=UTC)
    busy = data.draw(busy_intervals(origin))
    time_off = data.draw(busy_intervals(origin))[:2]
    end_window = origin + datetime.timedelta(days=5)
    found = find_slots(
        hours=hours,
        zone=zone,
        busy=busy,
        time_off=time_off,
        minutes=minutes,
        buffer=buffer,
        window_start=origin,
        window_end=end_window,
    )
    assert found == sorted(set(found))
    length = datetime.timedelta(minutes=minutes)
    pad = datetime.timedelta(minutes=buffer)
    for slot in found:
        end = slot + length
        assert origin <= slot and end <= end_window
        assert slot.utcoffset() == datetime.timedelta(0)
        assert not any(Interval(slot - pad, end + pad).overlaps(b) for b in busy)
        assert not any(Interval(slot, end).overlaps(t) for t in time_off)
        assert _inside_hours(slot, end, hours, zone)
        # The booking check agrees with the search.
        assert fits(hours=hours, zone=zone, busy=busy, time_off=time_off, start=slot, end=end, buffer=buffer) == []


def test_spring_forward_skips_the_missing_hour() -> None:
    # Sunday March 8, 2026 in Los Angeles: 02:00 jumps to 03:00.
    sunday = Hours(weekday=6, start=datetime.time(1), end=datetime.time(4))
    found = find_slots(
        hours=[sunday],
        zone="America/Los_Angeles",
        busy=[],
        minutes=60,
        step=30,
        window_start=datetime.datetime(2026, 3, 8, tzinfo=UTC),
        window_end=datetime.datetime(2026, 3, 9, tzinfo=UTC),
    )
    local = [s.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles")).strftime("%H:%M %Z") for s in found]
    # 01:00 PST to 04:00 PDT is two real hours.
    assert local == ["01:00 PST", "01:30 PST", "03:00 PDT"]


def test_fall_back_offers_the_repeated_hour_once() -> None:
    sunday = Hours(weekday=6, start=datetime.time(0, 30), end=datetime.time(3))
    found = find_slots(
        hours=[sunday],
        zone="America/Los_Angeles",
        busy=[],
        minutes=60,
        step=30,
        window_start=datetime.datetime(2026, 11, 1, tzinfo=UTC),
        window_end=datetime.datetime(2026, 11, 2, tzinfo=UTC),
    )
    assert [s.strftime("%H:%M") for s in found] == ["07:30", "08:00", "08:30", "10:00"]


def test_nine_oclock_stays_nine_oclock_across_the_change() -> None:
    monday = Hours(weekday=0, start=datetime.time(9), end=datetime.time(10))
    found = find_slots(
        hours=[monday],
        zone="America/New_York",
        busy=[],
        minutes=60,
        window_start=datetime.datetime(2026, 10, 26, tzinfo=UTC),
        window_end=datetime.datetime(2026, 11, 3, tzinfo=UTC),
    )
    # 9:00 EDT on Oct 26 is 13:00 UTC; 9:00 EST on Nov 2 is 14:00 UTC.
    assert found == [datetime.datetime(2026, 10, 26, 13, tzinfo=UTC), datetime.datetime(2026, 11, 2, 14, tzinfo=UTC)]


def test_fits_explains_itself() -> None:
    monday = Hours(weekday=0, start=datetime.time(9), end=datetime.time(12))
    start = datetime.datetime(2026, 6, 8, 16, tzinfo=UTC)  # 09:00 PDT
    visit = Interval(start, start + datetime.timedelta(minutes=50))
    busy = [Interval(start + datetime.timedelta(minutes=55), start + datetime.timedelta(minutes=85))]
    zone = "America/Los_Angeles"
    assert fits(hours=[monday], zone=zone, busy=busy, start=visit.start, end=visit.end, buffer=10) == [
        "too close to another appointment"
    ]
    assert fits(
        hours=[monday], zone=zone, busy=[], start=visit.start, end=visit.end, max_per_day=2, booked_on_day=2
    ) == ["the clinician's day is full (2 appointments)"]
    late = start + datetime.timedelta(hours=3)
    assert fits(hours=[monday], zone=zone, busy=[], start=late, end=late + datetime.timedelta(minutes=30)) == [
        "outside the clinician's hours"
    ]
