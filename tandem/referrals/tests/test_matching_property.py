"""Properties of matching over generated prescribers, credentials, payers and calendars.

Matching never offers a prescriber the eligibility engine refuses, or one not
enrolled with the patient's payer where the patient is (now, and on the day of
the opening offered); it leaves nobody out
without a reason; with equal preferences the soonest opening comes first; and
a prescriber who speaks the patient's language is never ranked below one who
does not.

Everything here is pure: slots come from ``slots.find_slots``, credentials
are ``Fact`` values, and whether a prescriber qualifies is worked out here,
independently of matching's own helpers (only ``eligibility.decide`` is
shared, as the one authority on licences).
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.credentials.eligibility import Action, Credentials, Fact, decide
from tandem.credentials.rules import current
from tandem.referrals import matching
from tandem.scheduling.slots import Hours, Interval, find_slots

UTC = datetime.UTC
RULES = current()

STATES = ["OR", "WA", "ID", "CA", "NY"]
PAYERS = ["aetna", "cigna", "medicare"]
LICENCE_TYPES = ["MD", "DO", "NP", "LPC"]
STATUSES = ["active", "active", "active", "inactive", "suspended", "pending"]
MOSTLY_ACTIVE = ["active"] * 6 + ["inactive", "suspended"]
CLINICIAN_ZONES = ["America/Los_Angeles", "America/Denver", "America/New_York", "America/Phoenix"]
PATIENT_ZONES = ["America/Los_Angeles", "America/New_York", "Pacific/Honolulu"]
NAMES = ["Avery Lind", "Blake Moreno", "Casey Nakamura"]  # few names, so ties on name happen
LANGUAGES = ["es", "vi", "ru"]
# Around the 2026 clock changes, and an ordinary week.
ANCHORS = [
    datetime.datetime(2026, 3, 5, 12, tzinfo=UTC),
    datetime.datetime(2026, 10, 29, 12, tzinfo=UTC),
    datetime.datetime(2026, 6, 8, 12, tzinfo=UTC),
]
MINUTES = 60
# Parts of the day as the tracker states them: local hours [from, to) where the patient is.
PARTS_OF_DAY = {"morning": (6, 12), "afternoon": (12, 17), "evening": (17, 22)}


@dataclass(frozen=True)
class Generated:
    candidate: matching.Candidate
    computed: tuple[datetime.datetime, ...]  # every slot find_slots gave, in and out of the window


def day_offsets(usual: tuple[int, int]) -> st.SearchStrategy[int | None]:
    # Often within days of the request's day, so edges (expiring today,
    # starting tomorrow) come up; otherwise mostly in the usual range.
    return st.one_of(st.none(), st.integers(-1, 1), st.integers(-3, 3), st.integers(*usual), st.integers(-500, 500))


@st.composite
def facts(
    draw: st.DrawFn,
    kind: str,
    subtypes: list[str],
    today: datetime.date,
    states: list[str] = STATES,
    statuses: list[str] = STATUSES,
) -> Fact:
    issued = draw(day_offsets((-500, 0)))
    expires = draw(day_offsets((0, 500)))
    return Fact(
        kind=kind,
        state=draw(st.sampled_from(states)),
        status=draw(st.sampled_from(statuses)),
        issued_on=None if issued is None else today + datetime.timedelta(days=issued),
        expires_on=None if expires is None else today + datetime.timedelta(days=expires),
        subtype=draw(st.sampled_from(subtypes)),
        number=draw(st.sampled_from(["1", "2"])),
    )


@st.composite
def weekly_hours(draw: st.DrawFn) -> list[Hours]:
    blocks = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, 20 * 4)) * 15
        end = draw(st.integers(start // 15 + 2, 22 * 4)) * 15
        blocks.append(
            Hours(
                weekday=draw(st.integers(0, 6)),
                start=datetime.time(start // 60, start % 60),
                end=datetime.time(end // 60, end % 60),
            )
        )
    return blocks


@st.composite
def busy(draw: st.DrawFn, start: datetime.datetime, days: int) -> list[Interval]:
    out = []
    for _ in range(draw(st.integers(0, 10))):
        begins = start + datetime.timedelta(minutes=draw(st.integers(0, days * 24 * 60)))
        out.append(Interval(begins, begins + datetime.timedelta(minutes=draw(st.integers(15, 240)))))
    return out


@st.composite
def prescribers(draw: st.DrawFn, ident: int, request: matching.Request, languages: bool = False) -> Generated:
    at, search_days = request.at, request.search_days
    today = at.date()
    licences = draw(st.lists(facts("licence", LICENCE_TYPES, today), max_size=3))
    enrollments = draw(st.lists(facts("enrollment", PAYERS, today), max_size=3))
    # Often a licence and an enrollment where the patient is, with the patient's
    # payer (still sometimes lapsed, not yet started or not active), so that
    # many prescribers come close and some qualify.
    if draw(st.integers(0, 3)):
        licences.append(draw(facts("licence", LICENCE_TYPES, today, [request.state], MOSTLY_ACTIVE)))
    if request.payer_code and draw(st.integers(0, 3)):
        enrollments.append(draw(facts("enrollment", [request.payer_code], today, [request.state], MOSTLY_ACTIVE)))
    # And often plainly in good standing there, so several compete for the first place.
    if draw(st.booleans()):
        kind = draw(st.sampled_from(LICENCE_TYPES))
        licences.append(Fact("licence", request.state, "active", None, None, kind, number="9"))
    if request.payer_code and not draw(st.integers(0, 2)):
        enrollments.append(Fact("enrollment", request.state, "active", None, None, request.payer_code))
    # The calendar is read over a wider span than the search window, so slots
    # outside the window are there to be (wrongly) offered.
    span_start = at - datetime.timedelta(days=1)
    span_days = search_days + 3
    computed = find_slots(
        hours=draw(weekly_hours()),
        zone=draw(st.sampled_from(CLINICIAN_ZONES)),
        busy=draw(busy(span_start, span_days)),
        minutes=MINUTES,
        buffer=draw(st.sampled_from([0, 10, 15])),
        window_start=span_start,
        window_end=span_start + datetime.timedelta(days=span_days),
        step=draw(st.sampled_from([15, 30])),
    )
    spoken = draw(st.frozensets(st.sampled_from(LANGUAGES))) if languages else frozenset()
    candidate = matching.Candidate(
        clinician_id=ident,
        name=draw(st.sampled_from(NAMES)),
        group_id=draw(st.sampled_from([1, 2])),
        group_name="Northstar Psychiatry",
        credentials=Credentials(
            discipline=draw(st.sampled_from(["psychiatrist", "pmhnp"])),
            facts=frozenset(licences + enrollments),
        ),
        languages=spoken | {"en"},
        may_receive=draw(st.sampled_from([True, True, True, True, False])),
        slots=tuple(computed),
    )
    return Generated(candidate, tuple(computed))


@st.composite
def worlds(draw: st.DrawFn, *, preferences: bool = False) -> tuple[matching.Request, list[Generated]]:
    # Often in the small hours UTC, when it is still the day before in every state here.
    minutes = st.one_of(
        st.integers(0, 4 * 24 * 60),
        st.builds(lambda day, minute: day * 24 * 60 + minute, st.integers(1, 3), st.integers(-12 * 60, -3 * 60)),
    )
    at = draw(st.sampled_from(ANCHORS)) + datetime.timedelta(minutes=draw(minutes))
    search_days = draw(st.integers(1, 14))
    if preferences:
        language = draw(st.sampled_from(LANGUAGES))
        prefs = matching.Preferences(
            language=language,
            language_label=language,
            times_of_day=draw(st.frozensets(st.sampled_from(sorted(PARTS_OF_DAY)))),
            zone=draw(st.sampled_from(PATIENT_ZONES)),
        )
    else:
        # Equal preferences: any language, any time.
        prefs = matching.Preferences(
            language=draw(st.sampled_from(["", "en"])), zone=draw(st.sampled_from(PATIENT_ZONES))
        )
    payer = draw(st.sampled_from(["", *PAYERS]))
    request = matching.Request(
        state=draw(st.sampled_from(STATES)),
        payer_code=payer,
        payer_name=payer.capitalize(),
        at=at,
        preferences=prefs,
        search_days=search_days,
        preference_days=draw(st.sampled_from([1, 7, 30])) if preferences else 7,
    )
    count = draw(st.integers(1, 7))
    people = [draw(prescribers(i + 1, request, languages=preferences)) for i in range(count)]
    return request, people


# --- What qualifies, worked out independently ----------------------------------------------------


def eligible(candidate: matching.Candidate, request: matching.Request, when: datetime.datetime) -> bool:
    return decide(candidate.credentials, state=request.state, at=when, action=Action.SEE, rules=RULES).allowed


def enrolled(candidate: matching.Candidate, request: matching.Request, when: datetime.datetime) -> bool:
    """Self-pay needs no enrollment; otherwise an active enrollment with the
    payer in the patient's state, in force on that day where the patient is."""
    if not request.payer_code:
        return True
    day = when.astimezone(RULES.zone(request.state)).date()
    return any(
        f.kind == "enrollment"
        and f.state == request.state
        and f.subtype == request.payer_code
        and f.status == "active"
        and (f.issued_on is None or f.issued_on <= day)
        and (f.expires_on is None or day <= f.expires_on)
        for f in candidate.credentials.facts
    )


