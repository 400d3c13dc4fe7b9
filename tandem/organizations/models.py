"""Therapy practices, psychiatric groups, who works where, and partnerships."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.accounts.models import validate_timezone


class OrganizationKind(models.TextChoices):
    PRACTICE = "practice", "Therapy practice"
    GROUP = "group", "Psychiatric group"


class Role(models.TextChoices):
    PRACTICE_ADMIN = "practice_admin", "Practice admin"
    THERAPIST = "therapist", "Therapist"
    GROUP_ADMIN = "group_admin", "Group admin"
    PRESCRIBER = "prescriber", "Prescriber"
    COORDINATOR = "coordinator", "Coordinator"


ROLES_BY_KIND: dict[str, set[str]] = {
    OrganizationKind.PRACTICE: {Role.PRACTICE_ADMIN, Role.THERAPIST, Role.COORDINATOR},
    OrganizationKind.GROUP: {Role.GROUP_ADMIN, Role.PRESCRIBER, Role.COORDINATOR},
}
ADMIN_ROLES = {Role.PRACTICE_ADMIN, Role.GROUP_ADMIN}
CLINICAL_ROLES = {Role.THERAPIST, Role.PRESCRIBER}


class Organization(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=16, choices=OrganizationKind.choices)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    states = models.JSONField(default=list, blank=True, help_text="Two-letter states where it works.")
    # HIPAA lets providers share for treatment without an authorization; many
    # states and practices ask for one anyway. A practice decides for its patients.
    treatment_sharing_requires_authorization = models.BooleanField(
        "sharing for treatment needs the patient's signed authorization",
        default=True,
        help_text="Applies to this practice's patients. Psychotherapy notes and Part 2 records always need one.",
    )
    instruments_off = models.JSONField(
        "questionnaires switched off",
        default=list,
        blank=True,
        help_text="Keys of instruments this organization does not use, for example one whose licence it has not got.",
    )
    notes_need_cosignature = models.BooleanField(
        "notes of supervised clinicians need their supervisor's co-signature",
        default=False,
        help_text="A supervised clinician is one whose membership names a supervisor.",
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=OrganizationKind.values), name="org_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_practice(self) -> bool:
        return self.kind == OrganizationKind.PRACTICE

    def local_date(self, at: datetime.datetime | None = None) -> datetime.date:
        """Today's date where the organization is: dated access ends at its midnight."""
        return (at or dj_timezone.now()).astimezone(zoneinfo.ZoneInfo(self.timezone)).date()


class Membership(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    # For a clinician under supervision (an associate, a resident): who co-signs
    # their notes, where the organization asks for it.
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="supervisees"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization__name", "user__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.organization}"


class Partnership(models.Model):
    """A therapy practice and a psychiatric group working together, for dated days.

    Dates are whole days in the practice's time zone, both ends included.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    practice = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="group_partnerships")
    group = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="practice_partnerships")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["practice__name", "group__name", "-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="partnership_dates_ordered",
            ),
            models.CheckConstraint(condition=~Q(practice=models.F("group")), name="partnership_two_orgs"),
        ]

    def __str__(self) -> str:
        return f"{self.practice} ↔ {self.group}"

    def is_active_on(self, day: datetime.date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)
