"""Referrals: drafting, every state transition, matching, the waitlist, time
limits and escalation. Every transition is one function here, checked against
``TRANSITIONS``, written with its history row and audit event in one
transaction, and told to the referring clinician.

See docs/decisions/0005-referrals.md.
"""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Min, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.credentials import eligibility
from tandem.credentials.models import ClinicianProfile
from tandem.credentials.rules import current as current_rules
from tandem.organizations.models import Membership, Organization, Role
from tandem.patients.models import CareTeamMember, CareTeamRole, Language, Patient, Payer, active_on
from tandem.records.models import Document
from tandem.referrals import matching
from tandem.referrals.models import (
    QUESTION_MAX,
    REASON_MAX,
    URGENCY_ORDER,
    WAITING,
    Escalation,
    Offer,
    OfferStatus,
    Referral,
    ReferralEvent,
    ReferralSettings,
    State,
    Urgency,
    VisitSetting,
    settings_of,
)
from tandem.scheduling import services as scheduling
from tandem.scheduling.models import Appointment, AppointmentType, Kind, Modality

TREATMENT = "treatment"
REFERRING, RECEIVING, BOOKING_THERAPIST, SYSTEM = (
    policy.REFERRING,
    policy.RECEIVING,
    policy.BOOKING_THERAPIST,
    policy.SYSTEM,
)


class TransitionRefused(Exception):
    """The transition is not allowed from this state, for this person, or without what it needs."""


@dataclass(frozen=True)
class Transition:
    name: str
    verb: str  # "submitted": for messages and notifications
    sources: frozenset[str]
    target: str
    sides: frozenset[str]
    needs_reason: bool = False


def _t(
    name: str, verb: str, sources: Iterable[str], target: str, sides: Iterable[str], reason: bool = False
) -> Transition:
    return Transition(name, verb, frozenset(sources), target, frozenset(sides), reason)


# Who may move a referral from where to where. Anything not here is refused.
TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        _t("submit", "submitted", [State.DRAFT], State.SUBMITTED, [REFERRING]),
        _t("triage", "triaged", [State.SUBMITTED], State.TRIAGED, [RECEIVING]),
        _t("offer", "offered an opening", [State.TRIAGED], State.OFFERED, [RECEIVING, SYSTEM]),
        _t("book", "scheduled", [State.TRIAGED, State.OFFERED], State.SCHEDULED, [RECEIVING, BOOKING_THERAPIST]),
        _t("release", "put back in line", [State.OFFERED], State.TRIAGED, [RECEIVING, REFERRING, SYSTEM], True),
        _t("reopen", "put back in line", [State.SCHEDULED], State.TRIAGED, [SYSTEM], True),
        _t("complete", "marked as seen", [State.SCHEDULED], State.COMPLETED, [SYSTEM]),
        _t("decline", "declined", [State.SUBMITTED, State.TRIAGED, State.OFFERED], State.DECLINED, [RECEIVING], True),
        _t(
            "cancel",
            "cancelled",
            [State.DRAFT, State.SUBMITTED, State.TRIAGED, State.OFFERED, State.SCHEDULED],
            State.CANCELLED,
            [REFERRING],
            True,
        ),
        _t("expire", "expired", [State.SUBMITTED, State.TRIAGED, State.OFFERED], State.EXPIRED, [SYSTEM], True),
    ]
}

# What the referring clinician is told, in the app and by email: never clinical detail.
NEWS = {
    "submit": "A referral you made was sent.",
    "triage": "A referral you made was triaged.",
    "offer": "An opening was offered for a referral you made.",
    "book": "A referral you made is scheduled.",
    "release": "A referral you made is back in line for an opening.",
    "reopen": "A referral you made is back in line: its evaluation did not go ahead.",
    "complete": "A referral you made reached its first visit.",
    "decline": "A referral you made was declined.",
    "cancel": "A referral you made was cancelled.",
    "expire": "A referral you made expired.",
}

SIDE_LABELS = {
    REFERRING: "the referring practice",
    RECEIVING: "the psychiatric group's coordinators and admins",
    BOOKING_THERAPIST: "the referring therapist (where the group allows it)",
    SYSTEM: "Tandem itself",
}

# How a referral's state reads inside a sentence: "a referral that is ...".
STATE_IN_A_SENTENCE = {
    State.DRAFT: "still a draft",
    State.SUBMITTED: "submitted",
    State.TRIAGED: "triaged",
    State.OFFERED: "holding an offer",
    State.SCHEDULED: "scheduled",
    State.COMPLETED: "already seen",
    State.DECLINED: "declined",
    State.CANCELLED: "cancelled",
    State.EXPIRED: "expired",
}


