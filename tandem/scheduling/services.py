"""Finding slots and booking. Atomic, audited, and safe under concurrency:
see docs/decisions/0004-scheduling.md."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.credentials import eligibility
from tandem.organizations.models import Membership, Organization, Role
from tandem.patients.models import Patient
from tandem.scheduling import slots
from tandem.scheduling.models import (
    DEFAULT_TYPES,
    Appointment,
    AppointmentType,
    Kind,
    Modality,
    Participant,
    SchedulingRules,
    Series,
    Status,
    TimeOff,
    WeeklyHours,
)

TREATMENT = "treatment"


class SlotTaken(Exception):
    """Someone else booked this time first."""


class BookingRefused(Exception):
    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


def ensure_types(organization: Organization) -> list[AppointmentType]:
    """The organization's appointment types, creating the defaults on first use."""
    existing = list(AppointmentType.objects.filter(organization=organization))
    if not existing:
        AppointmentType.objects.bulk_create(
            [
                AppointmentType(
                    organization=organization,
                    kind=kind,
                    name=str(Kind(kind).label),
                    minutes=minutes,
                    with_patient=with_patient,
                    new_patient=new_patient,
                )
                for kind, (minutes, with_patient, new_patient) in DEFAULT_TYPES.items()
            ]
            + [
                AppointmentType(
                    organization=organization,
                    kind=Kind.CONSULT,
                    name="Provider consult (30 min)",
                    minutes=30,
                    with_patient=False,
                )
            ],
            ignore_conflicts=True,
        )
        existing = list(AppointmentType.objects.filter(organization=organization))
    return existing


def rules_for(clinician: User) -> SchedulingRules:
    found = SchedulingRules.objects.filter(clinician=clinician).first()
    return found if found is not None else SchedulingRules(clinician=clinician)


@dataclass(frozen=True)
class Calendar:
    """What one clinician's time looks like around a window."""

    zone: str
    hours: list[slots.Hours]
    busy: list[slots.Interval]
    time_off: list[slots.Interval]
    per_day: Counter[datetime.date]
    new_per_week: Counter[tuple[int, int]]
    rules: SchedulingRules


def _whole_weeks(
    start: datetime.datetime, end: datetime.datetime, zone: str
) -> tuple[datetime.datetime, datetime.datetime]:
    """From the Monday of the window's first local week to the end of its last."""
    tz = zoneinfo.ZoneInfo(zone)
    first_day = start.astimezone(tz).date()
    last_day = end.astimezone(tz).date()
    week_start = datetime.datetime.combine(
        first_day - datetime.timedelta(days=first_day.weekday()), datetime.time(), tz
    )
    week_end = datetime.datetime.combine(
        last_day + datetime.timedelta(days=7 - last_day.weekday()), datetime.time(), tz
    )
    return week_start, week_end


