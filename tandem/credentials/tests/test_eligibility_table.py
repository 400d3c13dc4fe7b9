"""The eligibility engine, case by case, from the clinical reference (section 3)."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

import pytest

from tandem.credentials.eligibility import Credentials, Fact, decide

D = datetime.date
LICENCE_EXPIRY = D(2027, 6, 30)
LONG = D(2029, 12, 31)
DEA_EXPIRY = D(2027, 3, 31)


def lic(state: str, kind: str = "MD", expires: D | None = LICENCE_EXPIRY, status: str = "active") -> Fact:
    return Fact("licence", state, status, D(2015, 1, 1), expires, subtype=kind, number=f"{kind}-{state}-1")


def dea(state: str, schedules: str = "II III IV V", expires: D | None = DEA_EXPIRY) -> Fact:
    return Fact(
        "dea", state, "active", D(2020, 1, 1), expires, schedules=frozenset(schedules.split()), number="FR1234563"
    )


def csr(state: str) -> Fact:
    return Fact("csr", state, "active", D(2020, 1, 1), D(2027, 12, 31), number="CSR-1")


def compact(kind: str, state: str = "") -> Fact:
    return Fact("compact", state, "active", D(2024, 1, 1), D(2027, 12, 31), subtype=kind, number="P-1")


def enrolled(payer: str, state: str, expires: D | None = None) -> Fact:
    return Fact("enrollment", state, "active", D(2024, 1, 1), expires, subtype=payer)


def collab(state: str) -> Fact:
    return Fact("collaboration", state, "active", D(2024, 1, 1), None)


def creds(discipline: str, *facts: Fact) -> Credentials:
    return Credentials(discipline=discipline, facts=frozenset(facts))


def at(text: str, zone: str = "UTC") -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone))


PSYCHIATRIST_OR_WA = creds("psychiatrist", lic("OR"), lic("WA"), dea("OR"))
NOON = at("2026-11-27T20:00:00")  # noon in Oregon


@dataclass(frozen=True)
class Case:
    name: str
    creds: Credentials
    state: str
    action: str
    allowed: bool
    code: str
    when: datetime.datetime = NOON
    drug: str = ""
    payer: str = ""
    in_person: bool = False


CASES = [
    # Seeing patients by video.
    Case("licensed in the patient's state", PSYCHIATRIST_OR_WA, "WA", "see", True, "licensed_in_state"),
    Case("no licence in the patient's state", PSYCHIATRIST_OR_WA, "ID", "see", False, "no_licence"),
    Case(
        "home-state licence does not reach another state",
        creds("psychiatrist", lic("OR")),
        "CA",
        "see",
        False,
        "no_licence",
    ),
    Case(
        "expired yesterday",
        creds("psychiatrist", lic("WA", expires=D(2026, 11, 26))),
        "WA",
        "see",
        False,
        "licence_expired",
    ),
    Case(
        "expires today, still valid at 11:59 pm in the state",
        creds("psychiatrist", lic("WA", expires=D(2026, 11, 27))),
        "WA",
        "see",
        True,
        "licensed_in_state",
        when=at("2026-11-27T23:59:00", "America/Los_Angeles"),
    ),
    Case(
        "expires today, lapsed at midnight in the state",
        creds("psychiatrist", lic("WA", expires=D(2026, 11, 27))),
        "WA",
        "see",
        False,
        "licence_expired",
        when=at("2026-11-28T00:00:00", "America/Los_Angeles"),
    ),
    Case(
        "midnight is the state's, not UTC's: 7 am UTC is still the last day in Oregon",
        creds("psychiatrist", lic("OR", expires=D(2026, 11, 27))),
        "OR",
        "see",
        True,
        "licensed_in_state",
        when=at("2026-11-28T07:30:00"),
    ),
    Case(
        "midnight in New York comes earlier",
        creds("psychiatrist", lic("NY", expires=D(2026, 11, 27))),
        "NY",
        "see",
        False,
        "licence_expired",
        when=at("2026-11-28T05:30:00"),
    ),
    Case(
        "a suspended licence does not count",
        creds("psychiatrist", lic("WA", status="suspended")),
        "WA",
        "see",
        False,
        "licence_not_active",
    ),
    Case(
        "a licence not yet issued does not count",
        creds("psychiatrist", Fact("licence", "WA", "active", D(2027, 1, 1), None, subtype="MD", number="x")),
        "WA",
        "see",
        False,
        "licence_not_active",
    ),
    Case(
        "an IMLC-issued licence counts like any licence",
        creds("psychiatrist", lic("CO")),
        "CO",
        "see",
        True,
        "licensed_in_state",
    ),
    Case(
        "Counseling Compact privilege counted",
        creds("counselor", lic("OR", "LPC"), compact("counseling", "WA")),
        "WA",
        "see",
        True,
        "compact_privilege",
    ),
    Case(
        "Counseling Compact privilege is for its own state only",
        creds("counselor", lic("OR", "LPC"), compact("counseling", "WA")),
        "ID",
        "see",
        False,
        "no_licence",
    ),
    Case(
        "PSYPACT APIT into a member state",
        creds("psychologist", lic("OR", "PSY"), compact("psypact_apit")),
        "WA",
        "see",
        True,
        "compact_privilege",
    ),
    Case(
        "PSYPACT APIT does not reach a non-member",
        creds("psychologist", lic("OR", "PSY"), compact("psypact_apit")),
        "CA",
        "see",
        False,
        "no_licence",
    ),
    Case("unknown state", PSYCHIATRIST_OR_WA, "ZZ", "see", False, "unknown_state"),
    # Audio only.
    Case("audio-only visit where licensed", PSYCHIATRIST_OR_WA, "WA", "see-audio", True, "audio_only"),
    Case("audio-only visit where not licensed", PSYCHIATRIST_OR_WA, "ID", "see-audio", False, "no_licence"),
    # Prescribing, not controlled.
    Case(
        "sertraline in a licensed state",
        PSYCHIATRIST_OR_WA,
        "WA",
        "prescribe",
        True,
        "not_controlled",
        drug="sertraline",
    ),
    Case(
        "sertraline where not licensed", PSYCHIATRIST_OR_WA, "ID", "prescribe", False, "no_licence", drug="sertraline"
    ),
    Case(
        "a psychologist asked to prescribe",
        creds("psychologist", lic("WA", "PSY")),
        "WA",
        "prescribe",
        False,
        "discipline_cannot_prescribe",
        drug="sertraline",
    ),
    Case(
        "a counsellor asked to prescribe",
        creds("counselor", lic("WA", "LPC")),
        "WA",
        "prescribe",
        False,
        "discipline_cannot_prescribe",
        drug="sertraline",
    ),
    Case("a drug not in the catalog", PSYCHIATRIST_OR_WA, "WA", "prescribe", False, "unknown_drug", drug="unobtainium"),
    Case(
        "drug names ignore case and spaces",
        PSYCHIATRIST_OR_WA,
        "OR",
        "prescribe",
        True,
        "not_controlled",
        drug=" Sertraline ",
    ),
    Case(
        "a compact privilege never carries prescribing",
        creds("psychiatrist", lic("OR"), compact("counseling", "WA")),
        "WA",
        "prescribe",
        False,
        "no_licence",
        drug="sertraline",
    ),
    # Controlled substances.
    Case(
        "clonazepam with DEA in the state",
        PSYCHIATRIST_OR_WA,
        "OR",
        "prescribe",
        True,
        "dea_registered",
        drug="clonazepam",
    ),
    Case(
        "DEA registration in the wrong state",
        PSYCHIATRIST_OR_WA,
        "WA",
        "prescribe",
        False,
        "dea_not_registered_in_state",
        drug="clonazepam",
    ),
    Case(
        "a schedule the registration doesn't cover",
        creds("psychiatrist", lic("OR"), dea("OR", "III IV V")),
        "OR",
        "prescribe",
        False,
        "dea_schedule_not_covered",
        drug="methylphenidate",
    ),
    Case(
        "a DEA registration that has lapsed",
        creds("psychiatrist", lic("OR"), dea("OR", expires=D(2026, 1, 31))),
        "OR",
        "prescribe",
        False,
        "dea_expired",
        drug="diazepam",
    ),
    Case(
        "Schedule II by telemedicine during the flexibilities",
        PSYCHIATRIST_OR_WA,
        "OR",
        "prescribe",
        True,
        "telemedicine_flexibilities",
        drug="methylphenidate",
        when=at("2026-12-31T12:00:00", "America/Los_Angeles"),
    ),
    Case(
        "Schedule II by telemedicine on 2027-01-01 cites the expired rule",
        PSYCHIATRIST_OR_WA,
        "OR",
        "prescribe",
        False,
        "telemedicine_rule_expired",
        drug="methylphenidate",
        when=at("2027-01-01T12:00:00", "America/Los_Angeles"),
    ),
    Case(
        "Schedule IV after the flexibilities end",
        PSYCHIATRIST_OR_WA,
        "OR",
        "prescribe",
        False,
        "telemedicine_rule_expired",
        drug="clonazepam",
        when=at("2027-02-01T12:00:00", "America/Los_Angeles"),
    ),
    Case(
        "after the flexibilities, an in-person evaluation on file opens the way",
        PSYCHIATRIST_OR_WA,
        "OR",
        "prescribe",
        True,
        "in_person_evaluation",
        drug="methylphenidate",
        when=at("2027-01-01T12:00:00", "America/Los_Angeles"),
        in_person=True,
    ),
    Case(
        "buprenorphine under its own rule after the flexibilities",
        creds("psychiatrist", lic("OR"), dea("OR")),
        "OR",
        "prescribe",
        True,
        "buprenorphine_rule",
        drug="buprenorphine",
        when=at("2027-03-01T12:00:00", "America/Los_Angeles"),
    ),
    Case(
        "a state that requires its own registration",
        creds("psychiatrist", lic("ID"), dea("ID")),
        "ID",
        "prescribe",
        False,
        "state_csr_missing",
        drug="clonazepam",
    ),
    Case(
        "with that state's registration",
        creds("psychiatrist", lic("ID"), dea("ID"), csr("ID")),
        "ID",
        "prescribe",
        True,
        "dea_registered",
        drug="clonazepam",
    ),
    # Nurse practitioners.
    Case(
        "NP in a full-practice state",
        creds("pmhnp", lic("OR", "NP")),
        "OR",
        "prescribe",
        True,
        "np_full_practice",
        drug="sertraline",
    ),
    Case(
        "NP in a restricted state without an agreement",
        creds("pmhnp", lic("CA", "NP")),
        "CA",
        "prescribe",
        False,
        "np_collaboration_required",
        drug="sertraline",
    ),
    Case(
        "NP in a restricted state with an agreement",
        creds("pmhnp", lic("CA", "NP"), collab("CA")),
        "CA",
        "prescribe",
        True,
        "np_collaboration",
        drug="sertraline",
    ),
    Case(
        "an RN-only licence cannot prescribe",
        creds("pmhnp", lic("OR", "LPC")),
        "OR",
        "prescribe",
        False,
        "licence_cannot_prescribe",
        drug="sertraline",
    ),
    # Billing.
    Case(
        "enrolled with the payer in the state",
        creds("psychiatrist", lic("WA"), enrolled("aetna", "WA")),
        "WA",
        "bill",
        True,
        "payer_enrolled",
        payer="aetna",
    ),
    Case(
        "payer enrollment missing",
        creds("psychiatrist", lic("WA"), enrolled("aetna", "OR")),
        "WA",
        "bill",
        False,
        "payer_not_enrolled",
        payer="aetna",
    ),
    Case(
        "payer enrollment ended",
        creds("psychiatrist", lic("WA"), enrolled("aetna", "WA", D(2026, 6, 30))),
        "WA",
        "bill",
        False,
        "payer_not_enrolled",
        payer="aetna",
    ),
    Case(
        "enrolled but not licensed there",
        creds("psychiatrist", lic("OR"), enrolled("aetna", "WA")),
        "WA",
        "bill",
        False,
        "no_licence",
        payer="aetna",
    ),
    Case(
        "Medicare before its in-person requirement starts",
        creds("psychiatrist", lic("WA", expires=LONG), enrolled("medicare", "WA")),
        "WA",
        "bill",
        True,
        "payer_enrolled",
        payer="medicare",
        when=at("2027-12-31T12:00:00", "America/Los_Angeles"),
    ),
    Case(
        "Medicare from 2028 without an in-person visit",
        creds("psychiatrist", lic("WA", expires=LONG), enrolled("medicare", "WA")),
        "WA",
        "bill",
        False,
        "medicare_in_person_required",
        payer="medicare",
        when=at("2028-01-02T12:00:00", "America/Los_Angeles"),
    ),
    Case(
        "Medicare from 2028 with an in-person visit on file",
        creds("psychiatrist", lic("WA", expires=LONG), enrolled("medicare", "WA")),
        "WA",
        "bill",
        True,
        "payer_enrolled",
        payer="medicare",
        when=at("2028-01-02T12:00:00", "America/Los_Angeles"),
        in_person=True,
    ),
    Case("no payer named", creds("psychiatrist", lic("WA")), "WA", "bill", False, "payer_missing"),
]


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decision(case: Case) -> None:
    decision = decide(
        case.creds,
        state=case.state,
        at=case.when,
        action=case.action,
        drug=case.drug,
        payer=case.payer,
        in_person_evaluated=case.in_person,
    )
    assert decision.allowed is case.allowed
    codes = [r.code for r in decision.reasons]
    assert case.code in codes, codes
    assert all(r.text for r in decision.reasons)
    assert decision.rules_version.startswith("rules ")


def test_the_expired_rule_is_named_with_its_end_date() -> None:
    decision = decide(
        PSYCHIATRIST_OR_WA,
        state="OR",
        at=at("2027-01-01T12:00:00", "America/Los_Angeles"),
        action="prescribe",
        drug="methylphenidate",
    )
    [reason] = [r for r in decision.reasons if r.code == "telemedicine_rule_expired"]
    assert "DEA telemedicine flexibilities" in reason.text and "2026-12-31" in reason.text