def allowed(name: str, status: str, sides: Iterable[str]) -> bool:
    t = TRANSITIONS[name]
    return status in t.sources and bool(t.sides & set(sides))


def check_transition(referral: Referral, name: str, sides: frozenset[str], note: str) -> Transition:
    t = TRANSITIONS[name]
    if referral.status not in t.sources:
        raise TransitionRefused(f"A referral that is {STATE_IN_A_SENTENCE[State(referral.status)]} cannot be {t.verb}.")
    if not t.sides & sides:
        who = "; or ".join(SIDE_LABELS[s] for s in sorted(t.sides))
        raise TransitionRefused(f"Only {who} can do that.")
    if t.needs_reason and not note.strip():
        raise TransitionRefused("Give a reason.")
    if len(note) > REASON_MAX:
        raise TransitionRefused(f"Keep the reason under {REASON_MAX} characters.")
    return t


def _locked(referral: Referral) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("patient__practice", "practice", "payer", "referred_by")
        .get(pk=referral.pk)
    )


def _sides(actor: User | None, referral: Referral) -> frozenset[str]:
    return frozenset({SYSTEM}) if actor is None else policy.referral_sides(actor, referral)


def _move(
    referral: Referral,
    name: str,
    *,
    actor: User | None,
    meta: audit.RequestMeta,
    note: str = "",
    at: datetime.datetime | None = None,
    detail: dict[str, object] | None = None,
) -> ReferralEvent:
    """Apply one transition to a locked referral: state, history, audit, and the referrer told."""
    t = check_transition(referral, name, _sides(actor, referral), note)
    at = at or timezone.now()
    before = referral.status
    referral.status = t.target
    referral.updated_at = at
    stamp = {"submit": "submitted_at", "triage": "triaged_at", "book": "scheduled_at", "complete": "completed_at"}
    if name in stamp:
        setattr(referral, stamp[name], at)
    if t.target in (State.DECLINED, State.CANCELLED, State.EXPIRED):
        referral.ended_at = at
        referral.end_reason = note.strip()
        referral.waitlisted_at = None
    referral.save()
    event = ReferralEvent.objects.create(
        referral=referral,
        at=at,
        actor=actor,
        transition=name,
        from_status=before,
        to_status=t.target,
        note=note.strip(),
    )
    audit.record(
        actor=actor,
        action=Action.CREATE if name == "submit" else Action.UPDATE,
        purpose=TREATMENT,
        meta=meta,
        patient_id=referral.patient.public_id,
        target_type="referral",
        target_id=referral.public_id,
        detail={"transition": name, "from": before, "to": t.target, **(detail or {})},
    )
    _tell_referrer(referral, actor, NEWS[name])
    return event


# --- Notifications (never any clinical detail) ---------------------------------------------------


def _link(referral: Referral) -> str:
    return reverse("referrals:detail", args=[referral.public_id])


def _tell_referrer(referral: Referral, actor: User | None, text: str) -> None:
    from tandem.messaging.services import notify

    if actor is not None and actor.pk == referral.referred_by_id:
        return
    notify(
        recipients=User.objects.filter(pk=referral.referred_by_id, is_active=True),
        kind="referral",
        text=text,
        link=_link(referral),
        email_subject="News about a referral you made",
    )


def _group_staff(groups: Iterable[Organization], roles: Iterable[str]) -> list[User]:
    return list(
        User.objects.filter(
            memberships__organization__in=list(groups),
            memberships__role__in=list(roles),
            memberships__is_active=True,
            is_active=True,
        ).distinct()
    )


def _tell_groups(
    referral: Referral, groups: Iterable[Organization], roles: Iterable[str], text: str, subject: str
) -> int:
    from tandem.messaging.services import notify

    people = _group_staff(groups, roles)
    if not people and Role.GROUP_ADMIN not in set(roles):
        people = _group_staff(groups, {Role.GROUP_ADMIN})  # a group without coordinators: its admins
    if people:
        notify(recipients=people, kind="referral", text=text, link=_link(referral), email_subject=subject)
    return len(people)


# --- Time limits ---------------------------------------------------------------------------------


settings_for = settings_of


def add_business_days(start: datetime.datetime, days: int, zone: str) -> datetime.datetime:
    """``days`` working days (Monday to Friday) after ``start``, where ``zone``
    is. A clock started at the weekend starts at the beginning of Monday, so a
    Saturday referral due in one business day is due at the end of Monday.
    Public holidays are not counted out."""
    tz = zoneinfo.ZoneInfo(zone)
    local = start.astimezone(tz)
    day, time_of_day = local.date(), local.time().replace(tzinfo=None)
    if day.weekday() >= 5:
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        time_of_day = datetime.time(0)
    left = days
    while left > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.datetime.combine(day, time_of_day).replace(tzinfo=tz).astimezone(datetime.UTC)


