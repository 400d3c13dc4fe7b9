"""The drug catalog (credentials/data/drugs.toml) against the clinical reference, section 5."""

from __future__ import annotations

import re
import tomllib

import pytest

from tandem.credentials import rules
from tandem.medications import monitoring

DRUGS = rules.current().drugs
STRENGTH = re.compile(r"\d+(\.\d+)? (mg|mcg|mEq)(/(\d+(\.\d+)? )?mL)?\Z")

# Every RxCUI clinical.md section 5 gives (cpicpgx/cpic-schema drug.sql).
REFERENCE_RXCUIS = {
    "sertraline": "36437",
    "fluoxetine": "4493",
    "escitalopram": "321988",
    "citalopram": "2556",
    "paroxetine": "32937",
    "fluvoxamine": "42355",
    "venlafaxine": "39786",
    "duloxetine": "72625",
    "bupropion": "42347",
    "mirtazapine": "15996",
    "vortioxetine": "1455099",
    "amitriptyline": "704",
    "nortriptyline": "7531",
    "clomipramine": "2597",
    "valproic acid": "11118",
    "divalproex": "266856",
    "lamotrigine": "28439",
    "carbamazepine": "2002",
    "oxcarbazepine": "32624",
    "aripiprazole": "89013",
    "brexpiprazole": "1658314",
    "olanzapine": "61381",
    "risperidone": "35636",
    "iloperidone": "73178",
    "haloperidol": "5093",
    "clozapine": "2626",
    "diazepam": "3322",
    "methylphenidate": "6901",
    "atomoxetine": "38400",
    "modafinil": "30125",
    "naltrexone": "7243",
    "methadone": "6813",
}

# Drugs the reference lists without a code ("uv"), and the adjuncts it does not list.
NO_CODE = [
    "trazodone",
    "lithium",
    "quetiapine",
    "alprazolam",
    "clonazepam",
    "lorazepam",
    "amphetamine",
    "lisdexamfetamine",
    "buprenorphine",
    "hydroxyzine",
    "buspirone",
    "prazosin",
    "propranolol",
]

# name: (schedule, oud). Every other drug in the catalog must be uncontrolled.
CONTROLLED = {
    "clonazepam": ("IV", False),
    "diazepam": ("IV", False),
    "lorazepam": ("IV", False),
    "alprazolam": ("IV", False),
    "methylphenidate": ("II", False),
    "lisdexamfetamine": ("II", False),
    "amphetamine": ("II", False),
    "modafinil": ("IV", False),
    "buprenorphine": ("III", True),
    "methadone": ("II", True),
}

# The classes of section 5, each with one drug that must carry it.
SECTION_5_CLASSES = {
    "SSRI": "sertraline",
    "SNRI": "venlafaxine",
    "Other antidepressant": "bupropion",
    "TCA": "amitriptyline",
    "Lithium": "lithium",
    "Anticonvulsant mood stabiliser": "divalproex",
    "Second-generation antipsychotic": "olanzapine",
    "First-generation antipsychotic": "haloperidol",
    "Clozapine": "clozapine",
    "Benzodiazepine": "alprazolam",
    "Stimulant": "amphetamine",
    "Non-stimulant": "atomoxetine",
    "Wake-promoting": "modafinil",
    "OUD treatment": "methadone",
    "OUD / AUD treatment": "naltrexone",
}

# The starter catalog (drugs.toml 2026-11-27.1): these values must not change.
STARTER = [
    ("sertraline", "SSRI", "36437", "", False, True),
    ("fluoxetine", "SSRI", "4493", "", False, True),
    ("escitalopram", "SSRI", "321988", "", False, True),
    ("citalopram", "SSRI", "2556", "", False, True),
    ("venlafaxine", "SNRI", "39786", "", False, True),
    ("duloxetine", "SNRI", "72625", "", False, True),
    ("bupropion", "Other antidepressant", "42347", "", False, True),
    ("mirtazapine", "Other antidepressant", "15996", "", False, True),
    ("lamotrigine", "Anticonvulsant mood stabiliser", "28439", "", False, True),
    ("aripiprazole", "Second-generation antipsychotic", "89013", "", False, True),
    ("clozapine", "Clozapine", "2626", "", False, True),
    ("diazepam", "Benzodiazepine", "3322", "IV", False, True),
    ("clonazepam", "Benzodiazepine", "", "IV", False, False),
    ("lorazepam", "Benzodiazepine", "", "IV", False, False),
    ("methylphenidate", "Stimulant", "6901", "II", False, True),
    ("lisdexamfetamine", "Stimulant", "", "II", False, False),
    ("atomoxetine", "Non-stimulant", "38400", "", False, True),
    ("modafinil", "Wake-promoting", "30125", "IV", False, False),
    ("buprenorphine", "OUD treatment", "", "III", True, False),
    ("naltrexone", "OUD / AUD treatment", "7243", "", False, True),
]

# name: monitoring class the reference's "what to track" column calls for.
MONITORING = {
    "lithium": "lithium",
    "valproic acid": "valproate",
    "divalproex": "valproate",
    "carbamazepine": "carbamazepine",
    "oxcarbazepine": "oxcarbazepine",
    "aripiprazole": "sga",
    "brexpiprazole": "sga",
    "olanzapine": "sga",
    "risperidone": "sga",
    "quetiapine": "sga",
    "iloperidone": "sga_qt",
    "clozapine": "clozapine",
    "haloperidol": "fga",
    "amitriptyline": "tca",
    "clomipramine": "tca",
    "nortriptyline": "nortriptyline",
    "citalopram": "citalopram",
    "venlafaxine": "venlafaxine",
    "methylphenidate": "stimulant",
    "lisdexamfetamine": "stimulant",
    "amphetamine": "stimulant",
    "naltrexone": "naltrexone",
    "methadone": "methadone",
    "buprenorphine": "buprenorphine",
}


