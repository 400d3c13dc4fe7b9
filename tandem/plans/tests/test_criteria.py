"""The DSM-5-TR checklists reach their thresholds exactly at the boundaries, table-driven for every set; the
loader refuses broken files; and a property test that ticking one more criterion never undoes a reached
threshold."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.plans import criteria
from tandem.plans.criteria import CriteriaError, Evaluation

SETS = list(criteria.all_sets())

MDD_REST = ["A-duration", "B", "C", "D", "E"]
GAD_REST = ["A", "B", "D", "E", "F"]
PTSD_FULL = ["A1", "B1", "C1", "D1", "D2", "E1", "E2", "F", "G", "H"]
ADHD_REST = ["A-duration", "B", "C", "D", "E"]
INATTENTIVE = [f"A1{x}" for x in "abcdefghi"]
HYPERACTIVE = [f"A2{x}" for x in "abcdefghi"]
MANIA_REST = ["M-A3", "M-A4", "M-B-degree", "M-C", "M-D", "B"]
MANIA_3 = ["M-A1", "M-B1", "M-B2", "M-B3"]  # elevated mood and three symptoms
HYPOMANIA_3 = ["H-A1", "H-B1", "H-B2", "H-B3"]
HYPOMANIA_REST = ["H-A3", "H-A4", "H-B-degree", "H-C", "H-D", "H-E", "H-F", "A-MDE", "B", "C", "D"]


def run(key: str, met: Iterable[str], age: int | None = None) -> Evaluation:
    return criteria.evaluate(criteria.get(key), met, age=age)


def without(items: list[str], *drop: str) -> list[str]:
    return [i for i in items if i not in drop]


def data_file() -> dict[str, Any]:
    return json.loads(criteria.DATA.read_text(encoding="utf-8"))


# The data file


def test_the_six_sets_load_for_clinical_review() -> None:
    assert SETS == ["mdd", "gad", "ptsd", "adhd", "bipolar1", "bipolar2"]
    for key in SETS:
        criteria_set = criteria.get(key)
        assert criteria_set.verified is False
        assert "DSM-5-TR" in criteria_set.source and "paraphrased" in criteria_set.source
        assert all(r.label for r in criteria_set.requirements)
        assert all(c.text.strip() and c.group for c in criteria_set.criteria)


@pytest.mark.parametrize("key", SETS)
def test_everything_met_reaches_and_nothing_met_does_not(key: str) -> None:
    criteria_set = criteria.get(key)
    for age in (None, 8, 12, 17, 40):
        assert criteria.evaluate(criteria_set, criteria_set.ids, age=age).reached
        empty = criteria.evaluate(criteria_set, [], age=age)
        assert not empty.reached
        assert not any(r.met for r in empty.results)


def test_duration_is_an_explicit_required_criterion_of_mdd() -> None:
    mdd = criteria.get("mdd")
    assert "2-week" in mdd.criterion("A-duration").text
    assert not run("mdd", without(list(mdd.ids), "A-duration")).reached


def test_unknown_set_and_criterion_raise_criteria_error() -> None:
    with pytest.raises(CriteriaError):
        criteria.get("nope")
    with pytest.raises(CriteriaError):
        criteria.get("mdd").criterion("Z9")


# Thresholds at their boundaries, set by set

MDD_SYMPTOMS = ["A1", "A3", "A4", "A5", "A6"]

CASES: list[tuple[str, str, list[str], int | None, bool]] = [
    # MDD: at least 5 of A1-A9, one of them A1 or A2, plus duration and B-E.
    ("mdd", "5 incl. A1", MDD_SYMPTOMS + MDD_REST, None, True),
    ("mdd", "5 incl. A2 only", ["A2", "A3", "A4", "A5", "A6", *MDD_REST], None, True),
    ("mdd", "5 without A1 or A2", ["A3", "A4", "A5", "A6", "A7", *MDD_REST], None, False),
    ("mdd", "7 without A1 or A2", ["A3", "A4", "A5", "A6", "A7", "A8", "A9", *MDD_REST], None, False),
    ("mdd", "4 incl. A1", ["A1", "A3", "A4", "A5", *MDD_REST], None, False),
    ("mdd", "9 of 9 but no duration", [f"A{i}" for i in range(1, 10)] + without(MDD_REST, "A-duration"), None, False),
    ("mdd", "no impairment", MDD_SYMPTOMS + without(MDD_REST, "B"), None, False),
    ("mdd", "substance not excluded", MDD_SYMPTOMS + without(MDD_REST, "C"), None, False),
    ("mdd", "psychotic disorder not excluded", MDD_SYMPTOMS + without(MDD_REST, "D"), None, False),
    ("mdd", "past mania not excluded", MDD_SYMPTOMS + without(MDD_REST, "E"), None, False),
    # GAD: 3 of C1-C6 for adults, 1 under 18.
    ("gad", "adult 3 symptoms", ["C1", "C2", "C3", *GAD_REST], None, True),
    ("gad", "adult 2 symptoms", ["C1", "C2", *GAD_REST], None, False),
    ("gad", "age 18 with 2 symptoms", ["C1", "C2", *GAD_REST], 18, False),
    ("gad", "age 18 with 3 symptoms", ["C1", "C2", "C3", *GAD_REST], 18, True),
    ("gad", "child (12) 1 symptom", ["C4", *GAD_REST], 12, True),
    ("gad", "age 17 with 1 symptom", ["C4", *GAD_REST], 17, True),
    ("gad", "child with no symptom", GAD_REST, 12, False),
    ("gad", "worry not hard to control", ["C1", "C2", "C3", *without(GAD_REST, "B")], None, False),
    ("gad", "no 6 months of worry", ["C1", "C2", "C3", *without(GAD_REST, "A")], None, False),
    ("gad", "no impairment", ["C1", "C2", "C3", *without(GAD_REST, "D")], None, False),
    ("gad", "better explained", ["C1", "C2", "C3", *without(GAD_REST, "F")], None, False),
    # PTSD: A >= 1, B >= 1, C >= 1, D >= 2, E >= 2, F, G, H.
    ("ptsd", "every cluster at its minimum", PTSD_FULL, None, True),
    ("ptsd", "exposure by learning of it", ["A3", *without(PTSD_FULL, "A1")], None, True),
    ("ptsd", "no exposure", without(PTSD_FULL, "A1"), None, False),
    ("ptsd", "no intrusion", without(PTSD_FULL, "B1"), None, False),
    ("ptsd", "no avoidance", without(PTSD_FULL, "C1"), None, False),
    ("ptsd", "one negative cognition", without(PTSD_FULL, "D2"), None, False),
    ("ptsd", "one arousal symptom", without(PTSD_FULL, "E2"), None, False),
    ("ptsd", "a month or less", without(PTSD_FULL, "F"), None, False),
    ("ptsd", "no impairment", without(PTSD_FULL, "G"), None, False),
    ("ptsd", "substance not excluded", without(PTSD_FULL, "H"), None, False),
    ("ptsd", "all clusters full", [f"A{i}" for i in range(1, 5)] + without(PTSD_FULL, "A1"), None, True),
    # ADHD: 6 of 9 in either domain under 17, 5 from 17; no age means adult.
    ("adhd", "age 12, 6 inattentive", INATTENTIVE[:6] + ADHD_REST, 12, True),
    ("adhd", "age 12, 5 inattentive", INATTENTIVE[:5] + ADHD_REST, 12, False),
    ("adhd", "age 16, 5 hyperactive", HYPERACTIVE[:5] + ADHD_REST, 16, False),
    ("adhd", "age 12, 6 hyperactive", HYPERACTIVE[:6] + ADHD_REST, 12, True),
    ("adhd", "age 12, 5 and 5", INATTENTIVE[:5] + HYPERACTIVE[:5] + ADHD_REST, 12, False),
    ("adhd", "age 17, 5 inattentive", INATTENTIVE[:5] + ADHD_REST, 17, True),
    ("adhd", "age 17, 4 inattentive", INATTENTIVE[:4] + ADHD_REST, 17, False),
    ("adhd", "adult (no age), 5 hyperactive", HYPERACTIVE[:5] + ADHD_REST, None, True),
    ("adhd", "not before 12", INATTENTIVE[:6] + without(ADHD_REST, "B"), 12, False),
    ("adhd", "one setting only", INATTENTIVE[:6] + without(ADHD_REST, "C"), 12, False),
    ("adhd", "no interference", INATTENTIVE[:6] + without(ADHD_REST, "D"), 12, False),
    ("adhd", "better explained", INATTENTIVE[:6] + without(ADHD_REST, "E"), 12, False),
    ("adhd", "under 6 months", INATTENTIVE[:6] + without(ADHD_REST, "A-duration"), 12, False),
    # Bipolar I: 3 of B1-B7 with elevated/expansive mood, 4 when the mood is only irritable.
    ("bipolar1", "elevated, 3 symptoms", ["M-A1", "M-B1", "M-B2", "M-B3", *MANIA_REST], None, True),
    ("bipolar1", "elevated, 2 symptoms", ["M-A1", "M-B1", "M-B2", *MANIA_REST], None, False),
    ("bipolar1", "only irritable, 3 symptoms", ["M-A2", "M-B1", "M-B2", "M-B3", *MANIA_REST], None, False),
    ("bipolar1", "only irritable, 4 symptoms", ["M-A2", "M-B1", "M-B2", "M-B3", "M-B4", *MANIA_REST], None, True),
    ("bipolar1", "elevated and irritable, 3", ["M-A1", "M-A2", "M-B1", "M-B2", "M-B3", *MANIA_REST], None, True),
    ("bipolar1", "no mood change", ["M-B1", "M-B2", "M-B3", "M-B4", *MANIA_REST], None, False),
    ("bipolar1", "under a week", [*MANIA_3, *without(MANIA_REST, "M-A4")], None, False),
    ("bipolar1", "no marked impairment", [*MANIA_3, *without(MANIA_REST, "M-C")], None, False),
    ("bipolar1", "substance-induced", [*MANIA_3, *without(MANIA_REST, "M-D")], None, False),
    ("bipolar1", "schizoaffective", [*MANIA_3, *without(MANIA_REST, "B")], None, False),
    # Bipolar II: a hypomanic episode, a major depressive episode, and never a manic episode.
    ("bipolar2", "elevated, 3 symptoms", ["H-A1", "H-B1", "H-B2", "H-B3", *HYPOMANIA_REST], None, True),
    ("bipolar2", "elevated, 2 symptoms", ["H-A1", "H-B1", "H-B2", *HYPOMANIA_REST], None, False),
    ("bipolar2", "only irritable, 3 symptoms", ["H-A2", "H-B1", "H-B2", "H-B3", *HYPOMANIA_REST], None, False),
    ("bipolar2", "only irritable, 4 symptoms", ["H-A2", "H-B1", "H-B2", "H-B3", "H-B4", *HYPOMANIA_REST], None, True),
    ("bipolar2", "no depressive episode", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "A-MDE")], None, False),
    ("bipolar2", "a past manic episode", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "B")], None, False),
    ("bipolar2", "severe enough for mania", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "H-E")], None, False),
    ("bipolar2", "under 4 days", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "H-A4")], None, False),
    ("bipolar2", "not observed by others", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "H-D")], None, False),
    ("bipolar2", "no distress", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "D")], None, False),
    ("bipolar2", "no mood change", ["H-B1", "H-B2", "H-B3", "H-B4", *HYPOMANIA_REST], None, False),
    ("bipolar2", "no change in functioning", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "H-C")], None, False),
    ("bipolar2", "substance-induced", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "H-F")], None, False),
    ("bipolar2", "schizoaffective", [*HYPOMANIA_3, *without(HYPOMANIA_REST, "C")], None, False),
]


@pytest.mark.parametrize(("key", "case", "met", "age", "reached"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_threshold(key: str, case: str, met: list[str], age: int | None, reached: bool) -> None:
    evaluation = run(key, met, age)
    assert evaluation.reached is reached, evaluation.summary
    assert evaluation.reached is all(r.met for r in evaluation.results)


def test_a_set_without_the_criterion_it_misses_names_only_that_requirement() -> None:
    evaluation = run("mdd", ["A1", "A3", "A4", "A5", *MDD_REST])
    assert [r.label for r in evaluation.unmet] == ["A. Symptoms"]
    assert evaluation.summary == "Threshold not reached: A. Symptoms."


@pytest.mark.parametrize(
    ("met", "explanation", "count", "needed"),
    [
        (["A1", "A3", "A4", "A5"], "4 of 9 met; needs 5, including depressed mood or loss of interest", 4, 5),
        (["A1", "A3", "A4", "A5", "A6"], "5 of 9 met; needs 5, including depressed mood or loss of interest", 5, 5),
        (
            ["A3", "A4", "A5", "A6", "A7"],
            "5 of 9 met; needs 5, including depressed mood or loss of interest (none met)",
            5,
            5,
        ),
    ],
)
def test_mdd_symptom_explanations(met: list[str], explanation: str, count: int, needed: int) -> None:
    result = run("mdd", met).results[0]
    assert (result.explanation, result.count, result.needed) == (explanation, count, needed)


def test_bipolar_explanations_say_why_four_are_needed() -> None:
    irritable = run("bipolar1", ["M-A2", "M-B1", "M-B2", "M-B3"]).results[2]
    assert (irritable.met, irritable.count, irritable.needed) == (False, 3, 4)
    assert irritable.explanation == "3 of 7 met; needs 4 (3 with elevated or expansive mood)"
    elevated = run("bipolar1", ["M-A1", "M-B1", "M-B2", "M-B3"]).results[2]
    assert (elevated.met, elevated.needed) == (True, 3)
    assert elevated.explanation == "3 of 7 met; needs 3 (with elevated or expansive mood)"


@pytest.mark.parametrize(
    ("age", "needed", "note"), [(12, 1, "under 18"), (18, 3, "age 18 or older"), (None, 3, "adult")]
)
def test_gad_age_thresholds_are_explained(age: int | None, needed: int, note: str) -> None:
    result = run("gad", ["C1"], age).results[2]
    assert result.needed == needed
    assert note in result.explanation


@pytest.mark.parametrize(
    ("met", "age", "presentation"),
    [
        (INATTENTIVE[:6] + HYPERACTIVE[:6], 12, "combined"),
        (INATTENTIVE[:6] + HYPERACTIVE[:5], 12, "predominantly inattentive"),
        (INATTENTIVE[:5] + HYPERACTIVE[:6], 12, "predominantly hyperactive/impulsive"),
        (INATTENTIVE[:5] + HYPERACTIVE[:5], 17, "combined"),
        (INATTENTIVE[:5] + HYPERACTIVE[:5], 16, ""),
        (INATTENTIVE + HYPERACTIVE[:4], None, "predominantly inattentive"),
    ],
)
def test_adhd_presentations(met: list[str], age: int | None, presentation: str) -> None:
    evaluation = run("adhd", met + ADHD_REST, age)
    assert evaluation.presentation == presentation
    assert evaluation.reached is bool(presentation)
    if presentation:
        assert evaluation.summary.endswith(f"; {presentation} presentation.")


def test_presentation_is_empty_when_the_threshold_is_not_reached_or_for_other_sets() -> None:
    assert run("adhd", INATTENTIVE + HYPERACTIVE, 12).presentation == ""  # B-E missing
    assert run("mdd", criteria.get("mdd").ids).presentation == ""


def test_either_rule_counts_its_branches() -> None:
    result = run("adhd", INATTENTIVE[:6], 12).results[0]
    assert (result.met, result.count, result.needed) == (True, 1, 1)
    assert "A1. Inattention: 6 of 9 met; needs 6 (under 17)." in result.explanation
    assert "A2. Hyperactivity and impulsivity: 0 of 9 met" in result.explanation


def test_evaluation_lists_met_ids_in_set_order_and_summarizes() -> None:
    evaluation = run("mdd", ["E", "A1", "D", "C", "B", "A-duration", "A6", "A5", "A4", "A3"])
    assert evaluation.met == ("A1", "A3", "A4", "A5", "A6", "A-duration", "B", "C", "D", "E")
    assert evaluation.set_key == "mdd"
    assert evaluation.summary == "Threshold reached: all 6 requirements met."


@pytest.mark.parametrize(
    ("met", "age"),
    [(["A1", "Z9"], None), (["a1"], None), ("A1", None), (["A1"], -1), (["A1"], True)],
    ids=["unknown id", "wrong case", "a bare string", "negative age", "boolean age"],
)
def test_evaluate_refuses_bad_input(met: Any, age: Any) -> None:
    with pytest.raises(CriteriaError):
        criteria.evaluate(criteria.get("mdd"), met, age=age)


# Validation of the data file


def broken(change: Any) -> dict[str, Any]:
    raw = data_file()
    change(raw)
    return raw


def _set(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in raw["sets"] if s["key"] == key)


def _rule(raw: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    return next(r for r in _set(raw, key)["requirements"] if r["label"] == label)


def _dup_id(raw: dict[str, Any]) -> None:
    _set(raw, "mdd")["criteria"].append(copy.deepcopy(_set(raw, "mdd")["criteria"][0]))


def _unknown_id(raw: dict[str, Any]) -> None:
    _rule(raw, "mdd", "B. Distress or impairment")["of"].append("Z9")


def _n_too_large(raw: dict[str, Any]) -> None:
    _rule(raw, "mdd", "A. Symptoms")["n"] = 10


def _age_n_too_large(raw: dict[str, Any]) -> None:
    _rule(raw, "gad", "C. Associated symptoms")["under_age"][0]["n"] = 7


def _unknown_kind(raw: dict[str, Any]) -> None:
    _rule(raw, "mdd", "B. Distress or impairment")["kind"] = "most"


def _unknown_nested_kind(raw: dict[str, Any]) -> None:
    _rule(raw, "adhd", "A. Symptoms")["rules"][0]["kind"] = "any"


def _unknown_field(raw: dict[str, Any]) -> None:
    _rule(raw, "gad", "C. Associated symptoms")["under_ages"] = []


def _including_outside(raw: dict[str, Any]) -> None:
    _rule(raw, "mdd", "A. Symptoms")["including"]["of"] = ["A1", "B"]


def _raising_if_met(raw: dict[str, Any]) -> None:
    _rule(raw, "bipolar1", "Mania B. Symptoms")["if_met"][0]["n"] = 5


def _if_met_unknown(raw: dict[str, Any]) -> None:
    _rule(raw, "bipolar1", "Mania B. Symptoms")["if_met"][0]["criterion"] = "M-A9"


def _unused_criterion(raw: dict[str, Any]) -> None:
    _set(raw, "gad")["criteria"].append({"id": "G", "text": "Unused.", "group": "G"})


def _presentation_unknown_rule(raw: dict[str, Any]) -> None:
    _set(raw, "adhd")["presentations"][0]["met"] = ["inattention", "impulsivity"]


def _duplicate_set(raw: dict[str, Any]) -> None:
    raw["sets"].append(copy.deepcopy(raw["sets"][0]))


def _zero_n(raw: dict[str, Any]) -> None:
    _rule(raw, "ptsd", "A. Exposure to a traumatic event")["n"] = 0


def _verified_string(raw: dict[str, Any]) -> None:
    _set(raw, "mdd")["verified"] = "no"


def _repeated_in_list(raw: dict[str, Any]) -> None:
    _rule(raw, "ptsd", "C. Persistent avoidance since the event")["of"] = ["C1", "C1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_dup_id, "duplicate criterion id"),
        (_unknown_id, "unknown criteria Z9"),
        (_n_too_large, "needs 10 but lists only 9"),
        (_age_n_too_large, "needs 7 but lists only 6"),
        (_unknown_kind, "unknown rule kind 'most'"),
        (_unknown_nested_kind, "unknown rule kind 'any'"),
        (_unknown_field, "unknown field(s) under_ages"),
        (_including_outside, "subset"),
        (_raising_if_met, "may only lower"),
        (_if_met_unknown, "unknown criteria M-A9"),
        (_unused_criterion, "no requirement uses criteria G"),
        (_presentation_unknown_rule, "unknown rules impulsivity"),
        (_duplicate_set, "appears twice"),
        (_zero_n, "at least 1"),
        (_verified_string, "'verified'"),
        (_repeated_in_list, "repeats an id"),
    ],
)
def test_parse_refuses_a_broken_file(change: Any, message: str) -> None:
    with pytest.raises(CriteriaError) as error:
        criteria.parse(broken(change))
    assert message in str(error.value)


def test_parse_accepts_the_file_as_it_is() -> None:
    assert list(criteria.parse(data_file())) == SETS


# Monotonic: with every criterion phrased positively, ticking one more never undoes a reached threshold.


@st.composite
def ticks(draw: st.DrawFn, key: str) -> tuple[list[str], str, int | None]:
    ids = list(criteria.get(key).ids)
    if draw(st.booleans()):
        # Near the threshold: everything but a few.
        dropped = draw(st.sets(st.sampled_from(ids), min_size=1, max_size=5))
        met = [i for i in ids if i not in dropped]
    else:
        met = sorted(draw(st.sets(st.sampled_from(ids))))
    extra = draw(st.sampled_from(ids))
    age = draw(st.none() | st.integers(min_value=6, max_value=80))
    return met, extra, age


@pytest.mark.parametrize("key", SETS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_adding_a_met_criterion_never_undoes_a_reached_threshold(key: str, data: st.DataObject) -> None:
    met, extra, age = data.draw(ticks(key))
    before = run(key, met, age)
    after = run(key, [*met, extra], age)
    if before.reached:
        assert after.reached, (met, extra, age)
    for old, new in zip(before.results, after.results, strict=True):
        assert new.count >= old.count
        assert new.met or not old.met, (old, new)