def due_times(
    urgency: str, submitted_at: datetime.datetime, groups: list[Organization]
) -> tuple[datetime.datetime, datetime.datetime]:
    """When triage and the first visit are due. With several partner groups,
    the strictest promise applies."""
    if not groups:
        fallback = ReferralSettings()
        return (
            add_business_days(submitted_at, fallback.triage_business_days(urgency), "UTC"),
            submitted_at + datetime.timedelta(days=fallback.visit_days(urgency)),
        )
    triage = min(
        add_business_days(submitted_at, settings_for(g).triage_business_days(urgency), g.timezone) for g in groups
    )
    visit = min(submitted_at + datetime.timedelta(days=settings_for(g).visit_days(urgency)) for g in groups)
    return triage, visit


@dataclass(frozen=True)
class Clock:
    """What the queue shows: the next limit and the time left to it."""

    label: str
    due_at: datetime.datetime | None
    seconds_left: int | None

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left < 0


def clock(referral: Referral, now: datetime.datetime | None = None) -> Clock:
    now = now or timezone.now()
    if referral.status == State.SUBMITTED and referral.triage_due_at:
        due, label = referral.triage_due_at, "triage"
    elif referral.status in WAITING and referral.visit_due_at:
        due, label = referral.visit_due_at, "first visit"
    else:
        return Clock("", None, None)
    return Clock(label, due, int((due - now).total_seconds()))


# --- Drafting ------------------------------------------------------------------------------------


@dataclass
class Draft:
    """What the referral form collects."""

    urgency: str = Urgency.ROUTINE
    reason: str = ""
    clinical_question: str = ""
    language: str = Language.ENGLISH
    times_of_day: tuple[str, ...] = ()
    visit_setting: str = VisitSetting.VIDEO_HOME
    location_state: str = ""
    payer: Payer | None = None
    member_id: str = ""
    attachments: tuple[Document, ...] = ()


def attachable_documents(actor: User, patient: Patient) -> list[Document]:
    """The latest assessment and the latest medication record the referrer may
    see, offered for attaching (each kind's newest comes first)."""
    sharing = policy.sharing_for(actor, patient)
    wanted = {InfoClass.ASSESSMENTS, InfoClass.MEDICATIONS}
    return [d for d in policy.visible_documents(sharing) if d.info_class in wanted and not d.part2]


def latest_attachments(actor: User, patient: Patient) -> list[Document]:
    seen: set[str] = set()
    latest = []
    for d in attachable_documents(actor, patient):
        if d.info_class not in seen:
            seen.add(d.info_class)
            latest.append(d)
    return latest


def _write_draft(referral: Referral, draft: Draft) -> None:
    referral.urgency = draft.urgency
    referral.reason = draft.reason.strip()[:REASON_MAX]
    referral.clinical_question = draft.clinical_question.strip()[:QUESTION_MAX]
    referral.language = draft.language
    referral.times_of_day = sorted(set(draft.times_of_day) & set(matching.TIMES_OF_DAY))
    referral.visit_setting = draft.visit_setting
    referral.location_state = draft.location_state or referral.patient.state
    referral.payer = draft.payer
    referral.member_id = draft.member_id.strip()


def save_draft(
    *,
    actor: User,
    patient: Patient,
    draft: Draft,
    meta: audit.RequestMeta,
    referral: Referral | None = None,
    form_token: uuid.UUID | None = None,
) -> Referral:
    """Create a draft, or change one. A second submit of the same new-referral
    form finds the first draft instead of making a twin."""
    if not policy.can_refer(actor, patient):
        raise TransitionRefused("Only the patient's practice refers.")
    allowed_docs = {d.pk for d in attachable_documents(actor, patient)}
    if any(d.pk not in allowed_docs for d in draft.attachments):
        raise TransitionRefused("Attach only the patient's latest assessments and medication records.")
    with transaction.atomic():
        if referral is None:
            if form_token is not None:
                existing = Referral.objects.filter(form_token=form_token, referred_by=actor).first()
                if existing is not None:
                    return existing
            referral = Referral(patient=patient, practice=patient.practice, referred_by=actor, form_token=form_token)
            action = Action.CREATE
        else:
            referral = _locked(referral)
            if referral.status != State.DRAFT:
                raise TransitionRefused("Only a draft can be changed.")
            action = Action.UPDATE
        _write_draft(referral, draft)
        referral.updated_at = timezone.now()
        try:
            with transaction.atomic():
                referral.save()
        except IntegrityError:
            existing = Referral.objects.filter(form_token=form_token, referred_by=actor).first()
            if existing is None:
                raise
            return existing
        referral.attachments.set(list(draft.attachments))
        audit.record(
            actor=actor,
            action=action,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id,
            target_type="referral",
            target_id=referral.public_id,
            detail={"draft": True},
        )
    return referral


