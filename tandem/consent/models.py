"""Authorizations, the links patients sign them through, emergency access and
the accounting of disclosures.

An authorization is in force at a moment when it was signed before it, has not
been revoked, its expiry event has not happened, and its expiry date has not
passed in the patient's practice's time zone. ``in_force(at)`` is the one
place that rule is written as a query.
"""

from __future__ import annotations

import datetime
import uuid
import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.credentials.models import private_storage
from tandem.organizations.models import Organization
from tandem.patients.models import Patient


class Kind(models.TextChoices):
    COORDINATION = "coordination", "Coordination of care"
    PSYCHOTHERAPY_NOTES = "psychotherapy_notes", "Psychotherapy notes"
    PART2 = "part2", "Substance-use disorder records (42 CFR Part 2)"
    TELEHEALTH = "telehealth", "Telehealth and collaborative-care consent"


class Status(models.TextChoices):
    PENDING = "pending", "Waiting for signature"
    SIGNED = "signed", "Signed"
    VOID = "void", "Withdrawn before signing"


class SignedVia(models.TextChoices):
    LINK = "link", "Secure link"
    OFFICE = "office", "In the office"


class SignerRole(models.TextChoices):
    PATIENT = "patient", "The patient"
    REPRESENTATIVE = "representative", "A personal representative"


def pdf_path(instance: models.Model, filename: str) -> str:
    return f"authorizations/{uuid.uuid4().hex}.pdf"


def in_force(at: datetime.datetime, practice_timezone: str) -> Q:
    """Authorizations that allow disclosure at this moment."""
    local_day = at.astimezone(zoneinfo.ZoneInfo(practice_timezone)).date()
    return (
        Q(status=Status.SIGNED, signed_at__lte=at)
        & (Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        & (Q(event_occurred_at__isnull=True) | Q(event_occurred_at__gt=at))
        & (Q(expires_on__isnull=True) | Q(expires_on__gte=local_day))
    )


class Authorization(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="authorizations")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    template_key = models.CharField(max_length=40)
    template_version = models.PositiveIntegerField()
    template_sha256 = models.CharField(max_length=64)
    discloser = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    mutual = models.BooleanField(
        default=False, help_text="Each organization may disclose to the other, not only discloser to recipient."
    )
    recipient_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    classes = models.JSONField(default=list)
    purpose = models.CharField(max_length=500)
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(max_length=200, blank=True)
    event_occurred_at = models.DateTimeField(null=True, blank=True)
    event_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cost_sharing = models.CharField(max_length=500, blank=True)
    # The text the patient reads and signs, frozen when the authorization is prepared.
    text = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    signed_at = models.DateTimeField(null=True, blank=True)
    signed_via = models.CharField(max_length=16, choices=SignedVia.choices, blank=True)
    signer_name = models.CharField(max_length=120, blank=True)
    signer_role = models.CharField(max_length=16, choices=SignerRole.choices, blank=True)
    representative_authority = models.CharField(max_length=200, blank=True)
    signer_ip = models.GenericIPAddressField(null=True, blank=True)
    signature_drawing = models.TextField(max_length=20_000, blank=True)
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pdf = models.FileField(storage=private_storage, upload_to=pdf_path, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revocation_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="authorization_kind_valid"),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=False) | ~Q(expiry_event=""), name="authorization_expires"
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.SIGNED) | (Q(signed_at__isnull=False) & ~Q(pdf_sha256="")),
                name="authorization_signed_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.public_id})"

    def state_at(self, at: datetime.datetime | None = None) -> str:
        """pending, void, active, revoked or expired, for display."""
        at = at or dj_timezone.now()
        if self.status != Status.SIGNED:
            return str(self.status)
        if self.revoked_at is not None and self.revoked_at <= at:
            return "revoked"
        if self.event_occurred_at is not None and self.event_occurred_at <= at:
            return "expired"
        if self.expires_on is not None and self.expires_on < self.patient.practice.local_date(at):
            return "expired"
        return "active"

    @property
    def expiry_text(self) -> str:
        """When it ends, as words that follow "ends": "on July 9, 2027", "at
        this event: ...", or both, whichever comes first."""
        parts = []
        if self.expires_on:
            parts.append(f"on {self.expires_on:%B} {self.expires_on.day}, {self.expires_on.year}")
        if self.expiry_event:
            parts.append("at this event: " + self.expiry_event.rstrip(". "))
        return ", or ".join(parts) + (", whichever comes first" if len(parts) > 1 else "")


class SigningLink(models.Model):
    """A single-use, expiring link that lets the patient sign without an account.

    Only a hash of the token is stored: the database alone cannot sign."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    authorization = models.ForeignKey(Authorization, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    sent_to = models.CharField(max_length=254)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # After signing, the signer may download their copy through the same link for a short while.
    copy_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Signing link by {self.get_channel_display()}"

    def usable_at(self, at: datetime.datetime) -> bool:
        return self.used_at is None and self.cancelled_at is None and at < self.expires_at


class BreakGlass(models.Model):
    """Emergency access by a care-team clinician when consent is missing."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=1000)
    started_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_note = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["patient", "user", "expires_at"])]
        verbose_name = "emergency access"
        verbose_name_plural = "emergency accesses"
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("started_at")), name="break_glass_ends_later")
        ]

    def __str__(self) -> str:
        return f"Emergency access {self.public_id}"

    def active_at(self, at: datetime.datetime) -> bool:
        return self.started_at <= at < self.expires_at


class Basis(models.TextChoices):
    TREATMENT = "treatment", "Treatment, without authorization (45 CFR 164.506)"
    AUTHORIZATION = "authorization", "Patient's authorization"
    EMERGENCY = "emergency", "Emergency access"


class Disclosure(models.Model):
    """One crossing of health information from one organization to another."""

    class Channel(models.TextChoices):
        VIEW = "view", "Viewed in Tandem"
        PDF = "pdf", "PDF"
        EXPORT = "export", "Export"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="disclosures")
    source = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    recipient_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    classes = models.JSONField(default=list)
    records = models.JSONField(default=list)
    occurred_at = models.DateTimeField(default=dj_timezone.now)
    purpose = models.CharField(max_length=500)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.VIEW)
    basis = models.CharField(max_length=16, choices=Basis.choices)
    authorization = models.ForeignKey(Authorization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    break_glass = models.ForeignKey(BreakGlass, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["patient", "-occurred_at"])]

    def __str__(self) -> str:
        return f"Disclosure {self.public_id}"

    @property
    def class_labels(self) -> list[str]:
        from tandem.access.classes import label

        return [label(c) for c in self.classes]