def calendars(clinicians: Sequence[User], start: datetime.datetime, end: datetime.datetime) -> dict[int, Calendar]:
    """Several clinicians' held time, time off and counts around a window, in
    four queries however many there are. Held time is read over whole local
    weeks, so the weekly new-patient count sees whole weeks."""
    people = {c.pk: c for c in clinicians}
    if not people:
        return {}
    margin = datetime.timedelta(days=1)
    hours_by: dict[int, list[WeeklyHours]] = {pk: [] for pk in people}
    for h in WeeklyHours.objects.filter(clinician_id__in=people).order_by("clinician_id", "weekday", "start"):
        hours_by[h.clinician_id].append(h)
    zones = {pk: rows[0].timezone if rows else people[pk].timezone for pk, rows in hours_by.items()}
    bounds = {pk: _whole_weeks(start, end, zones[pk]) for pk in people}
    read_from = min([start - margin, *(b[0] for b in bounds.values())])
    read_to = max([end + margin, *(b[1] for b in bounds.values())])
    # Columns, not model rows: a busy calendar has thousands of them.
    held_by: dict[int, list[tuple[datetime.datetime, datetime.datetime, bool]]] = {pk: [] for pk in people}
    for user_id, s, e, new in Participant.objects.filter(
        user_id__in=people, holds=True, starts_at__lt=read_to, ends_at__gt=read_from
    ).values_list("user_id", "starts_at", "ends_at", "appointment__appointment_type__new_patient"):
        week_start, week_end = bounds[user_id]
        if s < max(end + margin, week_end) and e > min(start - margin, week_start):
            held_by[user_id].append((s, e, new))
    off_by: dict[int, list[slots.Interval]] = {pk: [] for pk in people}
    for t in TimeOff.objects.filter(clinician_id__in=people, starts_at__lt=end + margin, ends_at__gt=start - margin):
        off_by[t.clinician_id].append(slots.Interval(t.starts_at, t.ends_at))
    rules = {r.clinician_id: r for r in SchedulingRules.objects.filter(clinician_id__in=people)}
    result = {}
    for pk, person in people.items():
        tz = zoneinfo.ZoneInfo(zones[pk])
        held = held_by[pk]
        result[pk] = Calendar(
            zone=zones[pk],
            hours=[slots.Hours(h.weekday, h.start, h.end, h.valid_from, h.valid_until) for h in hours_by[pk]],
            busy=sorted(slots.Interval(s, e) for s, e, _n in held),
            time_off=sorted(off_by[pk]),
            per_day=Counter(s.astimezone(tz).date() for s, _e, _n in held),
            new_per_week=Counter(s.astimezone(tz).isocalendar()[:2] for s, _e, new in held if new),
            rules=rules.get(pk) or SchedulingRules(clinician=person),
        )
    return result


def calendar(clinician: User, start: datetime.datetime, end: datetime.datetime) -> Calendar:
    return calendars([clinician], start, end)[clinician.pk]


def slots_in(
    cal: Calendar,
    appointment_type: AppointmentType,
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    limit: int | None = 50,
    held: Sequence[datetime.datetime] = (),
) -> list[datetime.datetime]:
    """Open starts for this type of visit in one calendar. ``held`` are starts
    of visits of this type promised but not yet booked (openings offered to
    referrals): they take time and, for new-patient evaluations, weekly capacity."""
    length = datetime.timedelta(minutes=appointment_type.minutes)
    tz = zoneinfo.ZoneInfo(cal.zone)
    per_day = cal.per_day.copy()
    new_per_week = cal.new_per_week.copy()
    for h in held:
        per_day[h.astimezone(tz).date()] += 1
        if appointment_type.new_patient:
            new_per_week[h.astimezone(tz).isocalendar()[:2]] += 1
    found = slots.find_slots(
        hours=cal.hours,
        zone=cal.zone,
        busy=sorted([*cal.busy, *(slots.Interval(h, h + length) for h in held)]),
        time_off=cal.time_off,
        minutes=appointment_type.minutes,
        buffer=cal.rules.buffer_minutes,
        window_start=start,
        window_end=end,
        max_per_day=cal.rules.max_per_day,
        booked_per_day=per_day,
        limit=None if appointment_type.new_patient else limit,
    )
    if appointment_type.new_patient:
        cap = cal.rules.new_patient_per_week
        found = [s for s in found if new_per_week[s.astimezone(tz).isocalendar()[:2]] < cap]
        found = found[:limit] if limit is not None else found
    return found


def open_slots(
    clinician: User,
    appointment_type: AppointmentType,
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    limit: int | None = 50,
    held: Sequence[datetime.datetime] = (),
) -> list[datetime.datetime]:
    return slots_in(calendar(clinician, start, end), appointment_type, start, end, limit=limit, held=held)


