"""The diagnosis catalog: ICD-10-CM code format, the codes the practice needs, checklists that resolve, lookup
and grouped choices, and a loader that refuses broken files."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tandem.plans import criteria, diagnoses
from tandem.plans.diagnoses import CODE_FORMAT, DiagnosisCatalogError

REQUIRED = {
    # code: (criteria key, verified)
    "F32.0": ("mdd", True),
    "F32.1": ("mdd", True),
    "F32.2": ("mdd", True),
    "F32.3": ("mdd", False),
    "F32.4": ("mdd", True),
    "F32.5": ("mdd", True),
    "F32.9": ("mdd", True),
    "F32.A": (None, False),
    "F33.0": ("mdd", True),
    "F33.1": ("mdd", True),
    "F33.2": ("mdd", True),
    "F33.3": ("mdd", False),
    "F33.41": ("mdd", False),
    "F33.42": ("mdd", False),
    "F33.9": ("mdd", False),
    "F34.1": (None, True),
    "F41.1": ("gad", False),
    "F41.0": (None, False),
    "F40.10": (None, False),
    "F41.9": (None, False),
    "F42.2": (None, False),
    "F43.10": ("ptsd", False),
    "F43.0": (None, True),
    "F43.21": (None, True),
    "F43.22": (None, True),
    "F43.23": (None, True),
    "F43.20": (None, False),
    "F90.0": ("adhd", True),
    "F90.1": ("adhd", True),
    "F90.2": ("adhd", True),
    "F90.9": (None, False),
    "F31.81": ("bipolar2", False),
    "F31.11": ("bipolar1", False),
    "F31.12": ("bipolar1", False),
    "F31.13": ("bipolar1", False),
    "F31.31": ("bipolar1", False),
    "F31.32": ("bipolar1", False),
    "F31.4": ("bipolar1", False),
    "F31.9": ("bipolar1", False),
    "F10.10": (None, True),
    "F10.20": (None, False),
    "F11.20": (None, False),
    "F12.20": (None, False),
    "F20.9": (None, False),
    "F25.0": (None, True),
    "F25.1": (None, False),
    "F60.3": (None, False),
    "F50.2": (None, False),
    "G47.00": (None, False),
}


def data_file() -> dict[str, Any]:
    return json.loads(diagnoses.DATA.read_text(encoding="utf-8"))


def test_every_code_has_the_icd10cm_format() -> None:
    for code, diagnosis in diagnoses.catalog().items():
        assert CODE_FORMAT.match(code), code
        assert diagnosis.code == code
        assert diagnosis.name.strip() and diagnosis.group.strip()


@pytest.mark.parametrize(("code", "expected"), sorted(REQUIRED.items()))
def test_required_code_is_there_with_its_checklist_and_review_flag(
    code: str, expected: tuple[str | None, bool]
) -> None:
    diagnosis = diagnoses.catalog()[code]
    assert (diagnosis.criteria, diagnosis.verified) == expected


def test_every_criteria_key_resolves() -> None:
    keys = {d.criteria for d in diagnoses.catalog().values() if d.criteria}
    assert keys == set(criteria.all_sets())
    for key in keys:
        assert criteria.get(key).key == key


def test_major_depressive_codes_map_to_mdd_and_no_others_do() -> None:
    for code, diagnosis in diagnoses.catalog().items():
        is_mdd = code.startswith(("F32.", "F33.")) and code != "F32.A"
        assert (diagnosis.criteria == "mdd") is is_mdd, code
        if is_mdd:
            assert diagnosis.name.startswith("Major depressive disorder")


def test_the_file_tells_reviewers_to_check_against_cms() -> None:
    raw = data_file()
    assert "CMS ICD-10-CM release" in raw["source"]
    assert raw["version"] == "2026-11-28.1"


def test_label() -> None:
    assert diagnoses.catalog()["F33.1"].label == "F33.1 Major depressive disorder, recurrent episode, moderate"


@pytest.mark.parametrize("typed", ["F33.1", "f33.1", " F33.1 ", "f 33.1", "F331", "f33 1"])
def test_lookup_ignores_case_spaces_and_a_missing_dot(typed: str) -> None:
    found = diagnoses.lookup(typed)
    assert found is not None and found.code == "F33.1"


@pytest.mark.parametrize("typed", ["F99.9", "", "F3", "mdd"])
def test_lookup_of_an_unknown_code_is_none(typed: str) -> None:
    assert diagnoses.lookup(typed) is None


def test_lookup_of_a_letter_code() -> None:
    found = diagnoses.lookup("f32a")
    assert found is not None and found.code == "F32.A"


def test_choices_are_grouped_in_file_order() -> None:
    grouped = diagnoses.choices()
    groups = [group for group, _ in grouped]
    assert len(groups) == len(set(groups))
    assert groups[0] == "Depressive disorders"
    flat = [code for _, options in grouped for code, _ in options]
    assert sorted(flat) == sorted(diagnoses.catalog())
    for group, options in grouped:
        for code, label in options:
            assert diagnoses.catalog()[code].group == group
            assert label == diagnoses.catalog()[code].label
    depressive = dict(grouped)["Depressive disorders"]
    assert depressive[0] == ("F32.0", "F32.0 Major depressive disorder, single episode, mild")


def _entry(raw: dict[str, Any], code: str) -> dict[str, Any]:
    return next(d for d in raw["diagnoses"] if d["code"] == code)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: _entry(raw, "F33.1").update(code="F33.1."), "not an ICD-10-CM code"),
        (lambda raw: _entry(raw, "F33.1").update(code="f33.1"), "not an ICD-10-CM code"),
        (lambda raw: _entry(raw, "F33.1").update(code="F3301.12345"), "not an ICD-10-CM code"),
        (lambda raw: raw["diagnoses"].append(copy.deepcopy(_entry(raw, "F33.1"))), "appears twice"),
        (lambda raw: _entry(raw, "F33.1").update(criteria="depression"), "no criteria set 'depression'"),
        (lambda raw: _entry(raw, "F33.1").update(verified="yes"), "'verified'"),
        (lambda raw: _entry(raw, "F33.1").update(name=""), "'name'"),
        (lambda raw: _entry(raw, "F33.1").pop("group"), "missing ['group']"),
        (lambda raw: _entry(raw, "F33.1").update(billable=True), "unknown ['billable']"),
        (lambda raw: raw.update(diagnoses=[]), "non-empty list"),
    ],
)
def test_parse_refuses_a_broken_file(change: Any, message: str) -> None:
    raw = data_file()
    change(raw)
    with pytest.raises(DiagnosisCatalogError) as error:
        diagnoses.parse(raw)
    assert message in str(error.value)


def test_parse_keeps_file_order() -> None:
    raw = data_file()
    assert list(diagnoses.parse(raw)) == [d["code"] for d in raw["diagnoses"]]
