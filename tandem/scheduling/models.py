"""Appointment types, availability and appointments.

Instants are stored in UTC; weekly hours are local wall-clock times in the
clinician's zone. See docs/decisions/0004-scheduling.md.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone

from tandem.accounts.models import validate_timezone
from tandem.lib.us_states import US_STATES
from tandem.organizations.models import Organization
from tandem.patients.models import Patient


class Kind(models.TextChoices):
    INTAKE = "intake", "Intake"
    THERAPY = "therapy", "Therapy session"
    PSYCH_EVAL = "psych_eval", "Psychiatric evaluation"
    MED_MANAGEMENT = "med_management", "Medication management"
    CO_TREATMENT = "co_treatment", "Co-treatment visit"
    CONSULT = "consult", "Provider consult"


# The table: default length, whether the patient takes part, and
# whether it is a new-patient evaluation that uses the separate capacity.
DEFAULT_TYPES: dict[str, tuple[int, bool, bool]] = {
    Kind.INTAKE: (60, True, True),
    Kind.THERAPY: (50, True, False),
    Kind.PSYCH_EVAL: (60, True, True),
    Kind.MED_MANAGEMENT: (30, True, False),
    Kind.CO_TREATMENT: (60, True, False),
    Kind.CONSULT: (15, False, False),
}


class Modality(models.TextChoices):
    VIDEO_HOME = "video_home", "Video, patient at home"
    VIDEO_OFFICE = "video_office", "Video, patient in the practice's office"
    IN_PERSON = "in_person", "In person"
    AUDIO = "audio", "Audio only"


class AppointmentType(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="appointment_types")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=80)
    minutes = models.PositiveSmallIntegerField("default length (minutes)")
    with_patient = models.BooleanField(default=True)
    new_patient = models.BooleanField("new-patient evaluation", default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["organization", "kind", "minutes"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="appointment_type_name_unique"),
            models.CheckConstraint(condition=Q(minutes__gte=5) & Q(minutes__lte=480), name="appointment_type_length"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.minutes} min)"


class SchedulingRules(models.Model):
    clinician = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduling_rules"
    )
    buffer_minutes = models.PositiveSmallIntegerField(default=10)
    max_per_day = models.PositiveSmallIntegerField(default=8)
    new_patient_per_week = models.PositiveSmallIntegerField("new-patient evaluations per week", default=4)

    def __str__(self) -> str:
        return f"Scheduling rules of {self.clinician}"


class WeeklyHours(models.Model):
    """A recurring block of hours, in wall-clock time where the clinician is."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_hours")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(
        choices=[
            (i, d) for i, d in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
        ]
    )
    start = models.TimeField()
    end = models.TimeField()
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    valid_from = models.DateField(default=datetime.date(2000, 1, 1))
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["clinician", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="weekly_hours_ordered"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="weekly_hours_weekday"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="weekly_hours_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M} {self.timezone}"


class TimeOff(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="time_off_ordered")]

    def __str__(self) -> str:
        return f"Time off {self.starts_at:%Y-%m-%d}"


class Status(models.TextChoices):
    BOOKED = "booked", "Booked"
    CHECKED_IN = "checked_in", "Checked in"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


HOLDING = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)


class Series(models.Model):
    """A weekly recurring run of appointments (therapy)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    weeks = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"Weekly series of {self.weeks}"


class Appointment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    # For a provider consult, the patient it is about (who does not attend).
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    modality = models.CharField(max_length=16, choices=Modality.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    series = models.ForeignKey(Series, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments")
    expected_state = models.CharField("patient's expected location", max_length=2, choices=US_STATES, blank=True)
    attested_state = models.CharField("patient's location at check-in", max_length=2, choices=US_STATES, blank=True)
    attested_by = models.CharField(max_length=16, blank=True)  # "patient" or "clinician"
    checked_in_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["patient", "starts_at"]), models.Index(fields=["starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="appointment_ordered"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="appointment_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type.name} at {self.starts_at:%Y-%m-%d %H:%M} UTC"

    @property
    def holds_time(self) -> bool:
        return self.status in HOLDING


class Participant(models.Model):
    """A clinician on an appointment, with a copy of its time range: the row the
    database keeps from overlapping (PostgreSQL exclusion constraint)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointment_slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    holds = models.BooleanField(default=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["user", "starts_at"])]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "user"], name="participant_once"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="participant_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.appointment_id}"