_STANDING: dict[tuple[Credentials, str, str, datetime.date], bool] = {}


def in_standing(candidate: matching.Candidate, request: matching.Request, when: datetime.datetime) -> bool:
    """Licensed (by the engine) and enrolled at this moment; one answer per day where the patient is."""
    day = when.astimezone(RULES.zone(request.state)).date()
    key = (candidate.credentials, request.state, request.payer_code, day)
    if key not in _STANDING:
        _STANDING[key] = eligible(candidate, request, when) and enrolled(candidate, request, when)
    return _STANDING[key]


def window(generated: Generated, request: matching.Request) -> list[datetime.datetime]:
    """The prescriber's computed slots inside the search window, on days they are
    still licensed and enrolled (a licence or an enrollment may end inside it)."""
    end = request.at + datetime.timedelta(days=request.search_days)
    return sorted(
        s for s in generated.computed if request.at <= s < end and in_standing(generated.candidate, request, s)
    )


def qualifies(generated: Generated, request: matching.Request) -> bool:
    """May take the referral now, leaving the calendar aside."""
    c = generated.candidate
    return c.may_receive and eligible(c, request, request.at) and enrolled(c, request, request.at)


def fits_time(at: datetime.datetime, prefs: matching.Preferences) -> bool:
    if not prefs.times_of_day:
        return True
    hour = at.astimezone(zoneinfo.ZoneInfo(prefs.zone)).hour
    return any(PARTS_OF_DAY[p][0] <= hour < PARTS_OF_DAY[p][1] for p in prefs.times_of_day)


