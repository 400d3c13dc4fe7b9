"""A believable month of calendars for the demo: weekly hours, therapy
sessions, medication visits, a co-treatment visit and a provider consult,
around the day the demo is built. No clinician is ever double-booked."""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict

from django.utils import timezone

from tandem.accounts.models import User
from tandem.organizations.models import Organization
from tandem.patients.models import CareTeamMember, Patient
from tandem.scheduling.models import (
    Appointment,
    AppointmentType,
    Kind,
    Modality,
    Participant,
    SchedulingRules,
    Status,
    WeeklyHours,
)
from tandem.scheduling.services import ensure_types

# email: (organization key, zone, weekdays, opens, closes)
HOURS = {
    "therapist@riverbend.demo": ("riverbend", "America/Los_Angeles", range(5), 9, 17),
    "therapist2@riverbend.demo": ("riverbend", "America/Los_Angeles", range(1, 5), 10, 18),
    "prescriber@northstar.demo": ("northstar", "America/Denver", range(5), 8, 16),
    "np@northstar.demo": ("northstar", "America/Boise", range(1, 6), 9, 15),
    "therapist@lakeside.demo": ("lakeside", "America/Los_Angeles", range(4), 10, 18),
}


class _Book:
    """Appointments for the demo, refusing any overlap for a clinician."""

    def __init__(self, creator: dict[str, User]) -> None:
        self.taken: dict[int, list[tuple[datetime.datetime, datetime.datetime]]] = defaultdict(list)
        self.appointments: list[Appointment] = []
        self.people: list[list[User]] = []
        self.creator = creator

    def add(
        self,
        kind_type: AppointmentType,
        people: list[User],
        patient: Patient | None,
        start: datetime.datetime,
        *,
        modality: str = Modality.VIDEO_HOME,
        status: str = Status.BOOKED,
        reason: str = "",
        minutes: int | None = None,
    ) -> bool:
        end = start + datetime.timedelta(minutes=minutes or kind_type.minutes)
        pad = datetime.timedelta(minutes=10)
        holds = status != Status.CANCELLED
        if holds and any(s - pad < end and start < e + pad for person in people for s, e in self.taken[person.pk]):
            return False
        if holds:
            for person in people:
                self.taken[person.pk].append((start, end))
        self.appointments.append(
            Appointment(
                organization=kind_type.organization,
                appointment_type=kind_type,
                patient=patient,
                starts_at=start,
                ends_at=end,
                modality=modality,
                status=status,
                status_reason=reason,
                expected_state=patient.state if patient else "",
                attested_state=patient.state if patient and status == Status.COMPLETED else "",
                attested_by="clinician" if status == Status.COMPLETED else "",
                created_by=people[0],
            )
        )
        self.people.append(people)
        return True

    def save(self) -> list[Appointment]:
        saved = Appointment.objects.bulk_create(self.appointments)
        Participant.objects.bulk_create(
            Participant(
                appointment=a,
                user=person,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                holds=a.status != Status.CANCELLED,
            )
            for a, people in zip(saved, self.people, strict=True)
            for person in people
        )
        return saved


def _at(day: datetime.date, hour: int, minute: int, zone: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(zone))


