"""Diagnoses and the one treatment plan both disciplines work from.

A diagnosis is a row on the patient's problem list: an ICD-10-CM code with
its DSM-5-TR name, a status, who made it and when, and, for the common
diagnoses, the structured criteria checklist behind it.

A plan is a chain of versions. A version is a draft while its authors edit
it; the first signature locks it, and it is in force only once both the
therapist and the prescriber have signed. A locked version never changes:
the database refuses (migration 0002), and a change is a new draft version
based on the one before. The patient acknowledges the version in force.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.access.classes import InfoClass
from tandem.organizations.models import Organization
from tandem.patients.models import Patient

TEXT_MAX = 300
SUMMARY_MAX = 4_000
NOTE_MAX = 2_000
LOCKED_MESSAGE = "A signed plan version cannot be changed; revise the plan to make a new draft."


class DiagnosisStatus(models.TextChoices):
    PROVISIONAL = "provisional", "Provisional"
    CONFIRMED = "confirmed", "Confirmed"
    RESOLVED = "resolved", "Resolved"


class Diagnosis(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    # The organization of the clinician who made it: whose information it is.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    code = models.CharField("ICD-10-CM code", max_length=10)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=DiagnosisStatus.choices, default=DiagnosisStatus.PROVISIONAL)
    diagnosed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    diagnosed_on = models.DateField()
    part2 = models.BooleanField(
        "substance-use disorder record (42 CFR Part 2)",
        default=False,
        help_text="Part 2 diagnoses travel only under the patient's Part 2 consent.",
    )
    note = models.TextField(max_length=NOTE_MAX, blank=True)
    # The criteria checklist: which criteria the clinician found met, and
    # whether that reached the diagnostic threshold when last recorded.
    criteria_set = models.CharField(max_length=20, blank=True)
    criteria_met = models.JSONField(default=list, blank=True)
    threshold_reached = models.BooleanField(null=True, blank=True)
    criteria_recorded_at = models.DateTimeField(null=True, blank=True)
    criteria_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_changed_at = models.DateTimeField(default=dj_timezone.now)
    status_changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["status", "-diagnosed_on", "id"]
        verbose_name_plural = "diagnoses"
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DiagnosisStatus.values), name="diagnosis_status_valid"),
            # One open entry per code: a second one would be a duplicate, not a new problem.
            models.UniqueConstraint(
                fields=["patient", "code"],
                condition=~Q(status=DiagnosisStatus.RESOLVED),
                name="diagnosis_open_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def effective_class(self) -> str:
        return str(InfoClass.PART2) if self.part2 else str(InfoClass.DIAGNOSES)


class Discipline(models.TextChoices):
    THERAPY = "therapy", "Therapy"
    MEDICATION = "medication", "Medication"
    SHARED = "shared", "Shared"


SIGNING_DISCIPLINES = (Discipline.THERAPY, Discipline.MEDICATION)


class Plan(models.Model):
    """The patient's one treatment plan: the chain of its versions."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="plan")
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Set only when the whole record is removed (the demo reset): it lets the
    # database delete signed versions, which it otherwise refuses.
    erasing = models.BooleanField(default=False, editable=False)

    def __str__(self) -> str:
        return f"Treatment plan of patient {self.patient_id}"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNING = "signing", "Awaiting signatures"
    IN_FORCE = "in_force", "In force"
    SUPERSEDED = "superseded", "Superseded"


OPEN_STATUSES = (VersionStatus.DRAFT, VersionStatus.SIGNING)


