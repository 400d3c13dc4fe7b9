"""The eligibility engine: may this clinician see, prescribe for or bill for a
patient who is in this state at this moment?

``decide`` is a pure function of a clinician's credentials, the patient's
location state, a moment and an action, plus the reviewed rules. It answers
with coded reasons and the rules version used. ``load_credentials`` reads
any number of clinicians' credentials in a fixed number of queries.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from tandem.credentials import models as m
from tandem.credentials.rules import Drug, Rules, current

MEDICARE = "medicare"  # the payer code the Medicare in-person rule applies to


class Action(StrEnum):
    SEE = "see"
    SEE_AUDIO = "see-audio"
    PRESCRIBE = "prescribe"
    BILL = "bill"


@dataclass(frozen=True)
class Fact:
    """One credential, reduced to what the rules look at."""

    kind: str  # licence, compact, dea, csr, enrollment, collaboration
    state: str
    status: str
    issued_on: datetime.date | None
    expires_on: datetime.date | None
    subtype: str = ""  # licence type, compact, or payer code
    schedules: frozenset[str] = frozenset()
    number: str = ""

    def in_force(self, day: datetime.date) -> bool:
        return self.status == m.Status.ACTIVE and m.day_in_force(self.issued_on, self.expires_on, day)


@dataclass(frozen=True)
class Credentials:
    discipline: str
    facts: frozenset[Fact] = field(default_factory=frozenset)

    def of(self, kind: str, state: str | None = None) -> list[Fact]:
        return sorted(
            (f for f in self.facts if f.kind == kind and (state is None or f.state == state)),
            key=lambda f: (f.expires_on or datetime.date.max, f.subtype, f.number),
            reverse=True,
        )


@dataclass(frozen=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]
    rules_version: str

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reasons": [{"code": r.code, "text": r.text} for r in self.reasons],
            "rules_version": self.rules_version,
        }


class _Outcome:
    def __init__(self) -> None:
        self.refusals: list[Reason] = []
        self.grounds: list[Reason] = []

    def refuse(self, code: str, text: str) -> None:
        self.refusals.append(Reason(code, text))

    def ground(self, code: str, text: str) -> None:
        self.grounds.append(Reason(code, text))


def _fmt(day: datetime.date | None) -> str:
    return day.isoformat() if day else "no end date"


def _licence_to_practise(
    creds: Credentials, state: str, day: datetime.date, rules: Rules, out: _Outcome, *, prescribing: bool
) -> None:
    licences = creds.of("licence", state)
    usable = [f for f in licences if f.in_force(day) and (not prescribing or f.subtype in m.PRESCRIBING_LICENSES)]
    if usable:
        best = usable[0]
        until = f" until {_fmt(best.expires_on)}" if best.expires_on else ""
        out.ground(
            "licensed_in_state", f"Holds an active {best.subtype} licence in {state} (no. {best.number}){until}."
        )
        return
    if not prescribing:
        for privilege in creds.of("compact"):
            if not privilege.in_force(day):
                continue
            if (
                privilege.subtype == m.Compact.COUNSELING
                and privilege.state == state
                and rules.counseling_compact.in_effect(day)
            ):
                out.ground("compact_privilege", f"Holds a Counseling Compact privilege to practise in {state}.")
                return
            if (
                privilege.subtype == m.Compact.PSYPACT_APIT
                and state in rules.psypact_members
                and rules.psypact.in_effect(day)
            ):
                out.ground("compact_privilege", f"Holds a PSYPACT APIT, and {state} is a PSYPACT member.")
                return
    lapsed = [f for f in licences if f.expires_on and f.expires_on < day]
    if lapsed:
        out.refuse(
            "licence_expired", f"The {lapsed[0].subtype} licence in {state} expired on {_fmt(lapsed[0].expires_on)}."
        )
    elif licences and not usable and any(f.in_force(day) for f in licences):
        out.refuse("licence_cannot_prescribe", f"No licence held in {state} carries prescriptive authority.")
    elif licences:
        out.refuse("licence_not_active", f"The licence in {state} is not active on {_fmt(day)}.")
    else:
        out.refuse("no_licence", f"No active licence or compact privilege in {state}, where the patient is.")


def _np_authority(creds: Credentials, state: str, day: datetime.date, rules: Rules, out: _Outcome) -> None:
    if state in rules.np_full_practice:
        out.ground("np_full_practice", f"{state} gives nurse practitioners full practice authority.")
        return
    agreements = [f for f in creds.of("collaboration", state) if f.in_force(day)]
    if agreements:
        out.ground("np_collaboration", f"Has an active collaboration agreement in {state}.")
    else:
        out.refuse(
            "np_collaboration_required",
            f"{state} requires a nurse practitioner to prescribe under a collaboration agreement, and none is on file.",
        )


def _controlled(
    creds: Credentials,
    state: str,
    day: datetime.date,
    drug: Drug,
    rules: Rules,
    out: _Outcome,
    *,
    audio_only: bool,
    in_person_evaluated: bool,
) -> None:
    schedule = drug.schedule
    if drug.otp_only:
        out.refuse(
            "otp_only",
            f"{drug.name.capitalize()} for opioid use disorder is dispensed only by an opioid treatment program; "
            "it cannot be prescribed to a pharmacy for it.",
        )
        return
    registrations = creds.of("dea", state)
    current_regs = [f for f in registrations if f.in_force(day)]
    if not registrations:
        out.refuse(
            "dea_not_registered_in_state",
            f"{drug.name.capitalize()} is Schedule {schedule}; there is no DEA registration in {state}.",
        )
    elif not current_regs:
        out.refuse("dea_expired", f"The DEA registration in {state} is not in force on {_fmt(day)}.")
    elif not any(schedule in f.schedules for f in current_regs):
        out.refuse("dea_schedule_not_covered", f"The DEA registration in {state} does not cover Schedule {schedule}.")
    else:
        out.ground("dea_registered", f"DEA registration in {state} covers Schedule {schedule}.")

    if state in rules.state_csr_required:
        if any(f.in_force(day) for f in creds.of("csr", state)):
            out.ground("state_csr", f"Holds {state}'s own controlled-substance registration.")
        else:
            out.refuse(
                "state_csr_missing", f"{state} requires its own controlled-substance registration; none is in force."
            )

    if in_person_evaluated:
        out.ground("in_person_evaluation", "An in-person evaluation is on file.")
        return
    tele, bup = rules.dea_telemedicine, rules.buprenorphine
    if bup.covers(drug, day):
        out.ground("buprenorphine_rule", f"The {bup.name} allows it, after a PDMP check in {state}; up to 6 months.")
        return
    if audio_only:
        if drug.oud and tele.in_effect(day) and schedule in tele.audio_only_schedules_for_oud:
            out.ground("telemedicine_flexibilities", f"The {tele.name} allow audio-only for OUD treatment.")
        else:
            out.refuse(
                "audio_only_controlled",
                "A controlled substance cannot be prescribed from an audio-only visit (except OUD treatment).",
            )
        return
    if tele.in_effect(day) and schedule in tele.video_schedules:
        out.ground(
            "telemedicine_flexibilities",
            f"The {tele.name} allow Schedule {schedule} by video until {_fmt(tele.effective_to)}.",
        )
    elif tele.effective_to is not None and day > tele.effective_to:
        out.refuse(
            "telemedicine_rule_expired",
            f"The {tele.name} ended on {_fmt(tele.effective_to)}: a Schedule {schedule} drug by telemedicine "
            "now needs an in-person evaluation on file.",
        )
    else:
        out.refuse("no_telemedicine_pathway", f"No telemedicine rule allows Schedule {schedule} on {_fmt(day)}.")


def decide(
    creds: Credentials,
    *,
    state: str,
    at: datetime.datetime,
    action: Action | str,
    drug: str = "",
    payer: str = "",
    in_person_evaluated: bool = False,
    rules: Rules | None = None,
) -> Decision:
    """The answer, with reasons. ``at`` must be timezone-aware."""
    rules = rules or current()
    action = Action(action)
    out = _Outcome()
    if state not in rules.state_time_zones:
        out.refuse("unknown_state", f"{state!r} is not a US state or territory Tandem knows.")
        return Decision(False, tuple(out.refusals), rules.full_version)
    # Dates on credentials are days in the state's own time zone: a licence
    # expiring today is good until midnight there.
    day = at.astimezone(rules.zone(state)).date()

    if action in (Action.SEE, Action.SEE_AUDIO, Action.BILL):
        _licence_to_practise(creds, state, day, rules, out, prescribing=False)
        if action == Action.SEE_AUDIO and not out.refusals:
            out.ground("audio_only", "Audio-only behavioural health care is allowed where the clinician is licensed.")
    if action == Action.BILL:
        enrollments = [f for f in creds.of("enrollment", state) if f.subtype == payer]
        if any(f.in_force(day) for f in enrollments):
            out.ground("payer_enrolled", f"Enrolled with {payer} in {state}.")
            medicare = rules.medicare_in_person
            if payer == MEDICARE and medicare.in_effect(day) and not in_person_evaluated:
                out.refuse(
                    "medicare_in_person_required",
                    f"Since {_fmt(medicare.effective_from)}, the {medicare.name} applies: Medicare pays for this "
                    "telehealth visit only after an in-person visit within the 6 months before it.",
                )
        elif not payer:
            out.refuse("payer_missing", "Name the payer to check billing.")
        else:
            out.refuse("payer_not_enrolled", f"Not enrolled with {payer} in {state} on {_fmt(day)}.")
    if action == Action.PRESCRIBE:
        found = rules.drugs.get(drug.strip().lower())
        if found is None:
            out.refuse("unknown_drug", f"{drug!r} is not in Tandem's drug catalog.")
        elif not creds.discipline:
            out.refuse(
                "discipline_cannot_prescribe",
                "No clinician profile with a prescribing discipline is on file for this person.",
            )
        elif creds.discipline not in m.PRESCRIBING_DISCIPLINES:
            label = (
                m.Discipline(creds.discipline).label if creds.discipline in m.Discipline.values else creds.discipline
            )
            out.refuse("discipline_cannot_prescribe", f"A {label.lower()} does not prescribe.")
        else:
            _licence_to_practise(creds, state, day, rules, out, prescribing=True)
            if creds.discipline == m.Discipline.PMHNP:
                _np_authority(creds, state, day, rules, out)
            if found.controlled:
                _controlled(
                    creds, state, day, found, rules, out, audio_only=False, in_person_evaluated=in_person_evaluated
                )
            else:
                out.ground("not_controlled", f"{found.name.capitalize()} is not a controlled substance.")
    allowed = not out.refusals
    return Decision(allowed, tuple(out.refusals if out.refusals else out.grounds), rules.full_version)


def load_credentials(clinician_ids: Iterable[int]) -> dict[int, Credentials]:
    """Every credential of these clinicians, in one query per kind however many there are."""
    ids = list(clinician_ids)
    facts: dict[int, set[Fact]] = defaultdict(set)

    def add(rows: Iterable[object], kind: str, subtype: str = "", state_attr: str = "state") -> None:
        for row in rows:
            facts[row.clinician_id].add(  # type: ignore[attr-defined]
                Fact(
                    kind=kind,
                    state=getattr(row, state_attr, "") or "",
                    status=row.status,  # type: ignore[attr-defined]
                    issued_on=row.issued_on,  # type: ignore[attr-defined]
                    expires_on=row.expires_on,  # type: ignore[attr-defined]
                    subtype=getattr(row, subtype, "") if subtype else "",
                    schedules=frozenset(getattr(row, "schedules", []) or []),
                    number=getattr(row, "number", ""),
                )
            )

    add(m.StateLicense.objects.filter(clinician_id__in=ids), "licence", "license_type")
    add(m.CompactPrivilege.objects.filter(clinician_id__in=ids), "compact", "compact")
    add(m.DeaRegistration.objects.filter(clinician_id__in=ids), "dea")
    add(m.StateControlledSubstanceRegistration.objects.filter(clinician_id__in=ids), "csr")
    add(m.CollaborationAgreement.objects.filter(clinician_id__in=ids), "collaboration")
    for row in m.PayerEnrollment.objects.filter(clinician_id__in=ids).select_related("payer"):
        facts[row.clinician_id].add(
            Fact(
                kind="enrollment",
                state=row.state,
                status=row.status,
                issued_on=row.issued_on,
                expires_on=row.expires_on,
                subtype=row.payer.code,
            )
        )
    disciplines = dict(m.ClinicianProfile.objects.filter(user_id__in=ids).values_list("user_id", "discipline"))
    return {cid: Credentials(discipline=disciplines.get(cid, ""), facts=frozenset(facts[cid])) for cid in ids}
