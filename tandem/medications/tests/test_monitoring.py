"""Monitoring rules (medications/data/monitoring.toml) and the due-date engine."""

from __future__ import annotations

import copy
import datetime
import tomllib
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.credentials import rules
from tandem.medications import monitoring
from tandem.medications.monitoring import Course, Due, MonitoringError, due, parse

D = datetime.date
START = D(2026, 1, 1)


def day(n: int) -> D:
    return START + datetime.timedelta(n)


def by_test(result: list[Due]) -> dict[str, Due]:
    return {d.test.key: d for d in result}


# --- The rules file ---------------------------------------------------------------------


def test_the_file_loads_with_the_expected_classes_and_tests() -> None:
    assert {
        "ssri",
        "citalopram",
        "lithium",
        "valproate",
        "carbamazepine",
        "oxcarbazepine",
        "sga",
        "sga_qt",
        "clozapine",
        "fga",
        "tca",
        "venlafaxine",
        "benzodiazepine",
        "stimulant",
        "non_stimulant",
        "naltrexone",
        "methadone",
        "buprenorphine",
    } <= monitoring.classes().keys()
    assert {
        "lithium_level",
        "creatinine",
        "tsh",
        "calcium",
        "lft",
        "cbc",
        "anc",
        "sodium",
        "valproate_level",
        "carbamazepine_level",
        "weight",
        "blood_pressure",
        "heart_rate",
        "fasting_glucose",
        "lipids",
        "a1c",
        "ecg",
    } <= monitoring.tests().keys()
    assert monitoring.version()


def test_every_catalog_drug_resolves() -> None:
    for name, drug in rules.current().drugs.items():
        assert drug.monitoring == "" or drug.monitoring in monitoring.classes(), name
        monitoring.requirements_for(name)


def test_only_the_referenced_sga_schedule_is_verified() -> None:
    verified = {(cls.key, r.test.key) for cls in monitoring.classes().values() for r in cls.requirements if r.verified}
    # Classes that include sga repeat its requirements.
    assert {test for _, test in verified} == {"weight", "blood_pressure", "fasting_glucose", "lipids", "a1c"}
    assert {key for key, _ in verified} == {"sga", "sga_qt", "clozapine"}


def test_header_names_the_review_and_the_unverified_entries() -> None:
    header = monitoring.DATA.read_text(encoding="utf-8").split("version =")[0]
    assert "FOR CLINICAL REVIEW" in header
    unverified = {cls.key for cls in monitoring.classes().values() if any(not r.verified for r in cls.requirements)}
    for key in unverified:
        assert key in header, key


@pytest.mark.parametrize(
    ("test", "baseline", "after_start", "after_change", "every"),
    [
        ("lithium_level", False, (7,), (7,), 90),
        ("creatinine", True, (), (), 180),
        ("tsh", True, (), (), 180),
        ("calcium", True, (), (), 365),
    ],
)
def test_lithium_requirements(
    test: str, baseline: bool, after_start: tuple[int, ...], after_change: tuple[int, ...], every: int
) -> None:
    (req,) = [r for r in monitoring.requirements_for("Lithium ") if r.test.key == test]
    assert (req.baseline, req.after_start_days, req.after_dose_change_days, req.then_every_days) == (
        baseline,
        after_start,
        after_change,
        every,
    )


def test_clozapine_adds_anc_to_the_sga_schedule() -> None:
    tests = [r.test.key for r in monitoring.requirements_for("clozapine")]
    assert tests[-1] == "anc"
    assert {"weight", "fasting_glucose", "lipids", "a1c"} <= set(tests)
    anc = monitoring.requirements_for("clozapine")[-1]
    assert anc.after_start_days[:26] == tuple(range(7, 183, 7))
    assert anc.after_start_days[26:] == tuple(range(196, 365, 14))
    assert anc.then_every_days == 30
    assert anc.verified is False


def test_requirements_for_an_unmonitored_and_an_unknown_drug() -> None:
    assert monitoring.requirements_for("bupropion") == ()
    with pytest.raises(MonitoringError, match="not in Tandem's drug catalog"):
        monitoring.requirements_for("unobtainium")


