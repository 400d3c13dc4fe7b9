"""Referral access over a year: Tandem's matching across a partner group, against
fixed pairings of practices and psychiatrists, with the same prescribers.

    python bench/referrals.py [--days 365] [--prescribers 6] [--practices 6] [--utilisation 0.9] [--seed 1]

A seeded generator builds one psychiatric group (prescribers with licences,
payer enrollments, languages, weekly hours for new-patient evaluations and
weeks off) and a year of referrals from practices in several states (Poisson
arrivals on business days, unequal between practices, with seasons). The same
referrals, in arrival order, then go through two arms:

* baseline: each practice refers to one fixed prescriber of the group, who
  books the referral into their first open evaluation slot (first come, first
  served; no urgency, payer or preference is looked at);
* Tandem: each referral is ranked across every prescriber of the group with
  ``tandem.referrals.matching.rank`` and booked into the best offer's slot.

Both arms compute open slots with ``tandem.scheduling.slots.find_slots`` from
the same hours, weeks off and bookings, so capacity is identical. The report
gives days from referral to first visit (n, median, p90) for each arm, their
ratios, figures per urgency and per practice, an audit of every booking
against the eligibility engine, the wall time of each arm and the peak memory.
No database is used; Django is set up only because the eligibility engine
imports the credential models.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import datetime
import itertools
import json
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import _peak_rss_mib, _setup_django
from bench.manifest import RESULTS_DIR, tandem_env
from tandem.scheduling.slots import Hours, Interval, find_slots

if TYPE_CHECKING:
    from tandem.credentials.eligibility import Credentials
    from tandem.credentials.rules import Rules

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
EVALUATION_MINUTES = 60
# Evaluations start on the hour (find_slots' ``step``): blocks open on the hour,
# so a block of n hours holds exactly n, and a start picked just after the lead
# time cannot strand part of a block.
VISIT = datetime.timedelta(minutes=EVALUATION_MINUTES)
BASELINE_CHUNK = datetime.timedelta(days=28)  # how far the baseline looks at a time
PAIRINGS_TRIED = 200_000
TAIL_DAYS = 365  # hours and weeks off continue this long after the last referral

# The group's states, and where a patient may be instead of the practice's own
# state (neighbours; some of them the group does not cover).
STATES = ["OR", "WA", "ID", "CA", "CO"]
NEIGHBOURS = {
    "OR": ["WA", "CA", "ID", "NV"],
    "WA": ["OR", "ID"],
    "ID": ["OR", "WA", "UT", "MT"],
    "CA": ["OR", "NV", "AZ"],
    "CO": ["UT", "NM", "WY"],
}
OUT_OF_STATE = 0.03  # share of patients located in a neighbouring state for their visits
# (code, name, share of referrals); "" is self-pay, which needs no enrollment.
PAYERS = [
    ("cascade", "Cascade Health Plan", 0.30),
    ("summit", "Summit Mutual", 0.22),
    ("medicaid", "State Medicaid", 0.25),
    ("medicare", "Medicare", 0.10),
    ("", "Self-pay", 0.13),
]
ENROLLED_PER_STATE = 3  # of the four payers, per licensed state
URGENCY = [("urgent", 0.15), ("soon", 0.30), ("routine", 0.55)]
# Patients' language preferences (the rest: any clinician will do).
LANGUAGES = [("es", "Spanish", 0.08), ("vi", "Vietnamese", 0.015), ("ru", "Russian", 0.01)]
SPEAKS = [("es", 0.35), ("vi", 0.10)]  # chance that a prescriber lists it
TIME_PREFERENCE = 0.20  # share of patients with a preferred part of the day
TIMES = [("morning", 0.5), ("afternoon", 0.35), ("evening", 0.15)]
# Referral volume by month and by weekday, relative (normalised below). Assumed:
# a summer and December dip, busier autumns and Januaries, heavier Mondays.
SEASON = {1: 1.10, 2: 1.05, 3: 1.05, 4: 1.00, 5: 1.00, 6: 0.90, 7: 0.85, 8: 0.90, 9: 1.10, 10: 1.10, 11: 1.00, 12: 0.85}
WEEKDAY = {0: 1.20, 1: 1.05, 2: 1.00, 3: 0.95, 4: 0.80}
NAMES = [
    "Ada Moreno",
    "Ben Okafor",
    "Clara Nguyen",
    "Dev Raman",
    "Elena Fischer",
    "Farid Haddad",
    "Grace Tanaka",
    "Hugo Lindqvist",
    "Iris Bello",
    "Jonas Weber",
    "Kemi Adeyemi",
    "Lena Kowalski",
]


@dataclass
class Prescriber:
    id: int
    name: str
    licence_type: str  # "MD" or "NP"
    home: str
    zone: str
    licensed: list[str]
    enrolled: dict[str, list[str]]  # state -> payer codes
    languages: frozenset[str]
    hours: list[Hours]
    time_off: list[Interval]
    capacity: int = 0  # evaluation slots over the referral year, after weeks off
    lapse: tuple[str, str, datetime.date] | None = None  # an enrollment that ends: (state, payer, last day)


@dataclass
class Practice:
    id: int
    name: str
    state: str
    weight: float
    baseline_prescriber: int = -1
    expected: float = 0.0  # referrals expected over the year


@dataclass(frozen=True)
class Referral:
    id: int
    practice: int
    arrival: datetime.datetime
    state: str
    payer: str
    payer_name: str
    urgency: str
    language: str
    language_label: str
    times_of_day: frozenset[str]


@dataclass
class Calendar:
    """One prescriber's evaluation hours and what is booked, in one arm.

    Open slots come from ``find_slots``, one local day at a time, kept until
    something is booked that day: no block of hours reaches midnight and there
    is no buffer, so a day's slots depend on that day's bookings alone.
    ``frontier``: no slot starting before it (and at or after the last search's
    start) is open. Bookings only ever take slots and searches only move
    forward in time, so every search can start there.
    """

    hours: list[Hours]
    zone: str
    time_off: list[Interval]
    booked: list[datetime.datetime] = field(default_factory=list)  # visit starts, sorted
    frontier: datetime.datetime = EPOCH
    days: dict[datetime.date, list[datetime.datetime]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tz = zoneinfo.ZoneInfo(self.zone)

    def _open_on(self, day: datetime.date) -> list[datetime.datetime]:
        if day not in self.days:
            start, end = _local(day, 0, self.zone), _local(day + DAY, 0, self.zone)
            # Only what can clash with the day is passed in, so a year of
            # bookings costs no more than a day of them.
            lo = bisect.bisect_left(self.booked, start - VISIT)
            hi = bisect.bisect_left(self.booked, end)
            self.days[day] = find_slots(
                hours=self.hours,
                zone=self.zone,
                busy=[Interval(s, s + VISIT) for s in self.booked[lo:hi]],
                time_off=[t for t in self.time_off if t.start < end and start < t.end],
                minutes=EVALUATION_MINUTES,
                step=EVALUATION_MINUTES,
                window_start=start,
                window_end=end,
            )
        return self.days[day]

    def open_slots(self, start: datetime.datetime, end: datetime.datetime) -> list[datetime.datetime]:
        start = max(start, self.frontier)
        if start + VISIT > end:
            return []
        found: list[datetime.datetime] = []
        day, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        while day <= last:
            found += [s for s in self._open_on(day) if start <= s and s + VISIT <= end]
            day += DAY
        self.frontier = found[0] if found else end - VISIT
        return found

    def first_open(self, earliest: datetime.datetime) -> datetime.datetime:
        while True:
            start = max(earliest, self.frontier)
            if start - earliest > datetime.timedelta(days=10 * 365):
                raise RuntimeError("no open evaluation slot within ten years")
            found = self.open_slots(start, start + BASELINE_CHUNK)
            if found:
                return found[0]

    def book(self, at: datetime.datetime) -> None:
        bisect.insort(self.booked, at)
        self.days.pop(at.astimezone(self.tz).date(), None)


def _pick(rng: random.Random, options: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """One of ``options``, weighted by each one's last element."""
    return rng.choices(list(options), weights=[o[-1] for o in options])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small daily means here.
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _local(day: datetime.date, hour: float, zone: str) -> datetime.datetime:
    wall = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(hours=hour)
    return wall.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