def check_every_offer_and_exclusion(
    request: matching.Request, people: list[Generated], ranking: matching.Ranking
) -> None:
    by_id = {g.candidate.clinician_id: g for g in people}
    offered = [o.candidate.clinician_id for o in ranking.offers]
    left_out = [e.candidate.clinician_id for e in ranking.excluded]
    assert len(offered) == len(set(offered))
    assert sorted(offered + left_out) == sorted(by_id)
    for offer in ranking.offers:
        generated = by_id[offer.candidate.clinician_id]
        assert offer.candidate == generated.candidate
        c = offer.candidate
        for when in (request.at, offer.starts_at):
            assert eligible(c, request, when), f"offered a prescriber the engine refuses at {when}"
            assert enrolled(c, request, when), f"offered a prescriber not enrolled with the payer at {when}"
        assert c.may_receive, "offered a prescriber the patient has not authorized"
        assert offer.starts_at in generated.computed, "offered a slot the calendar does not have"
        assert offer.starts_at in window(generated, request), "offered a slot not open in the window"
        assert list(offer.bookable) == window(generated, request)
        assert offer.openings == len(window(generated, request))
    expected_offered = {cid for cid, g in by_id.items() if qualifies(g, request) and window(g, request)}
    assert set(offered) == expected_offered, "a qualifying prescriber was left out, or another let in"
    for exclusion in ranking.excluded:
        generated = by_id[exclusion.candidate.clinician_id]
        codes = [r.code for r in exclusion.reasons]
        assert codes, "left out without a reason"
        assert all(r.label for r in exclusion.reasons)
        c = generated.candidate
        if not c.may_receive:
            assert "no_consent" in codes
        if not eligible(c, request, request.at):
            refusals = {
                r.code for r in decide(c.credentials, state=request.state, at=request.at, action=Action.SEE).reasons
            }
            assert refusals & set(codes)
        if not enrolled(c, request, request.at):
            assert "not_enrolled" in codes
        if qualifies(generated, request):
            assert codes == ["no_capacity"]
        else:
            assert "no_capacity" not in codes


