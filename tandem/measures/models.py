"""Questionnaire responses and their scores.

A response keeps the answers as given (the position of each option chosen),
the instrument's key and version, and, once complete, the score the engine
gave it. Each scored response is also a FHIR-ready observation (``fhir.py``):
the instrument's LOINC total code, the value, and a link to the answers.
Assessments are their own consent class (``InfoClass.ASSESSMENTS``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.organizations.models import Organization
from tandem.patients.models import Patient


class Source(models.TextChoices):
    IN_SESSION = "in_session", "In session, with the clinician"
    PATIENT_LINK = "patient_link", "By the patient, through a link"


class ResponseStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETE = "complete", "Complete"


class Response(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="responses")
    # Whose measurement it is: the organization of the clinician who gave it or sent the link.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    instrument = models.CharField(max_length=40)
    instrument_version = models.CharField(max_length=20)
    language = models.CharField(max_length=5, default="en")
    source = models.CharField(max_length=20, choices=Source.choices)
    administered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answers = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=ResponseStatus.choices, default=ResponseStatus.IN_PROGRESS)
    total = models.PositiveSmallIntegerField(null=True, blank=True)
    band = models.CharField(max_length=80, blank=True)
    positive = models.BooleanField(null=True, blank=True)
    critical = models.JSONField(default=list, blank=True)
    subscales = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=dj_timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # For a response the patient gives through a link: the link, which finds it again.
    link = models.ForeignKey("MeasureLink", on_delete=models.PROTECT, null=True, blank=True, related_name="responses")

    class Meta:
        ordering = ["-completed_at", "-started_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "instrument", "completed_at"]),
            models.Index(fields=["status", "completed_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ResponseStatus.values), name="response_status_valid"),
            models.CheckConstraint(
                condition=Q(status="in_progress") | (Q(completed_at__isnull=False) & Q(total__isnull=False)),
                name="response_complete_has_score",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.public_id}"

    @property
    def is_complete(self) -> bool:
        return self.status == ResponseStatus.COMPLETE


class SafetyAlert(models.Model):
    """A critical answer (PHQ-9 item 9, a high-risk C-SSRS answer, EPDS item
    10): the care team is told at once, someone acknowledges it with what
    they did, and if nobody has within the configured time it escalates,
    once, to the organizations' admins."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="safety_alerts")
    response = models.OneToOneField(Response, on_delete=models.PROTECT, related_name="safety_alert")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    reasons = models.JSONField(default=list)
    opened_at = models.DateTimeField(default=dj_timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action_taken = models.TextField(max_length=2000, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["acknowledged_at", "escalated_at", "opened_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | (Q(acknowledged_by__isnull=False) & ~Q(action_taken="")),
                name="safety_alert_acknowledged_with_action",
            ),
        ]

    def __str__(self) -> str:
        return f"Safety alert {self.public_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    NONE = "none", "Give the link myself"


class MeasureLink(models.Model):
    """A patient's way to answer questionnaires without an account: a random
    token (only its hash is kept), for one patient and the instruments
    chosen, expiring after a week and used up once every one is complete.
    Answers saved along the way can be finished later within its life."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measure_links")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    instruments = models.JSONField(default=list)
    language = models.CharField(max_length=5, default="en")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.NONE)
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Questionnaire link {self.public_id}"


class MeasureSchedule(models.Model):
    """Questionnaires a patient is sent by themselves: every so many days,
    and/or a few days before each medication-management visit."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measure_schedules")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    instruments = models.JSONField(default=list)
    every_days = models.PositiveSmallIntegerField(null=True, blank=True)
    before_medication_visits = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(every_days__isnull=False) | Q(before_medication_visits=True), name="schedule_has_a_rhythm"
            ),
        ]

    def __str__(self) -> str:
        return f"Questionnaire schedule {self.public_id}"


class ScheduledSend(models.Model):
    """A link a schedule sent before one visit: once per visit."""

    schedule = models.ForeignKey(MeasureSchedule, on_delete=models.CASCADE, related_name="sends")
    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey(MeasureLink, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule", "appointment"], name="one_send_per_visit")]

    def __str__(self) -> str:
        return f"Scheduled send {self.pk}"


class CaseReview(models.Model):
    """The psychiatric consultant's review of a patient who is not improving
    (or is flagged otherwise), with the recommendation it ended in. The
    recommendation is also filed in the chart, where consent lets it travel."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="case_reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    flags = models.JSONField(default=list, blank=True)
    recommendation = models.TextField(max_length=4000)
    document = models.OneToOneField(
        "records.Document", on_delete=models.PROTECT, null=True, blank=True, related_name="case_review"
    )
    reviewed_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-reviewed_at", "-id"]

    def __str__(self) -> str:
        return f"Case review {self.public_id}"