def _weekly_hours(rng: random.Random) -> list[Hours]:
    """Two to four daytime blocks of 2-4 hours on different weekdays; a third of
    prescribers also keep an evening clinic, 17:00-20:00, on another weekday."""
    days = sorted(rng.sample(range(5), rng.randint(2, 4)))
    hours = []
    for weekday in days:
        opens = rng.choice([8, 9, 10, 13, 14])
        hours.append(Hours(weekday, datetime.time(opens), datetime.time(opens + rng.choice([2, 3, 3, 4]))))
    free = [d for d in range(5) if d not in days]
    if free and rng.random() < 0.35:
        hours.append(Hours(rng.choice(free), datetime.time(17), datetime.time(20)))
    return hours


def build_group(
    rng: random.Random, count: int, practice_states: list[str], start: datetime.datetime, span_days: int, args: Any
) -> list[Prescriber]:
    from tandem.credentials.rules import current

    rules = current()
    people = []
    for i in range(count):
        home = STATES[i % len(STATES)]
        others = [s for s in STATES if s != home]
        licensed = [home, *rng.sample(others, rng.randint(1, 3))]
        languages = {"en"} | {code for code, chance in SPEAKS if rng.random() < chance}
        weeks = span_days // 7
        off_weeks = sorted(
            w
            for year in range(0, weeks, 52)
            for w in rng.sample(range(year, min(year + 52, weeks)), min(args.weeks_off, min(52, weeks - year)))
        )
        zone = str(rules.zone(home).key)
        monday = start.date() - datetime.timedelta(days=start.date().weekday())
        time_off = [
            Interval(
                _local(monday + datetime.timedelta(weeks=w), 0, zone),
                _local(monday + datetime.timedelta(weeks=w + 1), 0, zone),
            )
            for w in off_weeks
        ]
        name = NAMES[i % len(NAMES)] + (f" {i // len(NAMES) + 1}" if i >= len(NAMES) else "")
        people.append(
            Prescriber(
                id=i + 1,
                name=name,
                licence_type="MD" if rng.random() < 0.55 else "NP",
                home=home,
                zone=zone,
                licensed=licensed,
                enrolled={
                    s: sorted(rng.sample([code for code, _n, _w in PAYERS if code], ENROLLED_PER_STATE))
                    for s in licensed
                },
                languages=frozenset(languages),
                hours=_weekly_hours(rng),
                time_off=time_off,
            )
        )
    if count >= 3 and not any("es" in p.languages for p in people):
        people[1].languages = people[1].languages | {"es"}
    # The group covers every referring practice's state, and every payer there.
    for state in sorted(set(practice_states)):
        if not any(state in p.licensed for p in people):
            fewest = min(people, key=lambda p: (len(p.licensed), p.id))
            fewest.licensed.append(state)
            fewest.enrolled[state] = sorted(rng.sample([c for c, _n, _w in PAYERS if c], ENROLLED_PER_STATE))
        for code, _name, _share in PAYERS:
            if code and not any(code in p.enrolled.get(state, []) for p in people):
                rng.choice([p for p in people if state in p.licensed]).enrolled[state].append(code)
    # One contract ends mid-year: the first prescriber's enrollment with the
    # most common plan in their home state, when someone else there keeps it.
    if args.lapse:
        first = people[0]
        code = PAYERS[0][0]
        kept = any(code in p.enrolled.get(first.home, []) for p in people[1:])
        if code in first.enrolled[first.home] and kept:
            first.lapse = (first.home, code, start.date() + datetime.timedelta(days=args.days // 2))
    return people


def credentials_of(p: Prescriber, start: datetime.datetime) -> Credentials:
    from tandem.credentials.eligibility import Credentials, Fact

    issued = start.date() - datetime.timedelta(days=3 * 365)
    expires = start.date() + datetime.timedelta(days=4 * 365)
    facts = {
        Fact("licence", s, "active", issued, expires, subtype=p.licence_type, number=f"{s}-{p.id:04d}")
        for s in p.licensed
    }
    for state, codes in p.enrolled.items():
        for code in codes:
            ends = p.lapse[2] if p.lapse and p.lapse[:2] == (state, code) else None
            facts.add(Fact("enrollment", state, "active", issued, ends, subtype=code))
    discipline = "psychiatrist" if p.licence_type == "MD" else "pmhnp"
    return Credentials(discipline=discipline, facts=frozenset(facts))


def build_practices(rng: random.Random, count: int, spread: float) -> list[Practice]:
    """Practices in the group's states in turn. Their volumes fall geometrically
    from the busiest to the quietest, which sends ``spread`` times the busiest's
    referrals; shuffled, so which state is busiest varies with the seed."""
    weights = [spread ** (k / max(count - 1, 1)) for k in range(count)]
    rng.shuffle(weights)
    total = sum(weights)
    return [
        Practice(
            id=j + 1,
            name=f"Practice {j + 1} ({STATES[j % len(STATES)]})",
            state=STATES[j % len(STATES)],
            weight=w / total,
        )
        for j, w in enumerate(weights)
    ]


def capacity(p: Prescriber, start: datetime.datetime, end: datetime.datetime) -> int:
    """Evaluations that fit in the year: with starts on the hour, one per hour of hours."""
    return len(
        find_slots(
            hours=p.hours,
            zone=p.zone,
            busy=[],
            time_off=p.time_off,
            minutes=EVALUATION_MINUTES,
            step=EVALUATION_MINUTES,
            window_start=start,
            window_end=end,
        )
    )


def _loads(practices: list[Practice], choice: Sequence[Prescriber], people: list[Prescriber]) -> list[float]:
    """Every prescriber's expected load (referrals over evaluations) under a pairing, highest first."""
    load = dict.fromkeys((p.id for p in people), 0.0)
    for practice, p in zip(practices, choice, strict=True):
        load[p.id] += practice.expected / max(p.capacity, 1)
    return sorted(load.values(), reverse=True)


def assign_baseline(practices: list[Practice], people: list[Prescriber]) -> str:
    """The strongest fixed pairing: each practice to a prescriber licensed in
    its state, choosing the pairing whose busiest prescriber has the lowest
    expected load, then the second busiest, and so on (so no one sits idle
    while another carries two practices, unless that is better for all).
    Every pairing is tried when there are at most ``PAIRINGS_TRIED`` of them;
    otherwise the busiest practice goes first, each to the prescriber whose
    load stays lowest."""
    options = [[p for p in people if practice.state in p.licensed] for practice in practices]
    if math.prod(len(o) for o in options) <= PAIRINGS_TRIED:
        best = min(itertools.product(*options), key=lambda choice: _loads(practices, choice, people))
        for practice, p in zip(practices, best, strict=True):
            practice.baseline_prescriber = p.id
        return "exhaustive"
    load: defaultdict[int, float] = defaultdict(float)
    for practice in sorted(practices, key=lambda pr: (-pr.expected, pr.id)):
        licensed = [p for p in people if practice.state in p.licensed]
        chosen = min(licensed, key=lambda p: ((load[p.id] + practice.expected) / max(p.capacity, 1), p.id))
        practice.baseline_prescriber = chosen.id
        load[chosen.id] += practice.expected
    return "greedy"


def generate_referrals(
    rng: random.Random, practices: list[Practice], start: datetime.datetime, days: int, demand: float
) -> list[Referral]:
    """Poisson arrivals per practice and business day, 08:00-17:00 at the practice."""
    from tandem.credentials.rules import current

    rules = current()
    business = [start.date() + datetime.timedelta(days=d) for d in range(days)]
    business = [d for d in business if d.weekday() < 5]
    scale = demand / sum(SEASON[d.month] * WEEKDAY[d.weekday()] for d in business)
    arrivals: list[tuple[datetime.datetime, int]] = []
    for day in business:
        factor = scale * SEASON[day.month] * WEEKDAY[day.weekday()]
        for practice in practices:
            zone = str(rules.zone(practice.state).key)
            for _ in range(_poisson(rng, factor * practice.weight)):
                arrivals.append((_local(day, rng.uniform(8, 17), zone), practice.id))
    arrivals.sort()
    by_id = {p.id: p for p in practices}
    referrals = []
    for n, (at, practice_id) in enumerate(arrivals, start=1):
        home = by_id[practice_id].state
        state = rng.choice(NEIGHBOURS[home]) if rng.random() < OUT_OF_STATE else home
        payer, payer_name, _ = _pick(rng, PAYERS)
        language, label = "", ""
        roll = rng.random()
        for code, name, share in LANGUAGES:
            if roll < share:
                language, label = code, name
                break
            roll -= share
        times = frozenset({_pick(rng, TIMES)[0]}) if rng.random() < TIME_PREFERENCE else frozenset()
        referrals.append(
            Referral(
                id=n,
                practice=practice_id,
                arrival=at,
                state=state,
                payer=payer,
                payer_name=payer_name,
                urgency=_pick(rng, URGENCY)[0],
                language=language,
                language_label=label,
                times_of_day=times,
            )
        )
    return referrals


def run_baseline(
    referrals: list[Referral], practices: list[Practice], people: list[Prescriber], lead: datetime.timedelta
) -> dict[int, tuple[int, datetime.datetime]]:
    calendars = {p.id: Calendar(p.hours, p.zone, p.time_off) for p in people}
    pairing = {pr.id: pr.baseline_prescriber for pr in practices}
    booked = {}
    for r in referrals:
        prescriber = pairing[r.practice]
        cal = calendars[prescriber]
        slot = cal.first_open(r.arrival + lead)
        cal.book(slot)
        booked[r.id] = (prescriber, slot)
    return booked


def run_tandem(
    referrals: list[Referral],
    people: list[Prescriber],
    creds: dict[int, Credentials],
    lead: datetime.timedelta,
    search_days: int,
    rules: Rules,
    *,
    any_payer: bool = False,
) -> tuple[dict[int, tuple[int, datetime.datetime]], dict[str, int]]:
    """Every referral, at arrival, ranked across the whole group by ``matching.rank``.

    As ``services.match`` does, calendars are read only for prescribers who
    pass ``matching.screen``. When no one has an opening within
    ``search_days``, the window grows by as much again until someone has.
    ``any_payer`` (a what-if) matches every referral as self-pay, so payer
    enrollment is not required, as in the baseline.
    """
    from tandem.referrals import matching

    calendars = {p.id: Calendar(p.hours, p.zone, p.time_off) for p in people}
    candidates = [
        matching.Candidate(
            clinician_id=p.id,
            name=p.name,
            group_id=1,
            group_name="the partner group",
            credentials=creds[p.id],
            languages=p.languages,
        )
        for p in people
    ]
    booked: dict[int, tuple[int, datetime.datetime]] = {}
    counts: Counter[str] = Counter()
    limit = datetime.timedelta(days=10 * 365)
    for r in referrals:
        request = matching.Request(
            state=r.state,
            payer_code="" if any_payer else r.payer,
            payer_name="" if any_payer else r.payer_name,
            at=r.arrival,
            preferences=matching.Preferences(
                language=r.language,
                language_label=r.language_label,
                times_of_day=r.times_of_day,
                zone=str(rules.zone(r.state).key) if r.state in rules.state_time_zones else "UTC",
            ),
            search_days=search_days,
        )
        screened = {c.clinician_id: matching.screen(request, c, rules)[1] for c in candidates}
        eligible = {cid for cid, reasons in screened.items() if not reasons}
        if not eligible:
            counts["unmatched"] += 1
            licensed = any(all(x.code == "not_enrolled" for x in reasons) for reasons in screened.values())
            counts["unmatched_not_enrolled" if licensed else "unmatched_not_licensed"] += 1
            continue
        days = search_days
        while True:
            end = r.arrival + datetime.timedelta(days=days)
            offered = [
                dataclasses.replace(c, slots=tuple(calendars[c.clinician_id].open_slots(r.arrival + lead, end)))
                if c.clinician_id in eligible
                else c
                for c in candidates
            ]
            counts["rank_calls"] += 1
            best = matching.rank(dataclasses.replace(request, search_days=days), offered, rules=rules).best
            if best is not None:
                break
            counts["window_extensions"] += 1
            days += search_days
            if datetime.timedelta(days=days) > limit:
                raise RuntimeError(f"referral {r.id}: no opening within ten years")
        if days > search_days:
            counts["referrals_needing_a_longer_window"] += 1
        calendars[best.candidate.clinician_id].book(best.starts_at)
        booked[r.id] = (best.candidate.clinician_id, best.starts_at)
    return booked, dict(counts)


def why_not(creds: Credentials, state: str, payer: str, at: datetime.datetime, rules: Rules) -> str:
    """The audit, apart from ``matching``: "" when the eligibility engine lets
    the prescriber see the patient by video and an enrollment with the payer
    is in force, read straight from the credentials (self-pay needs none);
    otherwise "not_licensed" or "not_enrolled"."""
    from tandem.credentials.eligibility import Action, decide

    if not decide(creds, state=state, at=at, action=Action.SEE, rules=rules).allowed:
        return "not_licensed"
    if not payer:
        return ""
    day = at.astimezone(rules.zone(state)).date()
    enrolled = any(
        f.kind == "enrollment"
        and f.state == state
        and f.subtype == payer
        and f.status == "active"
        and (f.issued_on is None or f.issued_on <= day)
        and (f.expires_on is None or day <= f.expires_on)
        for f in creds.facts
    )
    return "" if enrolled else "not_enrolled"


def summary(days: list[float]) -> dict[str, Any]:
    """Median and p90 by linear interpolation between order statistics
    (``statistics.quantiles`` with ``method="inclusive"``, NumPy's default)."""
    if not days:
        return {"n": 0, "median_days": None, "p90_days": None, "mean_days": None, "max_days": None}
    p90 = statistics.quantiles(days, n=10, method="inclusive")[8] if len(days) > 1 else days[0]
    return {
        "n": len(days),
        "median_days": round(statistics.median(days), 3),
        "p90_days": round(p90, 3),
        "mean_days": round(statistics.fmean(days), 3),
        "max_days": round(max(days), 3),
    }


def arm_report(
    referrals: list[Referral], booked: dict[int, tuple[int, datetime.datetime]], practices: list[Practice]
) -> dict[str, Any]:
    waits: dict[int, float] = {
        r.id: (booked[r.id][1] - r.arrival).total_seconds() / 86400 for r in referrals if r.id in booked
    }
    by_urgency: dict[str, list[float]] = defaultdict(list)
    by_practice: dict[int, list[float]] = defaultdict(list)
    by_preference: dict[str, list[float]] = defaultdict(list)
    for r in referrals:
        if r.id in waits:
            by_urgency[r.urgency].append(waits[r.id])
            by_practice[r.practice].append(waits[r.id])
            if r.language:
                by_preference["language"].append(waits[r.id])
            if r.times_of_day:
                by_preference["time_of_day"].append(waits[r.id])
            if not r.language and not r.times_of_day:
                by_preference["none"].append(waits[r.id])
    return {
        **summary(list(waits.values())),
        "by_urgency": {u: summary(by_urgency[u]) for u, _ in URGENCY},
        "by_practice": {pr.name: summary(by_practice[pr.id]) for pr in practices},
        "by_preference": {k: summary(by_preference[k]) for k in ("none", "language", "time_of_day")},
        "bookings_per_prescriber": dict(sorted(Counter(p for p, _ in booked.values()).items())),
    }


def _ratio(tandem: float | None, baseline: float | None) -> float | None:
    return round(tandem / baseline, 4) if tandem is not None and baseline else None


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    from tandem.credentials.rules import current

    rules = current()
    rng = random.Random(args.seed)
    start = datetime.datetime.combine(args.start, datetime.time(), tzinfo=UTC)
    end = start + datetime.timedelta(days=args.days)
    span = args.days + TAIL_DAYS
    practices = build_practices(rng, args.practices, args.spread)
    people = build_group(rng, args.prescribers, [pr.state for pr in practices], start, span, args)
    creds = {p.id: credentials_of(p, start) for p in people}
    for p in people:
        p.capacity = capacity(p, start, end)
    total_capacity = sum(p.capacity for p in people)
    demand = args.utilisation * total_capacity
    for pr in practices:
        pr.expected = demand * pr.weight
    pairing = assign_baseline(practices, people)
    referrals = generate_referrals(rng, practices, start, args.days, demand)
    lead = datetime.timedelta(hours=args.lead_hours)
    rss_before = _peak_rss_mib()

    t0 = time.perf_counter()
    baseline = run_baseline(referrals, practices, people, lead)
    baseline_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    tandem, counts = run_tandem(referrals, people, creds, lead, args.search_days, rules)
    tandem_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    any_payer, any_counts = run_tandem(referrals, people, creds, lead, args.search_days, rules, any_payer=True)
    any_payer_seconds = time.perf_counter() - t0

    by_id = {r.id: r for r in referrals}

    def ineligible(booked: dict[int, tuple[int, datetime.datetime]], at_visit: bool) -> Counter[str]:
        return Counter(
            why
            for rid, (p, slot) in booked.items()
            if (
                why := why_not(
                    creds[p], by_id[rid].state, by_id[rid].payer, slot if at_visit else by_id[rid].arrival, rules
                )
            )
        )

    tandem_at_match, tandem_at_visit = ineligible(tandem, False), ineligible(tandem, True)
    baseline_at_visit = ineligible(baseline, True)
    same = [r for r in referrals if r.id in tandem]
    baseline_same = summary([(baseline[r.id][1] - r.arrival).total_seconds() / 86400 for r in same])

    base_report = arm_report(referrals, baseline, practices)
    tandem_report = arm_report(referrals, tandem, practices)
    base_report["seconds"] = round(baseline_seconds, 3)
    tandem_report["seconds"] = round(tandem_seconds, 3)
    tandem_report["unmatched"] = counts.get("unmatched", 0)
    tandem_report["unmatched_not_licensed"] = counts.get("unmatched_not_licensed", 0)
    tandem_report["unmatched_not_enrolled"] = counts.get("unmatched_not_enrolled", 0)
    tandem_report["rank_calls"] = counts.get("rank_calls", 0)
    tandem_report["window_extensions"] = counts.get("window_extensions", 0)
    tandem_report["referrals_needing_a_longer_window"] = counts.get("referrals_needing_a_longer_window", 0)
    any_report = arm_report(referrals, any_payer, practices)
    any_report["seconds"] = round(any_payer_seconds, 3)
    any_report["unmatched"] = any_counts.get("unmatched", 0)
    loads: defaultdict[int, float] = defaultdict(float)
    for pr in practices:
        loads[pr.baseline_prescriber] += pr.expected
    lapse = next((p for p in people if p.lapse), None)
    return {
        "scenario": {
            "seed": args.seed,
            "start": start.isoformat(),
            "days": args.days,
            "utilisation_target": args.utilisation,
            "practice_spread": args.spread,
            "capacity_evaluations": total_capacity,
            "referrals": len(referrals),
            "utilisation_realised": round(len(referrals) / total_capacity, 3) if total_capacity else None,
            "evaluation_minutes": EVALUATION_MINUTES,
            "lead_hours": args.lead_hours,
            "search_days": args.search_days,
            "baseline_pairing": pairing,
            "percentile_method": "linear interpolation between order statistics (statistics.quantiles, inclusive)",
            "enrollment_ending": (
                {
                    "prescriber": lapse.name,
                    "state": lapse.lapse[0],
                    "payer": lapse.lapse[1],
                    "last_day": str(lapse.lapse[2]),
                }
                if lapse and lapse.lapse
                else None
            ),
            "prescribers": [
                {
                    "id": p.id,
                    "name": p.name,
                    "licence": p.licence_type,
                    "zone": p.zone,
                    "licensed": sorted(p.licensed),
                    "enrolled": {s: sorted(c) for s, c in sorted(p.enrolled.items())},
                    "languages": sorted(p.languages),
                    "weekly_hours": [f"{WEEKDAYS[h.weekday]} {h.start:%H:%M}-{h.end:%H:%M}" for h in p.hours],
                    "weeks_off_in_year": sum(1 for t in p.time_off if start <= t.start < end),
                    "capacity_evaluations": p.capacity,
                    "baseline_expected_load": round(loads[p.id] / p.capacity, 3) if p.capacity else None,
                }
                for p in people
            ],
            "practices": [
                {
                    "name": pr.name,
                    "state": pr.state,
                    "share_of_referrals": round(pr.weight, 3),
                    "referrals": sum(1 for r in referrals if r.practice == pr.id),
                    "baseline_prescriber": pr.baseline_prescriber,
                }
                for pr in practices
            ],
        },
        "arms": {"baseline": base_report, "tandem": tandem_report},
        # Not an arm of the comparison: Tandem's matching with payer enrollment
        # left out, to tell what pooling does from what enforcing enrollment costs.
        "what_if_tandem_any_payer": {
            **any_report,
            "ratios": {
                "median": _ratio(any_report["median_days"], base_report["median_days"]),
                "p90": _ratio(any_report["p90_days"], base_report["p90_days"]),
            },
        },
        "ratios": {
            "median": _ratio(tandem_report["median_days"], base_report["median_days"]),
            "p90": _ratio(tandem_report["p90_days"], base_report["p90_days"]),
        },
        # The baseline on exactly the referrals Tandem booked (it also books the unmatched).
        "same_referrals": {
            "baseline": baseline_same,
            "ratios": {
                "median": _ratio(tandem_report["median_days"], baseline_same["median_days"]),
                "p90": _ratio(tandem_report["p90_days"], baseline_same["p90_days"]),
            },
        },
        "audit": {
            # What rank promises: licensed and enrolled when the match is made.
            "tandem_ineligible_bookings": sum(tandem_at_match.values()),
            # What booking checks for licensing (and, here, enrolment too): the visit itself.
            "tandem_ineligible_at_visit": sum(tandem_at_visit.values()),
            "tandem_ineligible_at_visit_by_cause": dict(sorted(tandem_at_visit.items())),
            # The baseline looks at neither.
            "baseline_ineligible_at_visit": sum(baseline_at_visit.values()),
            "baseline_ineligible_at_visit_by_cause": dict(sorted(baseline_at_visit.items())),
        },
        "peak_rss_before_arms_mib": rss_before,
    }


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    scenario, arms, ratios = report["scenario"], report["arms"], report["ratios"]
    base, tandem = arms["baseline"], arms["tandem"]
    print(
        f"Referral access simulation: {args.prescribers} prescribers, {args.practices} practices, "
        f"{args.days} days from {args.start}, seed {args.seed}"
    )
    print(
        f"capacity {scenario['capacity_evaluations']:,} evaluations; {scenario['referrals']:,} referrals "
        f"({scenario['utilisation_realised']:.0%} of capacity); Tandem found no one for {tandem['unmatched']} "
        f"({tandem['unmatched_not_licensed']} where no one is licensed, {tandem['unmatched_not_enrolled']} "
        "where no one licensed takes the payer)"
    )
    print(f"{'days to first visit':41} {'n':>6} {'median':>7} {'p90':>7} {'mean':>7} {'max':>7} {'seconds':>8}")
    rows = [("baseline: one fixed prescriber, in turn", base), ("Tandem: matching.rank across the group", tandem)]
    for label, arm in rows:
        print(
            f"{label:41} {arm['n']:>6} {_fmt(arm['median_days']):>7} {_fmt(arm['p90_days']):>7} "
            f"{_fmt(arm['mean_days']):>7} {_fmt(arm['max_days']):>7} {arm['seconds']:>8.2f}"
        )
    print(f"{'Tandem / baseline':41} {'':>6} {_fmt(ratios['median'], '.3f'):>7} {_fmt(ratios['p90'], '.3f'):>7}")
    what_if = report["what_if_tandem_any_payer"]
    print(
        f"{'what-if: Tandem, any payer':41} {what_if['n']:>6} {_fmt(what_if['median_days']):>7} "
        f"{_fmt(what_if['p90_days']):>7} {_fmt(what_if['mean_days']):>7} {_fmt(what_if['max_days']):>7} "
        f"{what_if['seconds']:>8.2f}"
    )
    print(
        f"{'  what-if / baseline':41} {'':>6} {_fmt(what_if['ratios']['median'], '.3f'):>7} "
        f"{_fmt(what_if['ratios']['p90'], '.3f'):>7}"
    )
    same = report["same_referrals"]
    print(
        f"{'  (baseline on the referrals Tandem booked)':41} {same['baseline']['n']:>6} "
        f"{_fmt(same['ratios']['median'], '.3f'):>7} {_fmt(same['ratios']['p90'], '.3f'):>7}"
    )
    columns = f"{'median':>6} / {'p90':<6}    {'median':>6} / p90      (baseline, then Tandem)"
    print(f"{'by urgency, then by preference':45}{columns}")
    for u, _ in URGENCY:
        b, t = base["by_urgency"][u], tandem["by_urgency"][u]
        print(
            f"  {u:8} {t['n']:>5} referrals {'':17} {_fmt(b['median_days']):>6} / {_fmt(b['p90_days']):<6}"
            f"    {_fmt(t['median_days']):>6} / {_fmt(t['p90_days'])}"
        )
    for k, label in (("none", "no preference"), ("language", "a language"), ("time_of_day", "a time of day")):
        b, t = base["by_preference"][k], tandem["by_preference"][k]
        print(
            f"  {label:17} {t['n']:>5} {'':17} {_fmt(b['median_days']):>6} / {_fmt(b['p90_days']):<6}"
            f"    {_fmt(t['median_days']):>6} / {_fmt(t['p90_days'])}"
        )
    print(f"{'by practice -> baseline prescriber, load':50}{columns}")
    for pr in scenario["practices"]:
        b, t = base["by_practice"][pr["name"]], tandem["by_practice"][pr["name"]]
        rx = next(p for p in scenario["prescribers"] if p["id"] == pr["baseline_prescriber"])
        print(
            f"  {pr['name']:16} {pr['referrals']:>5} -> {rx['name']:14} {rx['baseline_expected_load']:>5.2f}"
            f"  {_fmt(b['median_days']):>6} / {_fmt(b['p90_days']):<6}    {_fmt(t['median_days']):>6} / "
            f"{_fmt(t['p90_days'])}"
        )
    audit = report["audit"]
    print(
        f"audit: Tandem bookings not licensed or enrolled when matched {audit['tandem_ineligible_bookings']}, "
        f"at the visit {audit['tandem_ineligible_at_visit']}; baseline bookings at the visit "
        f"{audit['baseline_ineligible_at_visit']} {audit['baseline_ineligible_at_visit_by_cause']}"
    )
    print(
        f"rank calls {tandem['rank_calls']:,} ({tandem['referrals_needing_a_longer_window']} referrals needed more "
        f"than {args.search_days} days); peak RSS {report['peak_rss_mib']} MiB "
        f"({report['peak_rss_before_arms_mib']} MiB before the arms); {report['seconds']} s in all"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=365, help="days over which referrals arrive")
    parser.add_argument("--start", type=datetime.date.fromisoformat, default=datetime.date(2027, 1, 4))
    parser.add_argument("--prescribers", type=int, default=6)
    parser.add_argument("--practices", type=int, default=6)
    parser.add_argument("--utilisation", type=float, default=0.9, help="expected referrals / evaluation slots")
    parser.add_argument(
        "--spread", type=float, default=0.25, help="the quietest practice's referrals as a share of the busiest's"
    )
    parser.add_argument("--search-days", type=int, default=21, help="Tandem's matching window (the app's default)")
    parser.add_argument("--lead-hours", type=float, default=24, help="no first visit sooner than this after referral")
    parser.add_argument("--weeks-off", type=int, default=3, help="weeks off per prescriber per year")
    parser.add_argument("--no-lapse", dest="lapse", action="store_false", help="no enrollment ends mid-year")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.prescribers < 1 or args.practices < 1 or args.days < 7 or args.search_days < 1:
        parser.error("--prescribers and --practices must be at least 1, --days at least 7, --search-days at least 1")
    if not 0 < args.spread <= 1:
        parser.error("--spread must be above 0 and at most 1")
    if not 0 < args.utilisation < 2:
        parser.error("--utilisation must be between 0 and 2")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tandem-referrals-") as tmp:
        # No database is opened: the eligibility engine only needs the models importable.
        url = f"sqlite:///{Path(tmp) / 'unused.sqlite3'}"
        _setup_django(tandem_env(database_url=url, secret_key=secrets.token_urlsafe(50), data_dir=tmp))
        report = simulate(args)
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["peak_rss_mib"] = _peak_rss_mib()

    print_report(report, args)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = (
        args.results_dir
        / f"{stamp}-referrals-{args.prescribers}rx-{args.practices}pr-{args.days}d-seed{args.seed}.json"
    )
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