class PlanVersion(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    # The organization of the clinician who drafted it: whose information it is.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    based_on = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_version"
    )
    summary = models.TextField("presenting problems and what the patient wants from care", max_length=SUMMARY_MAX)
    # The problem list as it stood when the version was drafted (or last
    # edited): a signed plan names the diagnoses it was signed with.
    diagnoses = models.JSONField(default=list, blank=True)
    review_on = models.DateField("review by")
    change_note = models.CharField("what changed and why", max_length=TEXT_MAX, blank=True)
    revision = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    in_force_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_version_number_unique"),
            models.CheckConstraint(condition=Q(status__in=VersionStatus.values), name="plan_version_status_valid"),
            # One version being worked on at a time, and one in force.
            models.UniqueConstraint(
                fields=["plan"], condition=Q(status__in=list(OPEN_STATUSES)), name="plan_one_open_version"
            ),
            models.UniqueConstraint(
                fields=["plan"], condition=Q(status=VersionStatus.IN_FORCE), name="plan_one_version_in_force"
            ),
            models.CheckConstraint(
                condition=Q(status=VersionStatus.DRAFT) | Q(locked_at__isnull=False), name="plan_version_locked_time"
            ),
            models.CheckConstraint(
                condition=~Q(status=VersionStatus.IN_FORCE) | Q(in_force_at__isnull=False),
                name="plan_version_in_force_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan version {self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT

    @property
    def is_locked(self) -> bool:
        return self.status != VersionStatus.DRAFT

    @property
    def effective_class(self) -> str:
        return str(InfoClass.CARE_PLAN)


class Comparison(models.TextChoices):
    BELOW = "below", "below"
    AT_MOST = "at_most", "at or below"


class GoalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MET = "met", "Met"
    DROPPED = "dropped", "Dropped"


class Goal(models.Model):
    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="goals")
    # The same goal across versions, so the diff can say what changed in it.
    lineage = models.UUIDField(default=uuid.uuid4, editable=False)
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=TEXT_MAX)
    discipline = models.CharField(max_length=12, choices=Discipline.choices)
    target_date = models.DateField(null=True, blank=True)
    instrument = models.CharField("questionnaire", max_length=20, blank=True)
    comparison = models.CharField(max_length=10, choices=Comparison.choices, blank=True)
    target_score = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "lineage"], name="goal_once_per_version"),
            models.CheckConstraint(
                condition=(Q(instrument="") & Q(comparison="") & Q(target_score__isnull=True))
                | (~Q(instrument="") & ~Q(comparison="") & Q(target_score__isnull=False)),
                name="goal_measure_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def is_measured(self) -> bool:
        return bool(self.instrument)


class InterventionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class Intervention(models.Model):
    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="interventions")
    lineage = models.UUIDField(default=uuid.uuid4, editable=False)
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=TEXT_MAX)
    discipline = models.CharField(max_length=12, choices=[(d.value, d.label) for d in SIGNING_DISCIPLINES])
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    frequency = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=InterventionStatus.choices, default=InterventionStatus.ACTIVE)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "lineage"], name="intervention_once_per_version")]

    def __str__(self) -> str:
        return self.text


class PlanSignature(models.Model):
    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    discipline = models.CharField(max_length=12, choices=[(d.value, d.label) for d in SIGNING_DISCIPLINES])
    signed_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "discipline"], name="plan_signed_once_per_discipline"),
            models.UniqueConstraint(fields=["version", "signer"], name="plan_signed_once_per_signer"),
        ]

    def __str__(self) -> str:
        return f"{self.signer} signed {self.version}"


class AcknowledgementMethod(models.TextChoices):
    LINK = "link", "Through a secure link"
    IN_OFFICE = "in_office", "In the office"


class PlanAcknowledgement(models.Model):
    """The patient has read the plan in force and agrees to work on it."""

    version = models.OneToOneField(PlanVersion, on_delete=models.PROTECT, related_name="acknowledgement")
    method = models.CharField(max_length=10, choices=AcknowledgementMethod.choices)
    typed_name = models.CharField("name as typed by the patient", max_length=160)
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return f"Acknowledgement of {self.version}"


class PlanLink(models.Model):
    """A single-use link the patient opens to read and acknowledge the plan.
    Only the token's hash is kept."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=8)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Plan link for {self.version}"


class ReviewReminder(models.Model):
    """A reminder already sent about a version's review date: each kind goes once."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", "Review due soon"
        OVERDUE = "overdue", "Review overdue"

    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sent_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "kind"], name="plan_review_reminded_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.version}"