def _why_not(
    clinician: User, appointment_type: AppointmentType, start: datetime.datetime, end: datetime.datetime
) -> tuple[list[str], bool]:
    """Why the visit does not fit this clinician's time, and whether another appointment is in the way."""
    cal = calendar(clinician, start, end)
    tz = zoneinfo.ZoneInfo(cal.zone)
    reasons = slots.fits(
        hours=cal.hours,
        zone=cal.zone,
        busy=cal.busy,
        time_off=cal.time_off,
        start=start,
        end=end,
        buffer=cal.rules.buffer_minutes,
        max_per_day=cal.rules.max_per_day,
        booked_on_day=cal.per_day[start.astimezone(tz).date()],
    )
    week = start.astimezone(tz).isocalendar()[:2]
    if appointment_type.new_patient and cal.new_per_week[week] >= cal.rules.new_patient_per_week:
        reasons.append("no new-patient capacity left that week")
    clash = any(r in {slots.OVERLAP, slots.TOO_CLOSE} for r in reasons)
    return [f"{clinician.display_name}: {r}" for r in reasons], clash


def is_prescriber(clinician: User) -> bool:
    return Membership.objects.filter(user=clinician, role=Role.PRESCRIBER, is_active=True).exists()


def eligibility_reasons(clinician: User, *, state: str, at: datetime.datetime, modality: str) -> list[str]:
    """Why this prescriber may not see a patient located in ``state`` at ``at`` (empty: they may)."""
    creds = eligibility.load_credentials([clinician.pk]).get(clinician.pk) or eligibility.Credentials(discipline="")
    action = eligibility.Action.SEE_AUDIO if modality == Modality.AUDIO else eligibility.Action.SEE
    decision = eligibility.decide(creds, state=state, at=at, action=action)
    return [] if decision.allowed else [f"{clinician.display_name}: {r.text}" for r in decision.reasons]


def prescriber_refusals(people: Sequence[User], *, state: str, at: datetime.datetime, modality: str) -> list[str]:
    """Why the prescribers among these people may not see a patient located in ``state`` at ``at``."""
    return [
        reason
        for person in people
        if is_prescriber(person)
        for reason in eligibility_reasons(person, state=state, at=at, modality=modality)
    ]


def _require_free_time(
    people: Sequence[User], appointment_type: AppointmentType, start: datetime.datetime, end: datetime.datetime
) -> None:
    """Raise SlotTaken when another appointment is in the way, BookingRefused for any other rule."""
    reasons: list[str] = []
    taken = False
    for person in people:
        why, clash = _why_not(person, appointment_type, start, end)
        reasons += why
        taken = taken or clash
    if taken:
        raise SlotTaken("That time was just taken. Choose another slot.")
    if reasons:
        raise BookingRefused(reasons)