def schedule_world(
    orgs: dict[str, Organization], users: dict[str, User], riverbend: list[Patient], lakeside: list[Patient]
) -> int:
    """Hours and a month of appointments. Returns how many appointments."""
    for email, (org, zone, weekdays, opens, closes) in HOURS.items():
        WeeklyHours.objects.bulk_create(
            WeeklyHours(
                clinician=users[email],
                organization=orgs[org],
                weekday=d,
                start=datetime.time(opens),
                end=datetime.time(closes),
                timezone=zone,
            )
            for d in weekdays
        )
        SchedulingRules.objects.create(clinician=users[email], buffer_minutes=10, max_per_day=8, new_patient_per_week=3)
    types = {
        key: {t.kind + ("30" if t.minutes == 30 and t.kind == Kind.CONSULT else ""): t for t in ensure_types(org)}
        for key, org in orgs.items()
    }
    book = _Book(users)
    now = timezone.now()
    today = orgs["riverbend"].local_date(now)
    monday = today - datetime.timedelta(days=today.weekday())
    weeks = [monday + datetime.timedelta(weeks=w) for w in (-2, -1, 0, 1, 2)]
    therapy = types["riverbend"][Kind.THERAPY]
    med = types["northstar"][Kind.MED_MANAGEMENT]
    team = defaultdict(list)
    for member in CareTeamMember.objects.filter(patient__in=riverbend).select_related("user"):
        team[member.patient_id].append(member.user)

    def status_for(start: datetime.datetime, i: int) -> tuple[str, str]:
        if start >= now:
            return Status.BOOKED, ""
        if i % 11 == 3:
            return Status.NO_SHOW, ""
        if i % 13 == 5:
            return Status.CANCELLED, "Patient was unwell"
        return Status.COMPLETED, ""

    # Weekly therapy: each of the first 20 patients has a standing weekday and hour.
    for i, patient in enumerate(riverbend[:30]):
        therapist = users["therapist@riverbend.demo" if i < 20 else "therapist2@riverbend.demo"]
        weekday, hour = i % 5 if i < 20 else 1 + i % 4, 9 + (i // 5) % 7 + (1 if i >= 20 else 0)
        for w, week in enumerate(weeks):
            start = _at(week + datetime.timedelta(days=weekday), hour, 0, "America/Los_Angeles")
            status, reason = status_for(start, i + w)
            book.add(
                therapy,
                [therapist],
                patient,
                start,
                modality=Modality.IN_PERSON if i % 3 else Modality.VIDEO_HOME,
                status=status,
                reason=reason,
            )

    # Medication management every other week with the patient's prescriber.
    for i, patient in enumerate(riverbend[:35]):
        prescriber = next(
            (u for u in team[patient.pk] if u.email.endswith("@northstar.demo") and "coordinator" not in u.email), None
        )
        if prescriber is None:
            continue
        zone = "America/Denver" if prescriber.email.startswith("prescriber") else "America/Boise"
        for w, week in enumerate(weeks[i % 2 :: 2]):
            day = week + datetime.timedelta(days=1 + i % 4)
            for hour in (8, 9, 10, 11, 13, 14):
                start = _at(day, hour, 30 if i % 2 else 0, zone)
                status, reason = status_for(start, i + 2 * w)
                if book.add(med, [prescriber], patient, start, status=status, reason=reason):
                    break

    # A co-treatment visit next week: the patient in the therapist's office, the psychiatrist by video.
    co = types["riverbend"][Kind.CO_TREATMENT]
    maya, priya = users["therapist@riverbend.demo"], users["prescriber@northstar.demo"]
    next_thursday = weeks[3] + datetime.timedelta(days=3)
    for hour in (14, 13, 15):
        if book.add(
            co,
            [maya, priya],
            riverbend[1],
            _at(next_thursday, hour, 0, "America/Los_Angeles"),
            modality=Modality.VIDEO_OFFICE,
        ):
            break
    # Last week's co-treatment visit with the showcase patient, which both clinicians wrote up.
    last_week = weeks[1]
    for day_offset, hour in ((3, 15), (2, 15), (4, 15), (3, 16)):
        if book.add(
            co,
            [maya, priya],
            riverbend[0],
            _at(last_week + datetime.timedelta(days=day_offset), hour, 0, "America/Los_Angeles"),
            modality=Modality.VIDEO_OFFICE,
            status=Status.COMPLETED,
        ):
            break
    # A provider consult about a patient, this week or next.
    consult = types["riverbend"][Kind.CONSULT + "30"]
    for day_offset, hour in ((8, 14), (9, 14), (10, 14), (11, 14)):
        if book.add(
            consult,
            [maya, priya],
            riverbend[3],
            _at(monday + datetime.timedelta(days=day_offset), hour, 0, "America/Los_Angeles"),
            modality=Modality.AUDIO,
        ):
            break

    # Lakeside's own sessions, so the other practice's calendar is not empty.
    lake = types["lakeside"][Kind.THERAPY]
    for i, patient in enumerate(lakeside):
        for w, week in enumerate(weeks):
            start = _at(week + datetime.timedelta(days=i % 4), 10 + i % 7, 0, "America/Los_Angeles")
            status, reason = status_for(start, i + w)
            book.add(lake, [users["therapist@lakeside.demo"]], patient, start, status=status, reason=reason)
    return len(book.save())