@settings(max_examples=150, deadline=None)
@given(world=worlds())
def test_matching_offers_only_eligible_enrolled_prescribers_soonest_first(
    world: tuple[matching.Request, list[Generated]],
) -> None:
    request, people = world
    ranking = matching.rank(request, [g.candidate for g in people], rules=RULES)
    check_every_offer_and_exclusion(request, people, ranking)
    firsts = [window(g, request)[0] for g in people if qualifies(g, request) and window(g, request)]
    if not firsts:
        assert ranking.offers == () and ranking.best is None
        return
    # The soonest eligible opening comes first, and each offer is its prescriber's soonest.
    assert ranking.offers[0].starts_at == min(firsts)
    starts = [o.starts_at for o in ranking.offers]
    assert starts == sorted(starts)
    for offer in ranking.offers:
        generated = next(g for g in people if g.candidate.clinician_id == offer.candidate.clinician_id)
        assert offer.starts_at == window(generated, request)[0]
        assert not offer.shared_language


@settings(max_examples=120, deadline=None)
@given(world=worlds(preferences=True))
def test_a_shared_language_is_never_ranked_below_none(world: tuple[matching.Request, list[Generated]]) -> None:
    request, people = world
    prefs = request.preferences
    ranking = matching.rank(request, [g.candidate for g in people], rules=RULES)
    check_every_offer_and_exclusion(request, people, ranking)
    speaks = [prefs.language in o.candidate.languages for o in ranking.offers]
    assert speaks == [o.shared_language for o in ranking.offers]
    # Everyone who speaks it comes before everyone who does not.
    assert speaks == sorted(speaks, reverse=True)
    for offer in ranking.offers:
        generated = next(g for g in people if g.candidate.clinician_id == offer.candidate.clinician_id)
        open_slots = window(generated, request)
        # A preferred time of day counts only within preference_days of the soonest opening.
        patience = open_slots[0] + datetime.timedelta(days=request.preference_days)
        preferred = [s for s in open_slots if fits_time(s, prefs) and s <= patience]
        assert offer.preferred_time == bool(preferred)
        assert offer.starts_at == (preferred or open_slots)[0]
    # Within one language tier: a preferred time of day first, then the soonest.
    keys = [
        (not o.shared_language, bool(prefs.times_of_day) and not o.preferred_time, o.starts_at) for o in ranking.offers
    ]
    assert keys == sorted(keys)


@settings(max_examples=100, deadline=None)
@given(
    anchor=st.sampled_from(ANCHORS),
    minutes=st.integers(-12 * 60, 12 * 60),
    state=st.sampled_from(STATES),
    payer=st.sampled_from(PAYERS),
    issued=st.one_of(st.none(), st.integers(-2, 2)),
    expires=st.one_of(st.none(), st.integers(-2, 2)),
    status=st.sampled_from(MOSTLY_ACTIVE),
    hours_ahead=st.integers(1, 72),
)
def test_an_enrollment_counts_on_the_day_it_is_where_the_patient_is(
    anchor: datetime.datetime,
    minutes: int,
    state: str,
    payer: str,
    issued: int | None,
    expires: int | None,
    status: str,
    hours_ahead: int,
) -> None:
    """One prescriber, plainly licensed, with one opening, whose only enrollment
    starts or ends within a day or two of the request, at any hour UTC: offered
    exactly when the enrollment is in force, on the patient's state's calendar,
    both today and on the day of the opening."""
    at = anchor + datetime.timedelta(minutes=minutes)
    today = at.date()
    enrollment = Fact(
        "enrollment",
        state,
        status,
        None if issued is None else today + datetime.timedelta(days=issued),
        None if expires is None else today + datetime.timedelta(days=expires),
        payer,
    )
    licence = Fact("licence", state, "active", None, None, "MD", number="1")
    slot = at + datetime.timedelta(hours=hours_ahead)
    candidate = matching.Candidate(
        clinician_id=1,
        name="Avery Lind",
        group_id=1,
        group_name="Northstar Psychiatry",
        credentials=Credentials("psychiatrist", frozenset({licence, enrollment})),
        slots=(slot,),
    )
    request = matching.Request(state=state, payer_code=payer, payer_name=payer, at=at)
    ranking = matching.rank(request, [candidate], rules=RULES)
    if enrolled(candidate, request, at) and enrolled(candidate, request, slot):
        assert [o.starts_at for o in ranking.offers] == [slot]
    else:
        assert ranking.offers == ()
        [exclusion] = ranking.excluded
        # Not enrolled today; or enrolled today, but no longer on the day of the only opening.
        expected = "not_enrolled" if not enrolled(candidate, request, at) else "no_capacity"
        assert [r.code for r in exclusion.reasons] == [expected]