def missing_for_submit(referral: Referral) -> list[str]:
    problems = []
    if not referral.reason.strip():
        problems.append("Give the reason for the referral.")
    if not referral.location_state:
        problems.append("Say which state the patient will be in for visits.")
    return problems


def submit(*, actor: User, referral: Referral, meta: audit.RequestMeta) -> Referral:
    with transaction.atomic():
        locked = _locked(referral)
        check_transition(locked, "submit", _sides(actor, locked), "")
        problems = missing_for_submit(locked)
        groups = policy.receiving_groups(locked.practice)
        if not groups:
            problems.append(f"{locked.practice.name} has no active partner psychiatric group to refer to.")
        else:
            receivers = [g for g in groups if _may_receive(locked.patient, g.pk)]
            if not receivers:
                names = ", ".join(g.name for g in groups)
                problems.append(
                    f"The patient has not authorized sharing with {names}, and {locked.practice.name} shares only "
                    "under an authorization. Have the patient sign one, then submit."
                )
        if problems:
            raise TransitionRefused(" ".join(problems))
        now = timezone.now()
        locked.triage_due_at, locked.visit_due_at = due_times(locked.urgency, now, groups)
        _move(locked, "submit", actor=actor, meta=meta, at=now, detail={"urgency": locked.urgency})
        _tell_groups(
            locked,
            groups,
            {Role.COORDINATOR, Role.GROUP_ADMIN} if locked.urgency == Urgency.URGENT else {Role.COORDINATOR},
            "A new referral is waiting for triage.",
            "A new referral is waiting",
        )
    return locked


def _may_receive(patient: Patient, organization_id: int, viewer_id: int = 0) -> bool:
    return policy.referral_sharing(patient, organization_id, viewer_id).sees(
        InfoClass.DEMOGRAPHICS, patient.practice_id
    )


# --- Matching ------------------------------------------------------------------------------------


def evaluation_type(group: Organization) -> AppointmentType:
    types = [t for t in scheduling.ensure_types(group) if t.is_active and t.kind == Kind.PSYCH_EVAL]
    if not types:
        raise TransitionRefused(f"{group.name} has no active psychiatric evaluation appointment type.")
    return min(types, key=lambda t: t.minutes)


def modality_for(referral: Referral) -> str:
    return Modality.VIDEO_OFFICE if referral.visit_setting == VisitSetting.VIDEO_OFFICE else Modality.VIDEO_HOME


def _zone_where(referral: Referral) -> str:
    """Times of day are the patient's where they will be for visits."""
    if referral.location_state == referral.patient.state:
        return referral.patient.timezone
    rules = current_rules()
    return str(rules.zone(referral.location_state)) if referral.location_state in rules.state_time_zones else "UTC"


def _request(referral: Referral, at: datetime.datetime, search_days: int) -> matching.Request:
    return matching.Request(
        state=referral.location_state,
        payer_code=referral.payer.code if referral.payer else "",
        payer_name=referral.payer.name if referral.payer else "",
        at=at,
        preferences=matching.Preferences(
            language=referral.language,
            language_label=str(Language(referral.language).label) if referral.language in Language.values else "",
            times_of_day=frozenset(referral.times_of_day or ()),
            zone=_zone_where(referral),
        ),
        search_days=search_days,
    )


# The soonest an evaluation is offered: time to tell the patient and send the link.
LEAD_TIME = datetime.timedelta(hours=1)

SlotCache = dict[tuple[int, int, tuple[datetime.datetime, ...]], tuple[datetime.datetime, ...]]


