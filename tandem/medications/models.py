"""The medication list the prescriber manages and the therapist can see.

A ``Medication`` is one course of one drug: its current dose and status. Every
change to it (start, dose change, taper, hold, resume, stop) is a
``MedicationChange`` row with a reason, never an edit: together they are the
timeline. Prescriptions are recorded with the eligibility decision that let
them through and, for controlled drugs, the PDMP check they relied on. Lab
results and vitals feed the monitoring each drug class needs. The
therapist's observations (side effects, adherence, changes seen in session)
go onto the same timeline and to the prescriber.

All of it is the patient's medication list in the consent gate's terms
(``InfoClass.MEDICATIONS``), or Part 2 for substance-use treatment from a
Part 2 program.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.access.classes import InfoClass
from tandem.lib.us_states import US_STATES
from tandem.organizations.models import Organization
from tandem.patients.models import Patient

REASON_MAX = 500
TEXT_MAX = 2_000
SIG_MAX = 300


class MedicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    TAPERING = "tapering", "Tapering"
    ON_HOLD = "on_hold", "On hold"
    STOPPED = "stopped", "Stopped"


class Medication(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The catalog entry, and what it said when the course started.
    drug = models.CharField(max_length=60)
    display = models.CharField(max_length=80)
    drug_class = models.CharField(max_length=80)
    rxcui = models.CharField("RxNorm code", max_length=20, blank=True)
    schedule = models.CharField("controlled-substance schedule", max_length=4, blank=True)
    part2 = models.BooleanField("substance-use disorder treatment (42 CFR Part 2)", default=False)
    form = models.CharField(max_length=40)
    dose = models.DecimalField("dose per administration", max_digits=9, decimal_places=3)
    dose_unit = models.CharField(max_length=10, default="mg")
    sig = models.CharField("directions", max_length=SIG_MAX)
    indication = models.CharField("for", max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=MedicationStatus.choices, default=MedicationStatus.ACTIVE)
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["display", "started_on", "id"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=MedicationStatus.values), name="medication_status_valid"),
            models.CheckConstraint(condition=Q(dose__gt=0), name="medication_dose_positive"),
            models.CheckConstraint(
                condition=Q(status=MedicationStatus.STOPPED, stopped_on__isnull=False)
                | (~Q(status=MedicationStatus.STOPPED) & Q(stopped_on__isnull=True)),
                name="medication_stopped_has_date",
            ),
            # One open course of a drug: a second would be a duplicate line.
            models.UniqueConstraint(
                fields=["patient", "drug"],
                condition=~Q(status=MedicationStatus.STOPPED),
                name="medication_open_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.dose_text}"

    @property
    def dose_text(self) -> str:
        return f"{self.dose.normalize():f} {self.dose_unit}"

    @property
    def controlled(self) -> bool:
        return bool(self.schedule)

    @property
    def effective_class(self) -> str:
        return str(InfoClass.PART2) if self.part2 else str(InfoClass.MEDICATIONS)


class ChangeKind(models.TextChoices):
    START = "start", "Started"
    DOSE = "dose", "Dose changed"
    TAPER = "taper", "Taper started"
    HOLD = "hold", "Held"
    RESUME = "resume", "Resumed"
    STOP = "stop", "Stopped"


class MedicationChange(models.Model):
    """One step in a medication's history. Never edited."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=8, choices=ChangeKind.choices)
    dose_before = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    dose_after = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    sig = models.CharField("directions from here on", max_length=SIG_MAX, blank=True)
    reason = models.CharField(max_length=REASON_MAX)
    effective_on = models.DateField()
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-effective_on", "-made_at", "-id"]
        indexes = [models.Index(fields=["medication", "effective_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ChangeKind.values), name="medication_change_kind_valid"),
            models.CheckConstraint(condition=~Q(reason=""), name="medication_change_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.medication}"


class PdmpOutcome(models.TextChoices):
    NO_CONCERNS = "no_concerns", "Reviewed: nothing of concern"
    CONCERNS = "concerns", "Reviewed: findings to discuss"
    UNAVAILABLE = "unavailable", "The PDMP was unavailable"


class PdmpCheck(models.Model):
    """A check of the prescription drug monitoring program of one state, with its time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=2, choices=US_STATES)
    checked_at = models.DateTimeField("checked at")
    lookback_months = models.PositiveSmallIntegerField("period covered (months)", default=12)
    outcome = models.CharField(max_length=12, choices=PdmpOutcome.choices)
    findings = models.TextField(max_length=TEXT_MAX, blank=True)
    reference = models.CharField("report reference", max_length=60, blank=True)
    recorded_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["patient", "state", "-checked_at"])]

    def __str__(self) -> str:
        return f"PDMP check in {self.state} at {self.checked_at:%Y-%m-%d %H:%M}"


class Transmission(models.TextChoices):
    NOT_SENT = "not_sent", "Recorded only: not sent to any pharmacy"
    SENT = "sent", "Sent to the pharmacy"
    FAILED = "failed", "Sending failed"


class Prescription(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    drug = models.CharField(max_length=60)
    strength = models.CharField(max_length=40)
    form = models.CharField(max_length=40)
    sig = models.CharField("directions", max_length=SIG_MAX)
    quantity = models.PositiveIntegerField()
    days_supply = models.PositiveIntegerField()
    refills = models.PositiveSmallIntegerField(default=0)
    pharmacy = models.CharField(max_length=300)
    # Where the patient was, and how Tandem knew: the eligibility engine's input.
    patient_state = models.CharField(max_length=2, choices=US_STATES)
    state_source = models.CharField(max_length=200)
    eligibility = models.JSONField()
    in_person_evaluated = models.BooleanField(default=False)
    pdmp_check = models.ForeignKey(PdmpCheck, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Buprenorphine by telemedicine without an in-person evaluation: the end of
    # the six months the rule allows from the first such prescription.
    buprenorphine_clock_ends_on = models.DateField(null=True, blank=True)
    transmission = models.CharField(max_length=10, choices=Transmission.choices, default=Transmission.NOT_SENT)
    transmission_note = models.CharField(max_length=300, blank=True)
    written_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-written_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(refills__lte=11), name="prescription_refills_limit"),
            models.CheckConstraint(condition=Q(quantity__gt=0) & Q(days_supply__gt=0), name="prescription_amounts"),
        ]

    def __str__(self) -> str:
        return f"Prescription for {self.drug} {self.strength}"


class LabResult(models.Model):
    """A lab result or a vital sign, dated when it was taken."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    test = models.CharField(max_length=30)
    value = models.CharField(max_length=40)
    unit = models.CharField(max_length=20, blank=True)
    collected_on = models.DateField("taken on")
    note = models.CharField(max_length=300, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-collected_on", "-entered_at", "-id"]
        indexes = [models.Index(fields=["patient", "test", "-collected_on"])]

    def __str__(self) -> str:
        return f"{self.test} {self.value} {self.unit} on {self.collected_on}"

    @property
    def effective_class(self) -> str:
        return str(InfoClass.MEDICATIONS)


class ObservationKind(models.TextChoices):
    SIDE_EFFECT = "side_effect", "Side effect"
    ADHERENCE = "adherence", "Adherence"
    CHANGE = "change", "Change seen in session"


class Observation(models.Model):
    """What the therapist saw or heard about the patient's medication."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    medication = models.ForeignKey(
        Medication, on_delete=models.PROTECT, null=True, blank=True, related_name="observations"
    )
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=ObservationKind.choices)
    text = models.TextField(max_length=TEXT_MAX)
    observed_on = models.DateField()
    created_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-observed_on", "-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-observed_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} observed on {self.observed_on}"

    @property
    def effective_class(self) -> str:
        """About Part 2 treatment, it is a Part 2 record too (load ``medication`` first)."""
        if self.medication is not None and self.medication.part2:
            return str(InfoClass.PART2)
        return str(InfoClass.MEDICATIONS)