def book(
    *,
    actor: User,
    appointment_type: AppointmentType,
    clinicians: Sequence[User],
    patient: Patient | None,
    starts_at: datetime.datetime,
    modality: str,
    expected_state: str = "",
    form_token: uuid.UUID | None = None,
    meta: audit.RequestMeta,
    minutes: int | None = None,
) -> Appointment:
    """Book one appointment, or refuse with reasons, or raise SlotTaken when
    another booking won the race. Nothing partial is ever written."""
    if form_token is not None:
        existing = Appointment.objects.filter(form_token=form_token, created_by=actor).first()
        if existing is not None:
            return existing
    people = list({c.pk: c for c in clinicians}.values())
    reasons: list[str] = []
    if not people:
        reasons.append("Choose at least one clinician.")
    if appointment_type.with_patient and patient is None:
        reasons.append("This kind of appointment needs a patient.")
    if appointment_type.kind == Kind.CO_TREATMENT and len(people) < 2:
        reasons.append("A co-treatment visit has the therapist and the prescriber together.")
    if appointment_type.kind == Kind.CONSULT and len(people) != 2:
        reasons.append("A provider consult is between two clinicians.")
    if starts_at.tzinfo is None:
        reasons.append("The start needs a time zone.")
    if modality not in Modality.values:
        reasons.append("Choose how the visit happens.")
    if reasons:
        raise BookingRefused(reasons)
    ends_at = starts_at + datetime.timedelta(minutes=minutes or appointment_type.minutes)
    if patient is not None and appointment_type.with_patient:
        refusals = prescriber_refusals(people, state=expected_state or patient.state, at=starts_at, modality=modality)
        if refusals:
            raise BookingRefused(refusals)
    try:
        with transaction.atomic():
            # SQLite: this block holds the write lock from its first statement (BEGIN IMMEDIATE).
            # PostgreSQL: the exclusion constraint refuses the loser of a race at insert.
            _require_free_time(people, appointment_type, starts_at, ends_at)
            appointment = Appointment.objects.create(
                organization=appointment_type.organization,
                appointment_type=appointment_type,
                patient=patient,
                starts_at=starts_at,
                ends_at=ends_at,
                modality=modality,
                expected_state=(expected_state or (patient.state if patient else "")),
                created_by=actor,
                form_token=form_token,
            )
            Participant.objects.bulk_create(
                Participant(appointment=appointment, user=p, starts_at=starts_at, ends_at=ends_at) for p in people
            )
            audit.record(
                actor=actor,
                action=Action.CREATE,
                purpose=TREATMENT,
                meta=meta,
                patient_id=patient.public_id if patient else None,
                target_type="appointment",
                target_id=appointment.public_id,
                detail={"kind": appointment_type.kind, "clinicians": len(people)},
            )
            _tell_team(actor, appointment, "booked")
    except IntegrityError as exc:
        if form_token is not None:
            existing = Appointment.objects.filter(form_token=form_token, created_by=actor).first()
            if existing is not None:
                return existing
        raise SlotTaken("That time was just taken. Choose another slot.") from exc
    return appointment


# --- Changing an appointment ---------------------------------------------------------------


def _audit_change(
    actor: User, appointment: Appointment, action: Action, meta: audit.RequestMeta, **detail: object
) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=TREATMENT,
        meta=meta,
        patient_id=appointment.patient.public_id if appointment.patient else None,
        target_type="appointment",
        target_id=appointment.public_id,
        detail=dict(detail),
    )


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient__practice", "appointment_type")
        .get(pk=appointment.pk)
    )


def cancel(*, actor: User, appointment: Appointment, reason: str, meta: audit.RequestMeta) -> Appointment:
    if not reason.strip():
        raise BookingRefused(["Give a reason for cancelling."])
    with transaction.atomic():
        locked = _locked(appointment)
        if locked.status not in (Status.BOOKED, Status.CHECKED_IN):
            raise BookingRefused([f"This appointment is already {locked.get_status_display().lower()}."])
        locked.status = Status.CANCELLED
        locked.status_reason = reason.strip()[:300]
        locked.save(update_fields=["status", "status_reason"])
        Participant.objects.filter(appointment=locked).update(holds=False)
        _audit_change(actor, locked, Action.UPDATE, meta, change="cancelled")
        _tell_team(actor, locked, "cancelled")
        _referral_follows(locked, "cancelled")
    return locked


def mark_no_show(*, actor: User, appointment: Appointment, meta: audit.RequestMeta) -> Appointment:
    with transaction.atomic():
        locked = _locked(appointment)
        if locked.status != Status.BOOKED or locked.patient is None:
            raise BookingRefused(["Only a booked appointment with a patient can be marked missed."])
        if locked.starts_at > timezone.now():
            raise BookingRefused(["An appointment can be marked missed only after it starts."])
        locked.status = Status.NO_SHOW
        locked.save(update_fields=["status"])
        # The time was spent waiting: it stays held on the calendar.
        _audit_change(actor, locked, Action.UPDATE, meta, change="no_show")
        _tell_team(actor, locked, "missed")
        _referral_follows(locked, "missed")
    return locked