def match(
    referral: Referral,
    *,
    at: datetime.datetime | None = None,
    exclude: Iterable[tuple[int, datetime.datetime]] = (),
    slot_cache: SlotCache | None = None,
) -> matching.Ranking:
    """Rank every prescriber of every partner group for this referral. Calendars
    are read only for prescribers who pass the other tests."""
    at = at or timezone.now()
    groups = policy.receiving_groups(referral.practice, at)
    search_days = max((settings_for(g).search_days for g in groups), default=21)
    request = _request(referral, at, search_days)
    members = list(
        Membership.objects.filter(organization__in=groups, role=Role.PRESCRIBER, is_active=True, user__is_active=True)
        .select_related("user", "organization")
        .order_by("user__full_name", "user_id")
    )
    creds = eligibility.load_credentials({m.user_id for m in members})
    languages = {
        p.user_id: frozenset(p.languages or ())
        for p in ClinicianProfile.objects.filter(user_id__in=[m.user_id for m in members])
    }
    sharing = {g.pk: policy.referral_sharing(referral.patient, g.pk, 0, at) for g in groups}
    # Openings held for other referrals take the prescriber's time and weekly capacity.
    held: dict[int, list[datetime.datetime]] = {}
    skip = set(exclude)
    for prescriber_id, start in (
        Offer.objects.filter(status=OfferStatus.PENDING, prescriber_id__in=[m.user_id for m in members])
        .exclude(referral_id=referral.pk)
        .values_list("prescriber_id", "starts_at")
    ):
        held.setdefault(prescriber_id, []).append(start)
        skip.add((prescriber_id, start))  # never offered twice, whatever the calendar says
    screened = [
        matching.Candidate(
            clinician_id=m.user_id,
            name=m.user.display_name,
            group_id=m.organization_id,
            group_name=m.organization.name,
            public_ref=str(m.user.public_id),
            credentials=creds.get(m.user_id) or eligibility.Credentials(discipline=""),
            languages=languages.get(m.user_id, frozenset()) | {"en"},
            may_receive=_sees_demographics(sharing[m.organization_id], referral.patient, m.user_id),
        )
        for m in members
    ]
    # Calendars only for those who pass the other tests, all read at once.
    cache: SlotCache = slot_cache if slot_cache is not None else {}
    keys = {
        i: (m.user_id, m.organization_id, tuple(sorted(held.get(m.user_id, ()))))
        for i, (m, c) in enumerate(zip(members, screened, strict=True))
        if not matching.screen(request, c)[1]
    }
    missing = [i for i, key in keys.items() if key not in cache]
    if missing:
        window = (at + LEAD_TIME, at + datetime.timedelta(days=search_days))
        cals = scheduling.calendars([members[i].user for i in missing], *window)
        types: dict[int, AppointmentType] = {}
        for i in missing:
            m = members[i]
            if m.organization_id not in types:
                types[m.organization_id] = evaluation_type(m.organization)
            cache[keys[i]] = tuple(
                scheduling.slots_in(cals[m.user_id], types[m.organization_id], *window, limit=400, held=keys[i][2])
            )
    candidates = [replace(c, slots=cache[keys[i]]) if i in keys else c for i, c in enumerate(screened)]
    return matching.rank(request, candidates, exclude=skip)


def _sees_demographics(sharing: policy.Sharing, patient: Patient, clinician_id: int) -> bool:
    named = policy.Sharing(**{**sharing.__dict__, "viewer_id": clinician_id})
    return named.sees(InfoClass.DEMOGRAPHICS, patient.practice_id)


def _turned_down(referral: Referral) -> set[tuple[int, datetime.datetime]]:
    return set(
        Offer.objects.filter(referral=referral, status__in=[OfferStatus.DECLINED, OfferStatus.EXPIRED]).values_list(
            "prescriber_id", "starts_at"
        )
    )


def current_ranking(referral: Referral, at: datetime.datetime | None = None) -> matching.Ranking:
    """The offers a person sees: openings not held for another referral
    (``match`` leaves those out) and not turned down by this one."""
    return match(referral, at=at, exclude=_turned_down(referral))


# --- Transitions ---------------------------------------------------------------------------------


def triage(*, actor: User, referral: Referral, meta: audit.RequestMeta, urgency: str = "", note: str = "") -> Referral:
    """Accept the referral for matching. The coordinator may change its urgency;
    the time limits then follow, still counted from submission. When no
    prescriber has room, the referral goes on the waitlist."""
    if urgency and urgency not in Urgency.values:
        raise TransitionRefused("Choose routine, soon or urgent.")
    with transaction.atomic():
        locked = _locked(referral)
        check_transition(locked, "triage", _sides(actor, locked), note)
        changed = bool(urgency) and urgency != locked.urgency
        if changed:
            locked.urgency = urgency
            assert locked.submitted_at is not None
            groups = policy.receiving_groups(locked.practice)
            locked.triage_due_at, locked.visit_due_at = due_times(urgency, locked.submitted_at, groups)
        _move(locked, "triage", actor=actor, meta=meta, note=note, detail={"urgency_changed": changed})
        if current_ranking(locked).best is None:
            locked.waitlisted_at = timezone.now()
            locked.save(update_fields=["waitlisted_at"])
    return locked


