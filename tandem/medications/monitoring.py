"""Monitoring rules (labs, vitals and exams due by drug class) and a pure due-date engine.

The rules live in ``data/monitoring.toml`` for a clinician to review. Each drug in the
catalog (``credentials/data/drugs.toml``) names its monitoring class. The file is checked
when it is loaded, so a typo in a test key or an unsorted day list stops Tandem rather
than silently dropping a lab.

``due`` takes a patient's medication courses and the dates of results on file and says
what is due next. It reads no database: callers pass everything in.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem.credentials import rules

DATA = Path(__file__).resolve().parent / "data" / "monitoring.toml"
KINDS = frozenset({"lab", "vital", "exam"})
HORIZON_DAYS = 400  # points further ahead than this are not listed
_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")

_TEST_FIELDS = ({"key", "name", "kind"}, {"unit"})
_CLASS_FIELDS = ({"key", "name"}, {"note", "includes", "requirement"})
_REQUIREMENT_FIELDS = (
    {"test", "baseline", "after_start_days", "after_dose_change_days", "source", "verified"},
    {"then_every_days", "note"},
)


class MonitoringError(ValueError):
    """A monitoring file, or a drug, that cannot be used as it stands."""


@dataclass(frozen=True)
class LabTest:
    key: str
    name: str
    kind: str  # "lab", "vital" or "exam"
    unit: str = ""


@dataclass(frozen=True)
class Requirement:
    test: LabTest
    baseline: bool
    after_start_days: tuple[int, ...]
    after_dose_change_days: tuple[int, ...]
    then_every_days: int | None
    note: str
    source: str
    verified: bool


@dataclass(frozen=True)
class MonitoringClass:
    key: str
    name: str
    # Requirements of included classes first, then the class's own.
    requirements: tuple[Requirement, ...]
    note: str = ""
    includes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Course:
    """One drug as the patient takes it: started, dose changes, maybe stopped."""

    drug: str
    started_on: datetime.date
    dose_changed_on: tuple[datetime.date, ...] = ()
    stopped_on: datetime.date | None = None

    def active(self, today: datetime.date) -> bool:
        return self.stopped_on is None or self.stopped_on > today


@dataclass(frozen=True)
class Due:
    test: LabTest
    drugs: tuple[str, ...]  # catalog names of the drugs one result on `due_on` would cover
    due_on: datetime.date
    overdue: bool
    last_done: datetime.date | None
    reason: str


# --- Loading and checking ---------------------------------------------------------------


def _fields(raw: Any, where: str, fields: tuple[set[str], set[str]]) -> Mapping[str, Any]:
    required, optional = fields
    if not isinstance(raw, Mapping):
        raise MonitoringError(f"{where}: expected a table, got {type(raw).__name__}.")
    missing = required - raw.keys()
    if missing:
        raise MonitoringError(f"{where}: missing {', '.join(sorted(missing))}.")
    unknown = raw.keys() - required - optional
    if unknown:
        raise MonitoringError(f"{where}: unknown field {', '.join(sorted(unknown))}.")
    return raw


def _text(raw: Mapping[str, Any], field: str, where: str, *, required: bool = True) -> str:
    value = raw.get(field, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise MonitoringError(f"{where}: {field} must be a non-empty string.")
    return value


def _key(raw: Mapping[str, Any], where: str) -> str:
    key = _text(raw, "key", where)
    if not _KEY.match(key):
        raise MonitoringError(f"{where}: key {key!r} must be lower-case letters, digits and underscores.")
    return key


def _bool(raw: Mapping[str, Any], field: str, where: str) -> bool:
    value = raw[field]
    if not isinstance(value, bool):
        raise MonitoringError(f"{where}: {field} must be true or false.")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _days(raw: Mapping[str, Any], field: str, where: str) -> tuple[int, ...]:
    value = raw[field]
    if not isinstance(value, list) or not all(_is_int(day) for day in value):
        raise MonitoringError(f"{where}: {field} must be a list of whole days.")
    if any(day <= 0 for day in value):
        raise MonitoringError(f"{where}: {field} must be positive (baseline covers day 0).")
    if any(a >= b for a, b in itertools.pairwise(value)):
        raise MonitoringError(f"{where}: {field} must be in increasing order without repeats.")
    return tuple(value)


def _test(raw: Any, index: int) -> LabTest:
    where = f"test {index + 1}"
    raw = _fields(raw, where, _TEST_FIELDS)
    key = _key(raw, where)
    where = f"test {key!r}"
    kind = _text(raw, "kind", where)
    if kind not in KINDS:
        raise MonitoringError(f"{where}: kind {kind!r} is not one of {sorted(KINDS)}.")
    return LabTest(key=key, name=_text(raw, "name", where), kind=kind, unit=_text(raw, "unit", where, required=False))


def _requirement(raw: Any, where: str, tests: Mapping[str, LabTest]) -> Requirement:
    raw = _fields(raw, where, _REQUIREMENT_FIELDS)
    test_key = _text(raw, "test", where)
    if test_key not in tests:
        raise MonitoringError(f"{where}: unknown test {test_key!r}.")
    where = f"{where} ({test_key})"
    every = raw.get("then_every_days")
    if every is not None and (not _is_int(every) or every <= 0):
        raise MonitoringError(f"{where}: then_every_days must be a positive whole number of days.")
    requirement = Requirement(
        test=tests[test_key],
        baseline=_bool(raw, "baseline", where),
        after_start_days=_days(raw, "after_start_days", where),
        after_dose_change_days=_days(raw, "after_dose_change_days", where),
        then_every_days=every,
        note=_text(raw, "note", where, required=False),
        source=_text(raw, "source", where),
        verified=_bool(raw, "verified", where),
    )
    r = requirement
    if not (r.baseline or r.after_start_days or r.after_dose_change_days or r.then_every_days):
        raise MonitoringError(f"{where}: schedules nothing.")
    return requirement


def parse(
    tests_raw: Sequence[Any],
    classes_raw: Sequence[Any],
    drug_monitoring: Mapping[str, str] | None = None,
) -> tuple[dict[str, LabTest], dict[str, MonitoringClass]]:
    """Check and build the tests and classes from the ``[[test]]`` and ``[[class]]`` tables.

    ``drug_monitoring`` maps drug names to their ``monitoring`` key; each non-empty key
    must name a class. Raises ``MonitoringError`` on anything it cannot use.
    """
    tests: dict[str, LabTest] = {}
    for index, raw in enumerate(tests_raw):
        test = _test(raw, index)
        if test.key in tests:
            raise MonitoringError(f"test {test.key!r} is defined twice.")
        tests[test.key] = test

    own: dict[str, tuple[Requirement, ...]] = {}
    heads: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for index, raw in enumerate(classes_raw):
        where = f"class {index + 1}"
        raw = _fields(raw, where, _CLASS_FIELDS)
        key = _key(raw, where)
        where = f"class {key!r}"
        if key in heads:
            raise MonitoringError(f"{where} is defined twice.")
        includes = raw.get("includes", [])
        if not isinstance(includes, list) or not all(isinstance(k, str) for k in includes):
            raise MonitoringError(f"{where}: includes must be a list of class keys.")
        requirements_raw = raw.get("requirement", [])
        if not isinstance(requirements_raw, list):
            raise MonitoringError(f"{where}: requirement must be an array of tables.")
        own[key] = tuple(_requirement(r, f"{where} requirement {n + 1}", tests) for n, r in enumerate(requirements_raw))
        heads[key] = (_text(raw, "name", where), _text(raw, "note", where, required=False), tuple(includes))

    flat: dict[str, tuple[Requirement, ...]] = {}

    def flatten(key: str, path: tuple[str, ...]) -> tuple[Requirement, ...]:
        if key in path:
            raise MonitoringError(f"class {path[0]!r}: includes form a cycle ({' -> '.join((*path, key))}).")
        if key not in flat:
            collected: list[Requirement] = []
            for included in heads[key][2]:
                if included not in heads:
                    raise MonitoringError(f"class {key!r}: includes unknown class {included!r}.")
                collected.extend(flatten(included, (*path, key)))
            flat[key] = (*collected, *own[key])
        return flat[key]

    classes = {
        key: MonitoringClass(key=key, name=name, requirements=flatten(key, ()), note=note, includes=includes)
        for key, (name, note, includes) in heads.items()
    }
    for drug, monitoring in (drug_monitoring or {}).items():
        if monitoring and monitoring not in classes:
            raise MonitoringError(f"drug {drug!r}: monitoring class {monitoring!r} is not defined.")
    return tests, classes


@functools.cache
def _catalog() -> tuple[str, dict[str, LabTest], dict[str, MonitoringClass]]:
    with DATA.open("rb") as file:
        raw = tomllib.load(file)
    unknown = raw.keys() - {"version", "test", "class"}
    if unknown:
        raise MonitoringError(f"{DATA.name}: unknown top-level field {', '.join(sorted(unknown))}.")
    drug_monitoring = {name: drug.monitoring for name, drug in rules.current().drugs.items()}
    tests, classes = parse(raw.get("test", []), raw.get("class", []), drug_monitoring)
    return str(raw["version"]), tests, classes


def version() -> str:
    return _catalog()[0]


def tests() -> dict[str, LabTest]:
    return dict(_catalog()[1])


def classes() -> dict[str, MonitoringClass]:
    return dict(_catalog()[2])


def _drug(name: str) -> rules.Drug:
    drug = rules.current().drugs.get(name.strip().lower())
    if drug is None:
        raise MonitoringError(f"{name!r} is not in Tandem's drug catalog.")
    return drug


def requirements_for(drug_name: str) -> tuple[Requirement, ...]:
    """What to monitor for a catalog drug; empty when its class has none."""
    key = _drug(drug_name).monitoring
    return _catalog()[2][key].requirements if key else ()


# --- Due dates -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    on: datetime.date
    reason: str
    opens: datetime.date = datetime.date.min  # earliest result date that counts for this point


def _days_text(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _points(requirement: Requirement, course: Course, display: str, until: datetime.date) -> list[_Point]:
    """Every scheduled date of one requirement for one course, up to ``until``."""
    start = course.started_on
    points: list[_Point] = []
    if requirement.baseline:
        points.append(_Point(start, f"{display}: baseline at the start on {start}"))
    for days in requirement.after_start_days:
        points.append(
            _Point(start + datetime.timedelta(days), f"{display}: {_days_text(days)} after the start on {start}")
        )
    for changed in course.dose_changed_on:
        for days in requirement.after_dose_change_days:
            on = changed + datetime.timedelta(days)
            points.append(_Point(on, f"{display}: {_days_text(days)} after the dose change on {changed}"))
    step = requirement.then_every_days
    if step:
        day = (requirement.after_start_days[-1] if requirement.after_start_days else 0) + step
        while (on := start + datetime.timedelta(day)) <= until:
            points.append(_Point(on, f"{display}: every {_days_text(step)} (day {day} of the course started {start})"))
            day += step
    last = until if course.stopped_on is None else min(until, course.stopped_on - datetime.timedelta(1))
    return sorted((point for point in points if point.on <= last), key=lambda point: point.on)


def _with_windows(points: list[_Point], grace: datetime.timedelta) -> list[_Point]:
    """Give each point (sorted by date) the first date a result counts for it.

    A result counts from ``grace`` before the point, but not on or before the previous
    point of the same schedule, so one weekly ANC cannot stand for two weeks.
    """
    windowed: list[_Point] = []
    previous: datetime.date | None = None
    for point in points:
        opens = point.on - grace
        if previous is not None and previous < point.on:
            opens = max(opens, previous + datetime.timedelta(1))
        elif windowed and previous == point.on:
            opens = windowed[-1].opens
        windowed.append(_Point(point.on, point.reason, opens))
        previous = point.on
    return windowed


def due(
    courses: Iterable[Course],
    done: Mapping[str, Sequence[datetime.date]],
    today: datetime.date,
    *,
    grace_days: int = 7,
) -> list[Due]:
    """The next due date of each test the active courses need.

    ``done`` maps test keys to the dates of results on file. A scheduled point counts as
    done by any result dated on or after ``point - grace_days``, but not by one dated on or
    before the previous point of the same requirement and course (so a weekly test needs a
    result every week). For each test, the earliest point not yet done across all courses
    is reported once; ``drugs`` lists every drug whose own next point a result on that date
    would also cover. Points after ``today + HORIZON_DAYS``, and from a planned stop date
    on, are not listed.
    """
    if grace_days < 0:
        raise ValueError("grace_days must not be negative.")
    grace = datetime.timedelta(grace_days)
    until = today + datetime.timedelta(HORIZON_DAYS)
    last_done = {key: max(dates) for key, dates in done.items() if dates}

    # test key -> drug name -> its earliest open point for that test
    open_points: dict[str, dict[str, _Point]] = {}
    tests_by_key: dict[str, LabTest] = {}
    for course in courses:
        if not course.active(today):
            continue
        drug = _drug(course.drug)
        name = drug.name.strip().lower()
        for requirement in requirements_for(name):
            key = requirement.test.key
            last = last_done.get(key)
            points = _with_windows(_points(requirement, course, drug.display, until), grace)
            first = next((p for p in points if last is None or last < p.opens), None)
            if first is None:
                continue
            per_drug = open_points.setdefault(key, {})
            if name not in per_drug or first.on < per_drug[name].on:
                per_drug[name] = first
            tests_by_key[key] = requirement.test

    result: list[Due] = []
    for key, per_drug in open_points.items():
        due_on = min(point.on for point in per_drug.values())
        covered = sorted(
            ((point, name) for name, point in per_drug.items() if point.opens <= due_on),
            key=lambda item: (item[0].on, item[1]),
        )
        result.append(
            Due(
                test=tests_by_key[key],
                drugs=tuple(sorted(name for _, name in covered)),
                due_on=due_on,
                overdue=due_on < today,
                last_done=last_done.get(key),
                reason="; ".join(point.reason for point, _ in covered),
            )
        )
    result.sort(key=lambda d: (d.due_on, d.test.name))
    return result
