"""How long patients wait: access measures for referrals.

Three measures, each in days (fractions kept) from the moment the practice
submitted the referral:

* ``triage``: until a group triaged it (``triaged_at``);
* ``scheduling``: until a first visit was booked (``scheduled_at``);
* ``first_visit``: until the first visit began (the booked appointment's
  ``starts_at``), counted only for referrals whose first visit is completed.

Each is summarized by its count, median and 90th percentile, overall and by
the group that took the referral, by the referring practice and by urgency,
with a monthly series of the first-visit figures by month of submission.

Everything is read in one query, whatever the number of referrals, and
nothing here names a patient.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone

from tandem.access import policy
from tandem.referrals.models import URGENCY_ORDER, Referral, State, Urgency

if TYPE_CHECKING:
    pass

TRIAGE = "triage"
SCHEDULING = "scheduling"
FIRST_VISIT = "first_visit"
MEASURES: tuple[str, ...] = (TRIAGE, SCHEDULING, FIRST_VISIT)
MEASURE_LABELS = {
    TRIAGE: "Referral to triage",
    SCHEDULING: "Referral to scheduling",
    FIRST_VISIT: "Referral to first visit",
}
MONTHS = 12
NO_GROUP = "Not yet taken by a group"
SECONDS_PER_DAY = 86_400.0

# Who may see the measures: a practice's admins see its referrals; a
# psychiatric group's admins and coordinators see those of the practices it
# partners with. Clinicians do not: the figures are about the organization.
# Who sees the measures, and of which referrals, is the access policy's rule.
can_view_referral_metrics = policy.can_view_referral_metrics
referral_metrics_scope = policy.referral_metrics_scope


# --- Statistics ---------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0 <= q <= 1) of ``values``, or None when there are none.

    Method: linear interpolation between closest ranks, the definition used by
    spreadsheets' PERCENTILE.INC and NumPy's default. Sort the n values
    x[0] <= ... <= x[n-1]; take the fractional rank h = (n - 1) * q, with
    k = floor(h); the result is x[k] + (h - k) * (x[k+1] - x[k]) (just x[k]
    when k is the last rank). So the median of an even count is
    the mean of the middle two, and any quantile of a single value is that value.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    ordered = sorted(values)
    if not ordered:
        return None
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def _display(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class Summary:
    """How many durations there were, and their median and 90th percentile, in days."""

    n: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(n=len(values), median=percentile(values, 0.5), p90=percentile(values, 0.9))

    @property
    def median_display(self) -> str:
        return _display(self.median)

    @property
    def p90_display(self) -> str:
        return _display(self.p90)


@dataclass(frozen=True)
class Row:
    """One value of a breakdown (a group, a practice, an urgency, or everything),
    with its summary for each measure."""

    label: str
    referrals: int
    triage: Summary
    scheduling: Summary
    first_visit: Summary

    def summary(self, measure: str) -> Summary:
        if measure not in MEASURES:
            raise KeyError(measure)
        result: Summary = getattr(self, measure)
        return result

    @property
    def measures(self) -> list[tuple[str, str, Summary]]:
        """(measure, its label, its summary), in the order of ``MEASURES``."""
        return [(m, MEASURE_LABELS[m], self.summary(m)) for m in MEASURES]


@dataclass(frozen=True)
class MonthPoint:
    """Days to first visit of the referrals submitted in one month."""

    month: datetime.date  # the first of the month, in the viewer's time zone
    first_visit: Summary

    @property
    def label(self) -> str:
        return self.month.strftime("%b %Y")

    @property
    def key(self) -> str:
        return self.month.strftime("%Y-%m")


@dataclass(frozen=True)
class Breakdown:
    dimension: str  # "group", "practice" or "urgency"
    title: str
    rows: list[Row]


@dataclass(frozen=True)
class AccessMetrics:
    overall: Row
    breakdowns: list[Breakdown]
    monthly: list[MonthPoint]
    now: datetime.datetime
    zone: str = field(default="UTC")

    @property
    def is_empty(self) -> bool:
        return self.overall.referrals == 0

    def breakdown(self, dimension: str) -> Breakdown:
        return next(b for b in self.breakdowns if b.dimension == dimension)

    @property
    def has_monthly_data(self) -> bool:
        return any(p.first_visit.n for p in self.monthly)


# --- Reading and computing ----------------------------------------------------------------------


@dataclass
class _Durations:
    referrals: int = 0
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MEASURES})

    def add(self, durations: dict[str, float]) -> None:
        self.referrals += 1
        for measure, days in durations.items():
            self.values[measure].append(days)

    def row(self, label: str) -> Row:
        return Row(
            label=label,
            referrals=self.referrals,
            triage=Summary.of(self.values[TRIAGE]),
            scheduling=Summary.of(self.values[SCHEDULING]),
            first_visit=Summary.of(self.values[FIRST_VISIT]),
        )


def _days(start: datetime.datetime, end: datetime.datetime | None) -> float | None:
    """Days from start to end, or None when end is missing or (a data error)
    before the start: such a value would only pull the figures down."""
    if end is None:
        return None
    seconds = (end - start).total_seconds()
    return seconds / SECONDS_PER_DAY if seconds >= 0 else None


def _first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _months_back(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + (month.month - 1) - count
    return datetime.date(index // 12, index % 12 + 1, 1)


_COLUMNS = (
    "submitted_at",
    "triaged_at",
    "scheduled_at",
    "completed_at",
    "status",
    "urgency",
    "practice_id",
    "practice__name",
    "group_id",
    "group__name",
    "appointment__starts_at",
)


def compute(
    scope: QuerySet[Referral],
    *,
    now: datetime.datetime | None = None,
    tz: datetime.tzinfo | None = None,
) -> AccessMetrics:
    """The access measures of the submitted referrals in ``scope``.

    ``scope`` is the referrals the viewer may see (``referral_metrics_scope``).
    The monthly series covers the ``MONTHS`` calendar months ending with the
    one holding ``now``, months being those of ``tz`` (the current time zone
    by default). One query.
    """
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    rows = scope.filter(submitted_at__isnull=False).order_by("pk").values_list(*_COLUMNS)

    overall = _Durations()
    by_group: dict[int | None, _Durations] = defaultdict(_Durations)
    by_practice: dict[int, _Durations] = defaultdict(_Durations)
    by_urgency: dict[str, _Durations] = defaultdict(_Durations)
    group_names: dict[int | None, str] = {None: NO_GROUP}
    practice_names: dict[int, str] = {}
    this_month = _first_of_month(now.astimezone(tz).date())
    first_month = _months_back(this_month, MONTHS - 1)
    monthly: dict[datetime.date, list[float]] = {_months_back(this_month, i): [] for i in range(MONTHS)}

    for (
        submitted_at,
        triaged_at,
        scheduled_at,
        completed_at,
        status,
        urgency,
        practice_id,
        practice_name,
        group_id,
        group_name,
        visit_at,
    ) in rows:
        durations: dict[str, float] = {}
        triage = _days(submitted_at, triaged_at)
        if triage is not None:
            durations[TRIAGE] = triage
        scheduling = _days(submitted_at, scheduled_at)
        if scheduling is not None:
            durations[SCHEDULING] = scheduling
        first_visit = _days(submitted_at, visit_at) if status == State.COMPLETED and completed_at is not None else None
        if first_visit is not None:
            durations[FIRST_VISIT] = first_visit
            month = _first_of_month(submitted_at.astimezone(tz).date())
            if first_month <= month <= this_month:
                monthly[month].append(first_visit)

        overall.add(durations)
        by_group[group_id].add(durations)
        by_practice[practice_id].add(durations)
        by_urgency[urgency].add(durations)
        if group_id is not None:
            group_names[group_id] = group_name
        practice_names[practice_id] = practice_name

    def named(buckets: Mapping[Any, _Durations], names: Mapping[Any, str]) -> list[Row]:
        # Organizations by name; referrals no group has taken yet come last.
        ordered = sorted(buckets.items(), key=lambda kv: (kv[0] is None, names[kv[0]].casefold(), kv[0] or 0))
        return [d.row(names[key]) for key, d in ordered]

    urgency_rows = [
        by_urgency[u].row(str(Urgency(u).label))
        for u in sorted(by_urgency, key=lambda u: URGENCY_ORDER.get(Urgency(u), len(URGENCY_ORDER)))
    ]
    return AccessMetrics(
        overall=overall.row("All referrals"),
        breakdowns=[
            Breakdown("group", "By group", named(by_group, group_names)),
            Breakdown("practice", "By practice", named(by_practice, practice_names)),
            Breakdown("urgency", "By urgency", urgency_rows),
        ],
        monthly=[MonthPoint(month, Summary.of(values)) for month, values in sorted(monthly.items())],
        now=now,
        zone=str(getattr(tz, "key", tz)),
    )
