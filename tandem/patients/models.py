"""The patient, their coverage, and the clinicians on their care team."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.accounts.models import validate_timezone
from tandem.lib.us_states import US_STATES
from tandem.organizations.models import Organization

phone_validator = RegexValidator(
    r"^\+?[0-9 ().-]{7,20}$", "Enter a phone number of digits, spaces, brackets or dashes."
)
postal_validator = RegexValidator(r"^[0-9]{5}(-[0-9]{4})?$", "Enter a ZIP code like 97201 or 97201-1234.")


class SexAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown / not disclosed"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"
    VIETNAMESE = "vi", "Vietnamese"
    CHINESE = "zh", "Chinese"
    RUSSIAN = "ru", "Russian"
    KOREAN = "ko", "Korean"
    TAGALOG = "tl", "Tagalog"
    ASL = "ase", "American Sign Language"
    OTHER = "other", "Other"


class Payer(models.Model):
    """An insurer or program a patient may be covered by."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    code = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    practice = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("record number", max_length=20)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    preferred_name = models.CharField(max_length=80, blank=True)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=16, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    gender_identity = models.CharField(max_length=60, blank=True)
    pronouns = models.CharField(max_length=40, blank=True)
    preferred_language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True, validators=[phone_validator])
    address_line1 = models.CharField("address", max_length=120, blank=True)
    address_line2 = models.CharField("address line 2", max_length=120, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField("home state", max_length=2, choices=US_STATES)
    postal_code = models.CharField("ZIP code", max_length=10, blank=True, validators=[postal_validator])
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    member_id = models.CharField("member ID", max_length=40, blank=True)
    emergency_contact_name = models.CharField(max_length=120, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(max_length=20, blank=True, validators=[phone_validator])
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="patient"
    )
    # The hidden token of the form that created the patient: a second submit
    # of the same form finds this row instead of making a twin.
    intake_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [models.UniqueConstraint(fields=["practice", "mrn"], name="mrn_unique_in_practice")]
        indexes = [
            models.Index(fields=["practice", "last_name", "first_name"]),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def display_name(self) -> str:
        if self.preferred_name and self.preferred_name != self.first_name:
            return f"{self.first_name} ({self.preferred_name}) {self.last_name}"
        return self.full_name

    def age_on(self, day: datetime.date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def active_on(day: datetime.date) -> Q:
    """Dated rows (care team, partnerships) in force on a given day."""
    return Q(starts_on__lte=day) & (Q(ends_on__isnull=True) | Q(ends_on__gte=day))


class CareTeamRole(models.TextChoices):
    PRIMARY_THERAPIST = "primary_therapist", "Primary therapist"
    THERAPIST = "therapist", "Therapist"
    PRESCRIBER = "prescriber", "Psychiatric prescriber"
    COORDINATOR = "coordinator", "Care coordinator"


class CareTeamMember(models.Model):
    """A clinician treating the patient, through one organization, for dated days.

    Dates are whole days in the patient's practice's time zone, both ends included.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_teams")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32, choices=CareTeamRole.choices)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="care_team_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}"

    def is_active_on(self, day: datetime.date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)