# --- Due dates, case by case ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    courses: tuple[Course, ...]
    done: dict[str, list[D]]
    today: D
    test: str
    due_on: D | None  # None: not listed
    overdue: bool = False
    grace_days: int = 7
    reason: str = ""
    drugs: tuple[str, ...] = field(default=())


LITHIUM = Course("lithium", START)
LITHIUM_CHANGED = Course("lithium", START, dose_changed_on=(day(30),))
OLANZAPINE = Course("olanzapine", START)
CLOZAPINE = Course("clozapine", START)

CASES = [
    Case("lithium level 7 days after the start", (LITHIUM,), {}, START, "lithium_level", day(7)),
    Case(
        "a level on day 5 covers day 7; the next is the 90-day repeat",
        (LITHIUM,),
        {"lithium_level": [day(5)]},
        day(10),
        "lithium_level",
        day(97),
        reason="Lithium: every 90 days (day 97 of the course started 2026-01-01)",
    ),
    Case(
        "a dose change on day 30 makes a level due on day 37",
        (LITHIUM_CHANGED,),
        {"lithium_level": [day(5)]},
        day(31),
        "lithium_level",
        day(37),
        reason="Lithium: 7 days after the dose change on 2026-01-31",
        drugs=("lithium",),
    ),
    Case(
        "due today is not overdue",
        (LITHIUM_CHANGED,),
        {"lithium_level": [day(5)]},
        day(37),
        "lithium_level",
        day(37),
        overdue=False,
    ),
    Case(
        "overdue once today passes the due date",
        (LITHIUM_CHANGED,),
        {"lithium_level": [day(5)]},
        day(38),
        "lithium_level",
        day(37),
        overdue=True,
    ),
    Case(
        "a level after the dose change covers it",
        (LITHIUM_CHANGED,),
        {"lithium_level": [day(5), day(36)]},
        day(38),
        "lithium_level",
        day(97),
    ),
    Case("baseline creatinine is due on the start", (LITHIUM,), {}, day(3), "creatinine", START, overdue=True),
    Case("grace: 7 days before counts", (LITHIUM,), {"lithium_level": [day(0)]}, day(1), "lithium_level", day(97)),
    Case("grace: 8 days before does not", (LITHIUM,), {"lithium_level": [day(-1)]}, day(1), "lithium_level", day(7)),
    Case(
        "no grace: only on or after the point counts",
        (LITHIUM,),
        {"lithium_level": [day(6)]},
        day(6),
        "lithium_level",
        day(7),
        grace_days=0,
    ),
    Case("an older baseline result does not count", (LITHIUM,), {"tsh": [day(-30)]}, START, "tsh", START),
    Case("tsh repeats after 180 days", (LITHIUM,), {"tsh": [START]}, day(2), "tsh", day(180)),
    # SGA metabolic schedule (ADA/APA 2004): weight baseline, 4, 8, 12 weeks, then quarterly.
    Case("sga weight: baseline", (OLANZAPINE,), {}, START, "weight", START),
    Case("sga weight: 4 weeks", (OLANZAPINE,), {"weight": [START]}, day(1), "weight", day(28)),
    Case("sga weight: 8 weeks", (OLANZAPINE,), {"weight": [START, day(28)]}, day(29), "weight", day(56)),
    Case("sga weight: 12 weeks", (OLANZAPINE,), {"weight": [day(56)]}, day(57), "weight", day(84)),
    Case("sga weight: quarterly", (OLANZAPINE,), {"weight": [day(84)]}, day(85), "weight", day(175)),
    Case("sga weight: next quarter", (OLANZAPINE,), {"weight": [day(175)]}, day(176), "weight", day(266)),
    Case("sga glucose: 12 weeks", (OLANZAPINE,), {"fasting_glucose": [START]}, day(1), "fasting_glucose", day(84)),
    Case("sga glucose: yearly", (OLANZAPINE,), {"fasting_glucose": [day(84)]}, day(85), "fasting_glucose", day(449)),
    Case(
        "sga blood pressure: yearly", (OLANZAPINE,), {"blood_pressure": [day(84)]}, day(85), "blood_pressure", day(449)
    ),
    Case("sga lipids: 12 weeks", (OLANZAPINE,), {"lipids": [START]}, day(1), "lipids", day(84)),
    Case("sga lipids: 5 years is past the horizon", (OLANZAPINE,), {"lipids": [day(84)]}, day(85), "lipids", None),
    Case("sga lipids: listed within 400 days", (OLANZAPINE,), {"lipids": [day(84)]}, day(1510), "lipids", day(1910)),
    Case("sga a1c: 4 months", (OLANZAPINE,), {}, START, "a1c", day(120)),
    Case("sga a1c: then yearly", (OLANZAPINE,), {"a1c": [day(118)]}, day(120), "a1c", day(485)),
    # Clozapine ANC: weekly for 6 months, every 2 weeks to a year, then monthly.
    Case("clozapine anc: baseline", (CLOZAPINE,), {}, START, "anc", START),
    Case("clozapine anc: week 1", (CLOZAPINE,), {"anc": [START]}, day(1), "anc", day(7)),
    Case("clozapine anc: week 2", (CLOZAPINE,), {"anc": [day(7)]}, day(8), "anc", day(14)),
    Case("clozapine anc: 3 days early counts", (CLOZAPINE,), {"anc": [day(7), day(11)]}, day(12), "anc", day(21)),
    Case(
        "one result cannot cover two weekly points",
        (CLOZAPINE,),
        {"anc": [START]},
        day(1),
        "anc",
        day(7),
        reason="Clozapine: 7 days after the start on 2026-01-01",
    ),
    Case("clozapine anc: week 26", (CLOZAPINE,), {"anc": [day(175)]}, day(176), "anc", day(182)),
    Case("clozapine anc: every 2 weeks", (CLOZAPINE,), {"anc": [day(182)]}, day(183), "anc", day(196)),
    Case("clozapine anc: monthly after a year", (CLOZAPINE,), {"anc": [day(364)]}, day(365), "anc", day(394)),
    Case("clozapine anc: missed week is overdue", (CLOZAPINE,), {"anc": [START]}, day(9), "anc", day(7), True),
    # Stopped courses.
    Case("stopped before today", (Course("lithium", START, stopped_on=day(20)),), {}, day(21), "creatinine", None),
    Case("stopped today", (Course("lithium", START, stopped_on=day(21)),), {}, day(21), "creatinine", None),
    Case(
        "a planned stop drops points from the stop date",
        (Course("lithium", START, stopped_on=day(7)),),
        {},
        day(1),
        "lithium_level",
        None,
    ),
    Case(
        "a planned stop keeps earlier points",
        (Course("lithium", START, stopped_on=day(8)),),
        {},
        day(1),
        "lithium_level",
        day(7),
    ),
    # Merging drugs that need the same test.
    Case(
        "two antipsychotics, one weight",
        (OLANZAPINE, Course("quetiapine", START)),
        {},
        START,
        "weight",
        START,
        drugs=("olanzapine", "quetiapine"),
        reason="Olanzapine: baseline at the start on 2026-01-01; Quetiapine: baseline at the start on 2026-01-01",
    ),
    Case(
        "venlafaxine and an antipsychotic share blood pressure",
        (Course("venlafaxine", START), Course("aripiprazole", day(3))),
        {},
        START,
        "blood_pressure",
        START,
        drugs=("aripiprazole", "venlafaxine"),
    ),
    Case(
        "a later need outside the grace window is not merged",
        (Course("venlafaxine", START), Course("aripiprazole", day(60))),
        {"blood_pressure": [START]},
        day(1),
        "blood_pressure",
        day(28),
        drugs=("venlafaxine",),
    ),
    Case(
        "a second course of the same drug: the earlier need wins",
        (Course("lithium", START), Course("lithium", day(100))),
        {"lithium_level": [day(7)]},
        day(101),
        "lithium_level",
        day(97),
        overdue=True,
        drugs=("lithium",),
    ),
    Case("drug names ignore case and spaces", (Course(" Lithium ", START),), {}, START, "lithium_level", day(7)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_due(case: Case) -> None:
    result = by_test(due(case.courses, case.done, case.today, grace_days=case.grace_days))
    if case.due_on is None:
        assert case.test not in result
        return
    got = result[case.test]
    assert got.due_on == case.due_on
    assert got.overdue is case.overdue
    assert got.last_done == (max(case.done[case.test]) if case.done.get(case.test) else None)
    if case.reason:
        assert got.reason == case.reason
    if case.drugs:
        assert got.drugs == case.drugs


def test_a_stopped_course_contributes_nothing() -> None:
    assert due([Course("clozapine", START, stopped_on=day(30))], {}, day(30)) == []


def test_a_drug_without_monitoring_contributes_nothing() -> None:
    assert due([Course("bupropion", START), Course("alprazolam", START)], {}, START) == []


def test_an_unknown_drug_is_an_error() -> None:
    with pytest.raises(MonitoringError):
        due([Course("unobtainium", START)], {}, START)


def test_negative_grace_is_an_error() -> None:
    with pytest.raises(ValueError, match="grace_days"):
        due([LITHIUM], {}, START, grace_days=-1)


def test_one_due_per_test_sorted_by_date_then_name() -> None:
    result = due([LITHIUM, OLANZAPINE, CLOZAPINE, Course("divalproex", day(2))], {}, START)
    keys = [d.test.key for d in result]
    assert len(keys) == len(set(keys))
    assert result == sorted(result, key=lambda d: (d.due_on, d.test.name))
    assert by_test(result)["weight"].drugs == ("clozapine", "olanzapine")
    assert by_test(result)["cbc"].drugs == ("divalproex",)


def test_unknown_result_keys_are_ignored() -> None:
    assert due([LITHIUM], {"not_a_test": [START]}, START) == due([LITHIUM], {}, START)


# --- Validation through parse() ---------------------------------------------------------


def _raw() -> dict[str, Any]:
    with monitoring.DATA.open("rb") as file:
        return tomllib.load(file)


def _first_requirement(raw: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in raw["class"] if c["key"] == "lithium")["requirement"][0]


def test_parse_accepts_the_shipped_file() -> None:
    raw = _raw()
    tests, classes = parse(raw["test"], raw["class"], {"lithium": "lithium", "bupropion": ""})
    assert classes["lithium"].requirements[0].test is tests["lithium_level"]


REQUIREMENT_ERRORS = [
    ({"test": "lithium_levels"}, "unknown test 'lithium_levels'"),
    ({"after_start_days": [-7]}, "positive"),
    ({"after_start_days": [0]}, "positive"),
    ({"after_start_days": [14, 7]}, "increasing order"),
    ({"after_dose_change_days": [7, 7]}, "increasing order"),
    ({"after_start_days": [7.5]}, "whole days"),
    ({"after_start_days": [True]}, "whole days"),
    ({"after_start_days": 7}, "whole days"),
    ({"then_every_days": 0}, "then_every_days"),
    ({"then_every_days": True}, "then_every_days"),
    ({"baseline": "yes"}, "baseline must be true or false"),
    ({"verified": 1}, "verified must be true or false"),
    ({"source": ""}, "source must be a non-empty string"),
    ({"then_evry_days": 90}, "unknown field then_evry_days"),
    (
        {"baseline": False, "after_start_days": [], "after_dose_change_days": [], "then_every_days": None},
        "schedules nothing",
    ),
]


@pytest.mark.parametrize(("change", "message"), REQUIREMENT_ERRORS, ids=[m for _, m in REQUIREMENT_ERRORS])
def test_parse_rejects_a_bad_requirement(change: dict[str, Any], message: str) -> None:
    raw = _raw()
    requirement = _first_requirement(raw)
    requirement.update(change)
    for key in [k for k, v in requirement.items() if v is None]:
        del requirement[key]
    with pytest.raises(MonitoringError, match=message):
        parse(raw["test"], raw["class"])


def test_parse_rejects_a_missing_field() -> None:
    raw = _raw()
    del _first_requirement(raw)["verified"]
    with pytest.raises(MonitoringError, match="missing verified"):
        parse(raw["test"], raw["class"])


def _mutated(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(_raw())
    change(raw)
    return raw


OTHER_ERRORS = [
    ("duplicate test", lambda raw: raw["test"].append(dict(raw["test"][0])), "defined twice"),
    ("bad kind", lambda raw: raw["test"][0].update(kind="imaging"), "kind 'imaging'"),
    ("bad key", lambda raw: raw["test"][0].update(key="Lithium Level"), "lower-case"),
    ("test without name", lambda raw: raw["test"][0].pop("name"), "missing name"),
    ("duplicate class", lambda raw: raw["class"].append(dict(raw["class"][0])), "defined twice"),
    ("unknown include", lambda raw: raw["class"][0].update(includes=["nope"]), "unknown class 'nope'"),
    ("self include", lambda raw: raw["class"][0].update(includes=[raw["class"][0]["key"]]), "cycle"),
    ("class typo", lambda raw: raw["class"][0].update(requirements=[]), "unknown field requirements"),
]


@pytest.mark.parametrize(("name", "change", "message"), OTHER_ERRORS, ids=[n for n, _, _ in OTHER_ERRORS])
def test_parse_rejects_bad_tests_and_classes(name: str, change: Any, message: str) -> None:
    raw = _mutated(change)
    with pytest.raises(MonitoringError, match=message):
        parse(raw["test"], raw["class"])


def test_parse_rejects_an_include_cycle() -> None:
    def cycle(raw: dict[str, Any]) -> None:
        classes = {c["key"]: c for c in raw["class"]}
        classes["ssri"]["includes"] = ["citalopram"]  # citalopram already includes ssri

    raw = _mutated(cycle)
    with pytest.raises(MonitoringError, match="cycle"):
        parse(raw["test"], raw["class"])


def test_parse_rejects_a_drug_whose_class_is_missing() -> None:
    raw = _raw()
    with pytest.raises(MonitoringError, match="drug 'lithium': monitoring class 'lithum'"):
        parse(raw["test"], raw["class"], {"lithium": "lithum"})


# --- Property: a new result never brings a due date forward ------------------------------

PROPERTY_DRUGS = ["lithium", "olanzapine", "clozapine", "divalproex", "carbamazepine", "methylphenidate", "methadone"]
TEST_KEYS = sorted(monitoring.tests())
dates = st.dates(min_value=D(2025, 1, 1), max_value=D(2027, 12, 31))


@st.composite
def courses(draw: st.DrawFn) -> Course:
    started = draw(dates)
    changes = draw(st.lists(st.integers(1, 400), max_size=3))
    stop = draw(st.one_of(st.none(), st.integers(1, 800)))
    return Course(
        drug=draw(st.sampled_from(PROPERTY_DRUGS)),
        started_on=started,
        dose_changed_on=tuple(started + datetime.timedelta(n) for n in sorted(changes)),
        stopped_on=None if stop is None else started + datetime.timedelta(stop),
    )


@settings(max_examples=300, deadline=None)
@given(
    plan=st.lists(courses(), min_size=1, max_size=4),
    done=st.dictionaries(st.sampled_from(TEST_KEYS), st.lists(dates, max_size=3), max_size=6),
    today=dates,
    extra_test=st.sampled_from(TEST_KEYS),
    extra_date=dates,
    grace=st.integers(0, 14),
)
def test_adding_a_result_never_makes_a_due_date_earlier(
    plan: list[Course], done: dict[str, list[D]], today: D, extra_test: str, extra_date: D, grace: int
) -> None:
    before = by_test(due(plan, done, today, grace_days=grace))
    more = {**done, extra_test: [*done.get(extra_test, []), extra_date]}
    after = due(plan, more, today, grace_days=grace)
    for item in after:
        assert item.test.key in before
        assert item.due_on >= before[item.test.key].due_on
    for item in after:
        assert item.overdue is (item.due_on < today)
        assert item.due_on <= today + datetime.timedelta(monitoring.HORIZON_DAYS)
        assert item.drugs
    assert len({d.test.key for d in after}) == len(after)
