"""What a clinician holds: licences, compact privileges, DEA and state
controlled-substance registrations, board certifications, payer enrollments
and NP collaboration agreements.

Dates are whole days, both ends included; the engine judges them in the time
zone of the state the credential belongs to.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.lib.us_states import US_STATES
from tandem.patients.models import Payer


def validate_npi(value: str) -> None:
    """An NPI is ten digits whose last is a Luhn check digit over '80840' + the first nine."""
    if len(value) != 10 or not value.isdigit():
        raise ValidationError("An NPI is ten digits.")
    digits = [int(c) for c in "80840" + value[:9]]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    if (10 - total % 10) % 10 != int(value[9]):
        raise ValidationError("That NPI's check digit is wrong; check for a typo.")


class Discipline(models.TextChoices):
    PSYCHIATRIST = "psychiatrist", "Psychiatrist (MD/DO)"
    PMHNP = "pmhnp", "Psychiatric nurse practitioner"
    PA = "pa", "Physician assistant"
    PSYCHOLOGIST = "psychologist", "Psychologist"
    COUNSELOR = "counselor", "Professional counselor"
    SOCIAL_WORKER = "social_worker", "Clinical social worker"
    MFT = "mft", "Marriage and family therapist"


PRESCRIBING_DISCIPLINES = {Discipline.PSYCHIATRIST, Discipline.PMHNP, Discipline.PA}


class LicenseType(models.TextChoices):
    MD = "MD", "MD"
    DO = "DO", "DO"
    NP = "NP", "Nurse practitioner (APRN)"
    PA = "PA", "Physician assistant"
    PSYCHOLOGIST = "PSY", "Psychologist"
    LPC = "LPC", "Licensed professional counselor"
    LCSW = "LCSW", "Licensed clinical social worker"
    LMFT = "LMFT", "Licensed marriage and family therapist"


PRESCRIBING_LICENSES = {LicenseType.MD, LicenseType.DO, LicenseType.NP, LicenseType.PA}


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    INACTIVE = "inactive", "Inactive"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"


class Compact(models.TextChoices):
    PSYPACT_APIT = "psypact_apit", "PSYPACT APIT (telepsychology)"
    COUNSELING = "counseling", "Counseling Compact privilege"


class Schedule(models.TextChoices):
    II = "II", "Schedule II"
    III = "III", "Schedule III"
    IV = "IV", "Schedule IV"
    V = "V", "Schedule V"


class ClinicianProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinician_profile")
    discipline = models.CharField(max_length=20, choices=Discipline.choices)
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    # Languages the clinician sees patients in, as patients.Language codes;
    # referral matching prefers a shared one.
    languages = models.JSONField(default=list, blank=True, help_text="Language codes, e.g. en, es.")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_discipline_display()})"


def private_storage() -> Storage:
    """Uploaded documents live outside anything the web server serves (settings.STORAGES["private"])."""
    return storages["private"]


def document_path(instance: models.Model, filename: str) -> str:
    # A random name: the clinician's file name may say more than it should.
    return f"credentials/{uuid.uuid4().hex}"


class Credential(models.Model):
    """Fields every credential shares, verification and a document included."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_source = models.CharField(max_length=200, blank=True)
    # Kept outside the static and media roots; served only through the access policy.
    document = models.FileField(storage=private_storage, upload_to=document_path, blank=True)
    document_type = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        abstract = True

    def clean(self) -> None:
        if self.issued_on and self.expires_on and self.expires_on < self.issued_on:
            raise ValidationError({"expires_on": "The expiry date is before the issue date."})


def _dates_ordered(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(expires_on__isnull=True) | Q(issued_on__isnull=True) | Q(expires_on__gte=models.F("issued_on")),
        name=f"{name}_dates_ordered",
    )


class StateLicense(Credential):
    state = models.CharField(max_length=2, choices=US_STATES)
    license_type = models.CharField(max_length=5, choices=LicenseType.choices)
    number = models.CharField(max_length=40)
    via_imlc = models.BooleanField("issued through the IMLC", default=False)

    class Meta:
        ordering = ["state", "license_type"]
        constraints = [_dates_ordered("license")]

    def __str__(self) -> str:
        return f"{self.license_type} licence {self.state} {self.number}"


class CompactPrivilege(Credential):
    compact = models.CharField(max_length=20, choices=Compact.choices)
    # A Counseling Compact privilege is for one remote state; an APIT covers
    # every PSYPACT member, so it has none.
    state = models.CharField(max_length=2, choices=US_STATES, blank=True)
    number = models.CharField(max_length=40)

    class Meta:
        ordering = ["compact", "state"]
        constraints = [_dates_ordered("compact")]

    def __str__(self) -> str:
        return f"{self.get_compact_display()} {self.state}".strip()


class DeaRegistration(Credential):
    state = models.CharField(max_length=2, choices=US_STATES)
    number = models.CharField("DEA number", max_length=9)
    schedules = models.JSONField(default=list, help_text="Schedules covered: II, III, IV, V.")

    class Meta:
        ordering = ["state"]
        constraints = [_dates_ordered("dea")]

    def __str__(self) -> str:
        return f"DEA {self.state} {self.number}"


class StateControlledSubstanceRegistration(Credential):
    state = models.CharField(max_length=2, choices=US_STATES)
    number = models.CharField(max_length=40)

    class Meta:
        ordering = ["state"]
        constraints = [_dates_ordered("csr")]

    def __str__(self) -> str:
        return f"Controlled-substance registration {self.state} {self.number}"


class BoardCertification(Credential):
    board = models.CharField(max_length=120)
    specialty = models.CharField(max_length=120)

    class Meta:
        ordering = ["board"]
        constraints = [_dates_ordered("board")]

    def __str__(self) -> str:
        return f"{self.board}: {self.specialty}"


class PayerEnrollment(Credential):
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=2, choices=US_STATES)

    class Meta:
        ordering = ["payer__name", "state"]
        constraints = [_dates_ordered("enrollment")]

    def __str__(self) -> str:
        return f"{self.payer} in {self.state}"


class CollaborationAgreement(Credential):
    """An NP's collaborative or supervisory agreement with a physician, per state."""

    state = models.CharField(max_length=2, choices=US_STATES)
    physician_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["state"]
        constraints = [_dates_ordered("collaboration")]

    def __str__(self) -> str:
        return f"Collaboration in {self.state} with {self.physician_name}"


def day_in_force(issued_on: datetime.date | None, expires_on: datetime.date | None, day: datetime.date) -> bool:
    return (issued_on is None or issued_on <= day) and (expires_on is None or day <= expires_on)


KIND_MODELS: dict[str, type[Credential]] = {
    "licence": StateLicense,
    "compact": CompactPrivilege,
    "dea": DeaRegistration,
    "csr": StateControlledSubstanceRegistration,
    "board": BoardCertification,
    "enrollment": PayerEnrollment,
    "collaboration": CollaborationAgreement,
}

KIND_LABELS: dict[str, str] = {
    "licence": "licence",
    "compact": "compact privilege",
    "dea": "DEA registration",
    "csr": "state controlled-substance registration",
    "board": "board certification",
    "enrollment": "payer enrollment",
    "collaboration": "collaboration agreement",
}


class ExpiryAlert(models.Model):
    """One alert sent for one credential at one threshold. The unique key is
    what makes each alert go out exactly once, however many workers sweep."""

    credential_kind = models.CharField(max_length=40)
    credential_id = models.UUIDField()
    expires_on = models.DateField()
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["credential_kind", "credential_id", "expires_on", "days_before"], name="one_alert_per_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"{self.credential_kind} {self.credential_id}: {self.days_before} days"