def _ensure_on_team(referral: Referral, prescriber: User, group: Organization) -> None:
    day = referral.patient.practice.local_date()
    if CareTeamMember.objects.filter(
        active_on(day), patient=referral.patient, user=prescriber, organization=group
    ).exists():
        return
    CareTeamMember.objects.create(
        patient=referral.patient, user=prescriber, organization=group, role=CareTeamRole.PRESCRIBER, starts_on=day
    )


def book(
    *,
    actor: User,
    referral: Referral,
    prescriber_id: int,
    starts_at: datetime.datetime,
    meta: audit.RequestMeta,
) -> Referral:
    """Book the evaluation with one of the ranked offers, in one step: the
    prescriber joins the care team, the appointment is booked, the referral is
    scheduled, and the referring therapist is told."""
    with transaction.atomic():
        locked = _locked(referral)
        sides = _sides(actor, locked)
        check_transition(locked, "book", sides, "")
        pending = Offer.objects.filter(referral=locked, status=OfferStatus.PENDING).first()
        ranking = match(locked, exclude=_turned_down(locked))
        chosen = next(
            (o for o in ranking.offers if o.candidate.clinician_id == prescriber_id),
            None,
        )
        pending_matches = (
            pending is not None and pending.prescriber_id == prescriber_id and pending.starts_at == starts_at
        )
        if chosen is None and not pending_matches:
            excluded = next((e for e in ranking.excluded if e.candidate.clinician_id == prescriber_id), None)
            if excluded is not None:
                raise TransitionRefused(
                    f"{excluded.candidate.name} cannot take this referral: "
                    + "; ".join(r.label for r in excluded.reasons)
                    + "."
                )
            raise TransitionRefused("That prescriber is not among this referral's offers.")
        if not pending_matches and (chosen is None or starts_at not in chosen.bookable):
            raise TransitionRefused("That opening is no longer available. Choose another.")
        group_id = chosen.candidate.group_id if chosen is not None else pending.group_id  # type: ignore[union-attr]
        group = Organization.objects.get(pk=group_id)
        if BOOKING_THERAPIST in sides and RECEIVING not in sides and not settings_for(group).therapists_may_book:
            raise TransitionRefused(f"{group.name} books its own evaluations; its coordinator will.")
        prescriber = User.objects.get(pk=prescriber_id)
        _ensure_on_team(locked, prescriber, group)
        try:
            with transaction.atomic():
                appointment = scheduling.book(
                    actor=actor,
                    appointment_type=evaluation_type(group),
                    clinicians=[prescriber],
                    patient=locked.patient,
                    starts_at=starts_at,
                    modality=modality_for(locked),
                    expected_state=locked.location_state,
                    meta=meta,
                )
        except scheduling.SlotTaken as exc:
            raise TransitionRefused(str(exc)) from exc
        except scheduling.BookingRefused as exc:
            raise TransitionRefused("; ".join(exc.reasons)) from exc
        now = timezone.now()
        if pending is not None:
            pending.status = OfferStatus.ACCEPTED if pending_matches else OfferStatus.WITHDRAWN
            pending.decided_at, pending.decided_by = now, actor
            pending.save(update_fields=["status", "decided_at", "decided_by"])
        if not pending_matches:
            Offer.objects.create(
                referral=locked,
                prescriber=prescriber,
                group=group,
                starts_at=starts_at,
                status=OfferStatus.ACCEPTED,
                why=list(chosen.why) if chosen else [],
                decided_at=now,
                decided_by=actor,
            )
        locked.appointment, locked.prescriber, locked.group = appointment, prescriber, group
        locked.waitlisted_at = None
        _move(locked, "book", actor=actor, meta=meta, at=now, detail={"prescriber": prescriber.public_id})
    return locked


def offer(
    *,
    referral: Referral,
    choice: matching.Offer,
    meta: audit.RequestMeta,
    actor: User | None = None,
    at: datetime.datetime | None = None,
) -> Offer:
    """Hold an opening for this referral until it is accepted, turned down or
    expires. Raises IntegrityError when the referral or the opening already
    has a pending offer (another worker was first)."""
    at = at or timezone.now()
    group = Organization.objects.get(pk=choice.candidate.group_id)
    hours = settings_for(group).offer_hours
    with transaction.atomic():
        locked = _locked(referral)
        check_transition(locked, "offer", _sides(actor, locked), "")
        row = Offer.objects.create(
            referral=locked,
            prescriber_id=choice.candidate.clinician_id,
            group=group,
            starts_at=choice.starts_at,
            automatic=actor is None,
            why=list(choice.why),
            created_at=at,
            expires_at=at + datetime.timedelta(hours=hours),
        )
        _move(locked, "offer", actor=actor, meta=meta, at=at, detail={"automatic": actor is None})
        _tell_groups(locked, [group], {Role.COORDINATOR}, "An opening was offered to a referral.", "A referral offer")
    return row