@pytest.mark.parametrize("drug", DRUGS.values(), ids=lambda d: d.name)
def test_every_drug_is_complete(drug: rules.Drug) -> None:
    assert drug.drug_class.strip()
    assert drug.schedule in rules.SCHEDULES
    assert drug.display.strip()
    assert drug.forms and all(form.strip() for form in drug.forms)
    assert drug.strengths and all(STRENGTH.match(s) for s in drug.strengths), drug.strengths
    assert drug.dose_unit in {"mg", "mcg"}
    assert any(s.split("/")[0].endswith(f" {drug.dose_unit}") for s in drug.strengths)
    assert drug.usual_daily_min is not None and drug.usual_daily_max is not None
    assert 0 < drug.usual_daily_min <= drug.usual_daily_max
    assert drug.rxcui == "" or drug.rxcui.isdigit()
    assert drug.monitoring == "" or drug.monitoring in monitoring.classes()


def test_catalog_is_keyed_by_lower_case_name() -> None:
    assert all(key == drug.name.lower() for key, drug in DRUGS.items())


def test_dose_ranges_await_pharmacist_review() -> None:
    # The ranges come from general prescribing knowledge; none is verified yet.
    assert not any(drug.dose_verified for drug in DRUGS.values())
    header = (rules.DATA / "drugs.toml").read_text(encoding="utf-8").split("version =")[0]
    assert "NOT verified" in header and "pharmacist" in header


@pytest.mark.parametrize(("name", "rxcui"), REFERENCE_RXCUIS.items())
def test_reference_rxcuis(name: str, rxcui: str) -> None:
    assert DRUGS[name].rxcui == rxcui


@pytest.mark.parametrize("name", NO_CODE)
def test_drugs_without_a_reference_code_are_unverified(name: str) -> None:
    assert DRUGS[name].rxcui == ""
    assert DRUGS[name].verified is False


def test_a_drug_is_verified_only_with_a_code() -> None:
    assert all(drug.rxcui for drug in DRUGS.values() if drug.verified)


@pytest.mark.parametrize(("name", "expected"), CONTROLLED.items())
def test_controlled_schedules(name: str, expected: tuple[str, bool]) -> None:
    drug = DRUGS[name]
    assert (drug.schedule, drug.oud) == expected
    assert drug.controlled


def test_everything_else_is_uncontrolled_and_not_oud() -> None:
    rest = [drug for name, drug in DRUGS.items() if name not in CONTROLLED]
    assert rest
    assert all(drug.schedule == "" and not drug.controlled and not drug.oud for drug in rest)


@pytest.mark.parametrize(("drug_class", "example"), SECTION_5_CLASSES.items())
def test_every_reference_class_has_an_entry(drug_class: str, example: str) -> None:
    assert DRUGS[example].drug_class == drug_class


@pytest.mark.parametrize(("name", "drug_class", "rxcui", "schedule", "oud", "verified"), STARTER)
def test_starter_entries_keep_their_values(
    name: str, drug_class: str, rxcui: str, schedule: str, oud: bool, verified: bool
) -> None:
    drug = DRUGS[name]
    assert (drug.name, drug.drug_class, drug.rxcui, drug.schedule, drug.oud, drug.verified) == (
        name,
        drug_class,
        rxcui,
        schedule,
        oud,
        verified,
    )


@pytest.mark.parametrize(("name", "key"), MONITORING.items())
def test_monitoring_class_by_drug(name: str, key: str) -> None:
    assert DRUGS[name].monitoring == key


@pytest.mark.parametrize("name", ["sertraline", "escitalopram", "paroxetine", "fluvoxamine", "fluoxetine"])
def test_ssris_other_than_citalopram_use_the_ssri_class(name: str) -> None:
    assert DRUGS[name].monitoring == "ssri"


def _raw() -> tuple[dict, dict]:
    with (rules.DATA / "rules.toml").open("rb") as r, (rules.DATA / "drugs.toml").open("rb") as d:
        return tomllib.load(r), tomllib.load(d)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schedule": "VI"}, "schedule"),
        ({"usual_daily_min": 300, "usual_daily_max": 100}, "usual_daily_min"),
    ],
)
def test_parse_rejects_a_bad_drug(change: dict, message: str) -> None:
    rules_raw, drugs_raw = _raw()
    drugs_raw["drug"][0].update(change)
    with pytest.raises(ValueError, match=message):
        rules.parse(rules_raw, drugs_raw)


def test_parse_rejects_a_duplicate_drug() -> None:
    rules_raw, drugs_raw = _raw()
    drugs_raw["drug"].append({**drugs_raw["drug"][0], "name": "Sertraline"})
    with pytest.raises(ValueError, match="twice"):
        rules.parse(rules_raw, drugs_raw)


def test_parse_fills_defaults_for_a_minimal_entry() -> None:
    rules_raw, drugs_raw = _raw()
    drugs_raw["drug"] = [{"name": "examplamine", "drug_class": "Test", "rxcui": "", "schedule": "", "verified": False}]
    drug = rules.parse(rules_raw, drugs_raw).drugs["examplamine"]
    assert (drug.display, drug.forms, drug.usual_daily_min, drug.monitoring, drug.dose_verified) == (
        "Examplamine",
        (),
        None,
        "",
        False,
    )
