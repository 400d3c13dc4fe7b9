"""Which partner prescribers may take a referral, and in what order. Pure: no
database and no clock; ``services.match`` gathers the inputs.

A prescriber is considered only when all of these hold:

* the patient has authorized sharing with the prescriber's group (or the
  practice shares for treatment without an authorization);
* the eligibility engine lets them see a patient in the referral's state by video;
* they are enrolled with the patient's payer in that state (self-pay needs none);
* they have an open new-patient evaluation slot within the search window.

Those left are ordered by: a shared language first (when the patient has a
preference), then a slot at the patient's preferred times of day, then the
soonest slot, then name. Every offer says why it was made and every prescriber
left out says why.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from tandem.credentials import eligibility
from tandem.credentials.rules import Rules, current

# Parts of the day, as local wall-clock hours [from, to) where the patient is.
TIMES_OF_DAY: dict[str, tuple[int, int, str]] = {
    "morning": (6, 12, "mornings"),
    "afternoon": (12, 17, "afternoons"),
    "evening": (17, 22, "evenings"),
}


@dataclass(frozen=True)
class Preferences:
    language: str = ""  # a patients.Language code; "" or "en" when any clinician will do
    language_label: str = ""
    times_of_day: frozenset[str] = frozenset()  # empty: any time
    zone: str = "UTC"  # where the patient is, for times of day

    def fits_time(self, at: datetime.datetime) -> bool:
        if not self.times_of_day:
            return True
        hour = at.astimezone(zoneinfo.ZoneInfo(self.zone)).hour
        return any(TIMES_OF_DAY[t][0] <= hour < TIMES_OF_DAY[t][1] for t in self.times_of_day if t in TIMES_OF_DAY)

    @property
    def wants_language(self) -> bool:
        return bool(self.language) and self.language != "en"


@dataclass(frozen=True)
class Request:
    state: str  # where the patient will be for the visit
    payer_code: str  # "" for self-pay
    payer_name: str
    at: datetime.datetime  # when the matching runs
    preferences: Preferences = field(default_factory=Preferences)
    search_days: int = 21
    audio_only: bool = False
    # A preferred time of day wins over a sooner opening only this far out;
    # a patient would rather be seen next week at noon than in a month at 8.
    preference_days: int = 7


@dataclass(frozen=True)
class Candidate:
    clinician_id: int
    name: str
    group_id: int
    group_name: str
    credentials: eligibility.Credentials
    languages: frozenset[str] = frozenset()
    may_receive: bool = True  # the patient's consent lets the group see the referral
    public_ref: str = ""  # how pages name the prescriber in forms
    # Open evaluation slots within the window, ascending; None when not searched
    # (a prescriber screened out before their calendar was read).
    slots: tuple[datetime.datetime, ...] | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    label: str  # short, for the list: "not licensed in ID"
    text: str = ""  # the full reason, from the engine where it has one


@dataclass(frozen=True)
class Offer:
    candidate: Candidate
    starts_at: datetime.datetime
    why: tuple[str, ...]
    shared_language: bool
    preferred_time: bool
    openings: int  # open slots in the window
    bookable: tuple[datetime.datetime, ...] = ()  # every opening this prescriber may be booked at


@dataclass(frozen=True)
class Exclusion:
    candidate: Candidate
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Ranking:
    offers: tuple[Offer, ...]
    excluded: tuple[Exclusion, ...]

    @property
    def best(self) -> Offer | None:
        return self.offers[0] if self.offers else None


_SHORT = {
    "no_licence": "not licensed in {state}",
    "licence_expired": "licence in {state} expired",
    "licence_not_active": "licence in {state} not active",
    "unknown_state": "{state} is not a known state",
}


def _enrolled(creds: eligibility.Credentials, request: Request, rules: Rules) -> eligibility.Fact | None:
    day = request.at.astimezone(rules.zone(request.state)).date() if request.state in rules.state_time_zones else None
    if day is None:
        return None
    for fact in creds.of("enrollment", request.state):
        if fact.subtype == request.payer_code and fact.in_force(day):
            return fact
    return None


def screen(request: Request, candidate: Candidate, rules: Rules | None = None) -> tuple[list[str], list[Reason]]:
    """Why this prescriber may take the referral (grounds), or why not
    (reasons), leaving capacity aside: that needs their calendar."""
    rules = rules or current()
    grounds: list[str] = []
    reasons: list[Reason] = []
    if not candidate.may_receive:
        reasons.append(
            Reason(
                "no_consent",
                f"no authorization to share with {candidate.group_name}",
                f"The patient has not authorized sharing with {candidate.group_name}.",
            )
        )
    action = eligibility.Action.SEE_AUDIO if request.audio_only else eligibility.Action.SEE
    decision = eligibility.decide(candidate.credentials, state=request.state, at=request.at, action=action, rules=rules)
    if decision.allowed:
        grounds += [r.text for r in decision.reasons]
    else:
        for r in decision.reasons:
            label = _SHORT.get(r.code, r.text.rstrip(".")).format(state=request.state)
            reasons.append(Reason(r.code, label, r.text))
    if request.payer_code:
        if _enrolled(candidate.credentials, request, rules) is not None:
            grounds.append(f"Enrolled with {request.payer_name} in {request.state}.")
        else:
            reasons.append(
                Reason(
                    "not_enrolled",
                    "not enrolled with this payer",
                    f"Not enrolled with {request.payer_name} in {request.state}.",
                )
            )
    return grounds, reasons


def _still_eligible(
    request: Request, candidate: Candidate, starts: Sequence[datetime.datetime], rules: Rules
) -> list[datetime.datetime]:
    """The openings on days the prescriber is still licensed and enrolled: a
    licence or an enrollment may end inside the window. One check per day."""
    verdicts: dict[datetime.date, bool] = {}
    kept = []
    for start in starts:
        day = start.astimezone(rules.zone(request.state)).date() if request.state in rules.state_time_zones else None
        if day is None:
            continue
        if day not in verdicts:
            verdicts[day] = not screen(replace(request, at=start), candidate, rules)[1]
        if verdicts[day]:
            kept.append(start)
    return kept


def rank(
    request: Request,
    candidates: Iterable[Candidate],
    *,
    exclude: Iterable[tuple[int, datetime.datetime]] = (),
    rules: Rules | None = None,
) -> Ranking:
    """Order the prescribers who may take this referral; explain every one.

    ``exclude`` holds (prescriber, start) pairs already offered elsewhere or
    turned down for this referral: they are not offered again.
    """
    rules = rules or current()
    skip = set(exclude)
    window_end = request.at + datetime.timedelta(days=request.search_days)
    prefs = request.preferences
    offers: list[Offer] = []
    excluded: list[Exclusion] = []
    for candidate in candidates:
        grounds, reasons = screen(request, candidate, rules)
        if not reasons and candidate.slots is None:
            raise ValueError(f"{candidate.name} passes the screen but their calendar was not read.")
        open_slots = _still_eligible(
            request,
            candidate,
            [
                s
                for s in (candidate.slots or ())
                if request.at <= s < window_end and (candidate.clinician_id, s) not in skip
            ],
            rules,
        )
        if not reasons and not open_slots:
            reasons.append(
                Reason(
                    "no_capacity",
                    f"no capacity within {request.search_days} days",
                    f"No open new-patient evaluation in the next {request.search_days} days.",
                )
            )
        if reasons:
            excluded.append(Exclusion(candidate, tuple(reasons)))
            continue
        patience = open_slots[0] + datetime.timedelta(days=request.preference_days)
        preferred = [s for s in open_slots if prefs.fits_time(s) and s <= patience]
        start = preferred[0] if preferred else open_slots[0]
        shared = prefs.wants_language and prefs.language in candidate.languages
        why = list(grounds)
        if prefs.wants_language:
            label = prefs.language_label or prefs.language
            why.append(f"Speaks {label}." if shared else f"Does not list {label}.")
        if prefs.times_of_day:
            parts = " or ".join(TIMES_OF_DAY[t][2] for t in sorted(prefs.times_of_day) if t in TIMES_OF_DAY)
            why.append(
                f"Has an opening in the patient's preferred {parts}."
                if preferred
                else f"No opening in the patient's preferred {parts} within {request.preference_days} days of "
                "the soonest; this is the soonest."
            )
        zone = zoneinfo.ZoneInfo(prefs.zone)
        days = len({s.astimezone(zone).date() for s in open_slots})
        why.append(f"Has openings on {days} of the next {request.search_days} days.")
        offers.append(
            Offer(
                candidate=candidate,
                starts_at=start,
                why=tuple(why),
                shared_language=shared,
                preferred_time=bool(preferred),
                openings=len(open_slots),
                bookable=tuple(open_slots),
            )
        )
    offers.sort(
        key=lambda o: (
            prefs.wants_language and not o.shared_language,
            bool(prefs.times_of_day) and not o.preferred_time,
            o.starts_at,
            o.candidate.name,
            o.candidate.clinician_id,
        )
    )
    excluded.sort(key=lambda e: (e.candidate.name, e.candidate.clinician_id))
    return Ranking(tuple(offers), tuple(excluded))