def release(
    *, actor: User | None, referral: Referral, reason: str, meta: audit.RequestMeta, expired: bool = False
) -> Referral:
    """The pending offer is turned down (or ran out): the referral goes back in
    line, and that opening is not offered to it again."""
    with transaction.atomic():
        locked = _locked(referral)
        check_transition(locked, "release", _sides(actor, locked), reason)
        now = timezone.now()
        Offer.objects.filter(referral=locked, status=OfferStatus.PENDING).update(
            status=OfferStatus.EXPIRED if expired else OfferStatus.DECLINED, decided_at=now, decided_by=actor
        )
        locked.waitlisted_at = locked.waitlisted_at or now
        _move(locked, "release", actor=actor, meta=meta, note=reason, at=now)
    return locked


def _end(name: str, *, actor: User | None, referral: Referral, reason: str, meta: audit.RequestMeta) -> Referral:
    with transaction.atomic():
        locked = _locked(referral)
        check_transition(locked, name, _sides(actor, locked), reason)
        now = timezone.now()
        Offer.objects.filter(referral=locked, status=OfferStatus.PENDING).update(
            status=OfferStatus.WITHDRAWN, decided_at=now, decided_by=actor
        )
        appointment = locked.appointment if locked.status == State.SCHEDULED else None
        _move(locked, name, actor=actor, meta=meta, note=reason, at=now)
        if appointment is not None and actor is not None and appointment.status == "booked":
            scheduling.cancel(
                actor=actor, appointment=appointment, reason=f"Referral cancelled: {reason}"[:300], meta=meta
            )
    return locked


def decline(*, actor: User, referral: Referral, reason: str, meta: audit.RequestMeta) -> Referral:
    return _end("decline", actor=actor, referral=referral, reason=reason, meta=meta)


def cancel(*, actor: User, referral: Referral, reason: str, meta: audit.RequestMeta) -> Referral:
    return _end("cancel", actor=actor, referral=referral, reason=reason, meta=meta)


def expire(*, referral: Referral, reason: str, meta: audit.RequestMeta = audit.SYSTEM) -> Referral:
    return _end("expire", actor=None, referral=referral, reason=reason, meta=meta)


def on_appointment_changed(appointment: Appointment, what: str) -> None:
    """Called by scheduling, inside its transaction, when an appointment is
    completed, cancelled or missed: the referral it answers follows."""
    for referral in Referral.objects.filter(appointment=appointment, status=State.SCHEDULED).select_related(
        "patient__practice", "practice", "referred_by"
    ):
        locked = _locked(referral)
        if what == "completed":
            _move(locked, "complete", actor=None, meta=audit.SYSTEM)
        elif what in ("cancelled", "missed"):
            locked.waitlisted_at = timezone.now()
            locked.appointment = None
            _move(locked, "reopen", actor=None, meta=audit.SYSTEM, note=f"The evaluation was {what}.")
    if what in ("cancelled",):
        transaction.on_commit(enqueue_waitlist)


def on_record_filed(document: Document) -> None:
    """A record filed by the group that saw a referred patient, on or after the
    first visit, is the visit summary: its referrer hears of it when the
    patient's consent lets them read it (never what it says)."""
    referrals = Referral.objects.filter(
        patient_id=document.patient_id,
        status=State.COMPLETED,
        group_id=document.organization_id,
        appointment__starts_at__date__lte=document.occurred_on,
    ).select_related("referred_by", "patient__practice")
    for referral in referrals:
        sharing = policy.sharing_for(referral.referred_by, referral.patient)
        if sharing.sees(document.effective_class, document.organization_id):
            _tell_referrer(referral, None, "A visit summary is ready for a referral you made.")


def enqueue_waitlist() -> None:
    from tandem.referrals.tasks import fill_waitlist_now

    fill_waitlist_now.enqueue()


# --- The waitlist and the sweeps -----------------------------------------------------------------


def _in_line() -> list[Referral]:
    order = Case(
        *[When(urgency=u, then=Value(rank)) for u, rank in URGENCY_ORDER.items()],
        default=Value(9),
        output_field=IntegerField(),
    )
    return list(
        Referral.objects.filter(status=State.TRIAGED, waitlisted_at__isnull=False)
        .select_related("patient__practice", "practice", "payer", "referred_by")
        .annotate(priority=order)
        .order_by("priority", "submitted_at", "id")
    )