def complete(*, actor: User, appointment: Appointment, meta: audit.RequestMeta) -> Appointment:
    with transaction.atomic():
        locked = _locked(appointment)
        if locked.status not in (Status.BOOKED, Status.CHECKED_IN):
            raise BookingRefused([f"This appointment is already {locked.get_status_display().lower()}."])
        locked.status = Status.COMPLETED
        locked.save(update_fields=["status"])
        _audit_change(actor, locked, Action.UPDATE, meta, change="completed")
        _tell_team(actor, locked, "completed")
        _referral_follows(locked, "completed")
    return locked


def reschedule(
    *, actor: User, appointment: Appointment, starts_at: datetime.datetime, reason: str, meta: audit.RequestMeta
) -> Appointment:
    """Move an appointment. Its own time is released for the check, so it may
    move by less than its length; everything else is checked as for a booking."""
    if not reason.strip():
        raise BookingRefused(["Give a reason for moving it."])
    try:
        with transaction.atomic():
            locked = _locked(appointment)
            if locked.status != Status.BOOKED:
                raise BookingRefused(["Only a booked appointment can be moved."])
            people = [p.user for p in locked.participants.select_related("user")]
            length = locked.ends_at - locked.starts_at
            ends_at = starts_at + length
            Participant.objects.filter(appointment=locked).update(holds=False)
            if locked.patient is not None and locked.appointment_type.with_patient:
                state = locked.expected_state or locked.patient.state
                refusals = prescriber_refusals(people, state=state, at=starts_at, modality=locked.modality)
                if refusals:
                    raise BookingRefused(refusals)
            _require_free_time(people, locked.appointment_type, starts_at, ends_at)
            old = locked.starts_at
            locked.starts_at, locked.ends_at = starts_at, ends_at
            locked.status_reason = reason.strip()[:300]
            locked.save(update_fields=["starts_at", "ends_at", "status_reason"])
            Participant.objects.filter(appointment=locked).update(starts_at=starts_at, ends_at=ends_at, holds=True)
            from tandem.reminders.services import reset_for

            reset_for(locked)  # reminders follow the new time
            _audit_change(
                actor,
                locked,
                Action.UPDATE,
                meta,
                change="moved",
                moved_by_minutes=int((starts_at - old).total_seconds() // 60),
            )
            _tell_team(actor, locked, "moved")
    except IntegrityError as exc:
        raise SlotTaken("That time was just taken. Choose another slot.") from exc
    return locked


@dataclass(frozen=True)
class CheckIn:
    appointment: Appointment
    allowed: bool
    reasons: list[str]


def check_in(
    *, actor: User, appointment: Appointment, state: str, attested_by: str, meta: audit.RequestMeta
) -> CheckIn:
    """Record where the patient is for this visit, and check every prescriber
    again for that state. A mismatch blocks the visit, with the reasons."""
    if attested_by not in {"patient", "clinician"}:
        raise BookingRefused(["Say who attests the patient's location."])
    with transaction.atomic():
        locked = _locked(appointment)
        if locked.patient is None or locked.status != Status.BOOKED:
            raise BookingRefused(["Only a booked appointment with a patient is checked in."])
        people = [p.user for p in locked.participants.select_related("user")]
        reasons = prescriber_refusals(people, state=state, at=timezone.now(), modality=locked.modality)
        locked.attested_state = state
        locked.attested_by = attested_by
        if not reasons:
            locked.status = Status.CHECKED_IN
            locked.checked_in_at = timezone.now()
        locked.save(update_fields=["attested_state", "attested_by", "status", "checked_in_at"])
        _audit_change(actor, locked, Action.UPDATE, meta, change="check_in", allowed=not reasons)
    return CheckIn(locked, not reasons, reasons)


def eligible_alternatives(
    patient: Patient, *, state: str, at: datetime.datetime, modality: str, exclude: Sequence[User] = ()
) -> list[User]:
    """Prescribers of the practice's active partner groups who may see this patient there and then."""
    from tandem.access import policy

    groups = [m.organization_id for m in policy.eligible_care_team_members(patient) if m.role == Role.PRESCRIBER]
    candidates = list(
        User.objects.filter(
            memberships__organization_id__in=groups, memberships__role=Role.PRESCRIBER, memberships__is_active=True
        )
        .exclude(pk__in=[u.pk for u in exclude])
        .distinct()
        .order_by("full_name")
    )
    creds = eligibility.load_credentials([c.pk for c in candidates])
    action = eligibility.Action.SEE_AUDIO if modality == Modality.AUDIO else eligibility.Action.SEE
    return [
        c
        for c in candidates
        if eligibility.decide(
            creds.get(c.pk) or eligibility.Credentials(discipline=""), state=state, at=at, action=action
        ).allowed
    ]


def _referral_follows(appointment: Appointment, what: str) -> None:
    from tandem.referrals.services import on_appointment_changed

    on_appointment_changed(appointment, what)


def _tell_team(actor: User, appointment: Appointment, what: str) -> None:
    """Tell the patient's other care-team members, at once and without health information."""
    from django.urls import reverse

    from tandem.messaging.services import notify
    from tandem.patients.models import CareTeamMember, active_on

    if appointment.patient is None:
        ids = set(appointment.participants.values_list("user_id", flat=True))
    else:
        day = appointment.patient.practice.local_date()
        ids = set(
            CareTeamMember.objects.filter(active_on(day), patient=appointment.patient).values_list("user_id", flat=True)
        )
    ids.discard(actor.pk)
    if not ids:
        return
    notify(
        recipients=User.objects.filter(pk__in=ids, is_active=True),
        kind="appointment",
        text=f"An appointment of a patient you share was {what}.",
        link=reverse("scheduling:appointment", args=[appointment.public_id]),
    )


@dataclass(frozen=True)
class SeriesResult:
    booked: list[Appointment]
    skipped: list[tuple[datetime.datetime, list[str]]]


def book_series(
    *,
    actor: User,
    appointment_type: AppointmentType,
    clinicians: Sequence[User],
    patient: Patient,
    starts_at: datetime.datetime,
    weeks: int,
    modality: str,
    expected_state: str = "",
    skip_taken: bool = False,
    meta: audit.RequestMeta,
) -> SeriesResult:
    """Weekly appointments at the same local time. All or nothing, unless
    ``skip_taken``: then the weeks that cannot be booked are reported and the
    rest are booked. Local time, not UTC, repeats: 10:00 stays 10:00 across DST."""
    if appointment_type.kind != Kind.THERAPY:
        raise BookingRefused(["Only therapy sessions are booked as a weekly series."])
    if not 2 <= weeks <= 26:
        raise BookingRefused(["A series has 2 to 26 weeks."])
    zone = zoneinfo.ZoneInfo(patient.practice.timezone)
    local = starts_at.astimezone(zone)
    starts = []
    for w in range(weeks):
        wall = (local.replace(tzinfo=None) + datetime.timedelta(weeks=w)).replace(tzinfo=zone)
        starts.append(wall.astimezone(datetime.UTC))
    booked: list[Appointment] = []
    skipped: list[tuple[datetime.datetime, list[str]]] = []
    with transaction.atomic():
        series = Series.objects.create(created_by=actor, weeks=weeks)
        for start in starts:
            try:
                with transaction.atomic():
                    appointment = book(
                        actor=actor,
                        appointment_type=appointment_type,
                        clinicians=clinicians,
                        patient=patient,
                        starts_at=start,
                        modality=modality,
                        expected_state=expected_state,
                        meta=meta,
                    )
            except SlotTaken as exc:
                skipped.append((start, [str(exc)]))
            except BookingRefused as exc:
                skipped.append((start, exc.reasons))
            else:
                appointment.series = series
                appointment.save(update_fields=["series"])
                booked.append(appointment)
        if skipped and not skip_taken:
            transaction.set_rollback(True)
            return SeriesResult([], skipped)
    return SeriesResult(booked, skipped)
