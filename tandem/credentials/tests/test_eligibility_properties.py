"""Properties of the engine over generated credential sets."""

from __future__ import annotations

import datetime
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.credentials.eligibility import Credentials, Fact, decide

STATES = ["OR", "WA", "ID", "CA", "NY", "TX", "CO"]
DISCIPLINES = ["psychiatrist", "pmhnp", "psychologist", "counselor"]
DRUGS = ["sertraline", "clonazepam", "methylphenidate", "buprenorphine", "diazepam"]
PAYERS = ["aetna", "medicare"]
D = datetime.date

dates = st.one_of(st.none(), st.dates(min_value=D(2024, 1, 1), max_value=D(2028, 12, 31)))


@st.composite
def facts(draw: st.DrawFn) -> Fact:
    kind = draw(st.sampled_from(["licence", "compact", "dea", "csr", "enrollment", "collaboration"]))
    subtype = {
        "licence": st.sampled_from(["MD", "NP", "PSY", "LPC"]),
        "compact": st.sampled_from(["psypact_apit", "counseling"]),
        "enrollment": st.sampled_from(PAYERS),
    }.get(kind, st.just(""))
    schedules = st.frozensets(st.sampled_from(["II", "III", "IV", "V"])) if kind == "dea" else st.just(frozenset())
    return Fact(
        kind=kind,
        state=draw(st.sampled_from(STATES)),
        status=draw(st.sampled_from(["active", "active", "suspended"])),
        issued_on=draw(dates),
        expires_on=draw(dates),
        subtype=draw(subtype),
        schedules=draw(schedules),
        number=draw(st.sampled_from(["1", "2"])),
    )


questions = st.fixed_dictionaries(
    {
        "state": st.sampled_from(STATES),
        "at": st.datetimes(
            min_value=datetime.datetime(2025, 1, 1),
            max_value=datetime.datetime(2028, 6, 30),
            timezones=st.just(zoneinfo.ZoneInfo("UTC")),
        ),
        "action": st.sampled_from(["see", "see-audio", "prescribe", "bill"]),
        "drug": st.sampled_from(DRUGS),
        "payer": st.sampled_from(PAYERS),
        "in_person_evaluated": st.booleans(),
    }
)


@settings(max_examples=400, deadline=None)
@given(discipline=st.sampled_from(DISCIPLINES), held=st.frozensets(facts(), max_size=8), extra=facts(), q=questions)
def test_adding_a_credential_never_removes_an_allowance(
    discipline: str, held: frozenset[Fact], extra: Fact, q: dict
) -> None:
    before = decide(Credentials(discipline, held), **q)
    after = decide(Credentials(discipline, held | {extra}), **q)
    assert not (before.allowed and not after.allowed)


@settings(max_examples=400, deadline=None)
@given(
    discipline=st.sampled_from(DISCIPLINES),
    held=st.frozensets(facts(), min_size=1, max_size=8),
    q=questions,
    data=st.data(),
)
def test_removing_a_credential_never_adds_an_allowance(
    discipline: str, held: frozenset[Fact], q: dict, data: st.DataObject
) -> None:
    removed = data.draw(st.sampled_from(sorted(held, key=repr)))
    before = decide(Credentials(discipline, held), **q)
    after = decide(Credentials(discipline, held - {removed}), **q)
    assert not (after.allowed and not before.allowed)


@settings(max_examples=300, deadline=None)
@given(discipline=st.sampled_from(DISCIPLINES), held=st.lists(facts(), max_size=8), q=questions)
def test_the_same_inputs_always_give_the_same_answer(discipline: str, held: list[Fact], q: dict) -> None:
    first = decide(Credentials(discipline, frozenset(held)), **q)
    again = decide(Credentials(discipline, frozenset(reversed(held))), **q)
    assert first == again