def expire_offers(now: datetime.datetime) -> int:
    count = 0
    for row in Offer.objects.filter(status=OfferStatus.PENDING, expires_at__lte=now).select_related("referral"):
        try:
            release(
                actor=None,
                referral=row.referral,
                reason="The offer ran out before anyone accepted it.",
                meta=audit.SYSTEM,
                expired=True,
            )
        except TransitionRefused:
            continue
        count += 1
    return count


def fill_waitlist(now: datetime.datetime | None = None) -> int:
    """Offer openings to waiting referrals: the most urgent first, then the
    oldest. An opening goes to one referral only (see ``Offer``'s constraints),
    even when two workers fill at once."""
    now = now or timezone.now()
    expire_offers(now)
    made = 0
    cache: SlotCache = {}
    held = set(Offer.objects.filter(status=OfferStatus.PENDING).values_list("prescriber_id", "starts_at"))
    for referral in _in_line():
        ranking = match(referral, at=now, exclude=held | _turned_down(referral), slot_cache=cache)
        best = ranking.best
        if best is None:
            continue
        try:
            offer(referral=referral, choice=best, meta=audit.SYSTEM, at=now)
        except (IntegrityError, TransitionRefused):
            # Another worker got there first, for this referral or this opening.
            held |= set(Offer.objects.filter(status=OfferStatus.PENDING).values_list("prescriber_id", "starts_at"))
            continue
        held.add((best.candidate.clinician_id, best.starts_at))
        made += 1
    return made


def escalate_overdue(now: datetime.datetime) -> int:
    """Tell the coordinators of an overdue referral, then its groups' admins.
    Each level of each limit goes out once: the unique row is written first."""
    sent = 0
    overdue = Referral.objects.filter(
        Q(status=State.SUBMITTED, triage_due_at__lt=now) | Q(status__in=WAITING, visit_due_at__lt=now)
    ).select_related("practice", "patient__practice", "referred_by")
    for referral in overdue:
        groups = policy.receiving_groups(referral.practice, now)
        if not groups:
            continue
        hours = min(settings_for(g).admin_escalation_hours for g in groups)
        targets = []
        if referral.status == State.SUBMITTED and referral.triage_due_at and referral.triage_due_at < now:
            targets.append((Escalation.TRIAGE, referral.triage_due_at, "triage"))
        if referral.visit_due_at and referral.visit_due_at < now:
            targets.append((Escalation.VISIT, referral.visit_due_at, "a first visit"))
        for target, due, what in targets:
            levels = [(1, {Role.COORDINATOR})]
            if now - due >= datetime.timedelta(hours=hours):
                levels.append((2, {Role.GROUP_ADMIN}))
            for level, roles in levels:
                try:
                    with transaction.atomic():
                        row = Escalation.objects.create(referral=referral, target=target, level=level, sent_at=now)
                        row.recipients = _tell_groups(
                            referral,
                            groups,
                            roles,
                            f"A referral is overdue for {what}.",
                            "A referral is overdue",
                        )
                        row.save(update_fields=["recipients"])
                        audit.record(
                            actor=None,
                            action=Action.SEND,
                            purpose=TREATMENT,
                            meta=audit.SYSTEM,
                            patient_id=referral.patient.public_id,
                            target_type="referral",
                            target_id=referral.public_id,
                            detail={"escalation": target, "level": level},
                        )
                except IntegrityError:
                    continue  # already sent
                sent += 1
    return sent


def expire_stale(now: datetime.datetime) -> int:
    count = 0
    shortest = ReferralSettings.objects.aggregate(days=Min("max_wait_days"))["days"]
    soonest = now - datetime.timedelta(days=min(shortest or 90, 90))
    for referral in Referral.objects.filter(status__in=WAITING, submitted_at__lt=soonest).select_related("practice"):
        groups = policy.receiving_groups(referral.practice, now)
        days = max((settings_for(g).max_wait_days for g in groups), default=90)
        if referral.submitted_at and now - referral.submitted_at > datetime.timedelta(days=days):
            try:
                expire(referral=referral, reason=f"No evaluation was booked within {days} days.")
            except TransitionRefused:
                continue
            count += 1
    return count


def waitlist_sweep(now: datetime.datetime) -> int:
    return fill_waitlist(now)


def escalation_sweep(now: datetime.datetime) -> int:
    return escalate_overdue(now) + expire_stale(now)
