"""Records filed in the patient's chart, each in one information class.

A record belongs to the organization whose clinician wrote or filed it: when
someone from another organization reads it, information has crossed over, and
the patient's authorizations decide whether it may.

Psychotherapy notes are kept apart, in their own table, and never mixed into
the shared record.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.access.classes import RECORD_CLASSES, InfoClass
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.records.note_kinds import KIND_CHOICES, RECORD

RECORD_CLASS_CHOICES = [(c, InfoClass(c).label) for c in RECORD_CLASSES]
TITLE_MAX = 200
BODY_MAX = 20_000


class NoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


class Change(models.TextChoices):
    ORIGINAL = "", "Original"
    AMENDMENT = "amendment", "Amendment"
    ADDENDUM = "addendum", "Addendum"


REASON_MAX = 500
IMMUTABLE_MESSAGE = "A signed note cannot be changed; amend it or add an addendum instead."


class Document(models.Model):
    """A clinical record in the shared chart: an encounter note written from a
    template, or a filed record (an outside report, a list).

    A note starts as its author's draft and is locked when signed: from then
    on the row cannot change (the database refuses, see migration 0002).
    An amendment or an addendum is a new row, a new version that ``amends``
    the one before; the chart shows the newest signed version, and the
    history every one. Filed records are signed as they are filed.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    info_class = models.CharField("kind of information", max_length=32, choices=RECORD_CLASS_CHOICES)
    part2 = models.BooleanField(
        "substance-use disorder record (42 CFR Part 2)",
        default=False,
        help_text="Part 2 records travel only under the patient's Part 2 consent.",
    )
    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField(max_length=BODY_MAX)
    occurred_on = models.DateField("date of service")
    created_at = models.DateTimeField(default=dj_timezone.now)
    # The hidden token of the form that wrote it: a second submit finds this row.
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # --- Encounter notes -----------------------------------------------------------------
    kind = models.CharField(max_length=40, choices=KIND_CHOICES, default=RECORD)
    encounter = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="notes"
    )
    fields = models.JSONField("template fields", default=dict, blank=True)
    status = models.CharField(max_length=10, choices=NoteStatus.choices, default=NoteStatus.SIGNED)
    # Counts the draft's saves: a save names the revision it started from, and
    # one that started from an older revision is a conflict, not an overwrite.
    revision = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True, default=dj_timezone.now)
    version = models.PositiveIntegerField(default=1)
    amends = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="amended_by")
    change = models.CharField(max_length=10, choices=Change.choices, default=Change.ORIGINAL, blank=True)
    change_reason = models.CharField(max_length=REASON_MAX, blank=True)

    class Meta:
        ordering = ["-occurred_on", "-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-occurred_on"]),
            models.Index(fields=["author", "status"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(info_class__in=list(RECORD_CLASSES)), name="document_class_valid"),
            models.CheckConstraint(condition=Q(status__in=NoteStatus.values), name="document_status_valid"),
            models.CheckConstraint(
                condition=Q(status=NoteStatus.DRAFT) | Q(signed_at__isnull=False), name="document_signed_has_time"
            ),
            models.CheckConstraint(
                condition=(Q(amends__isnull=True) & Q(change="") & Q(version=1))
                | (Q(amends__isnull=False) & Q(change__in=["amendment", "addendum"]) & Q(version__gt=1)),
                name="document_version_chain",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_note(self) -> bool:
        return self.kind != RECORD

    @property
    def is_draft(self) -> bool:
        return self.status == NoteStatus.DRAFT

    @property
    def kind_label(self) -> str:
        return dict(KIND_CHOICES).get(self.kind, self.kind)

    @property
    def effective_class(self) -> str:
        """Part 2 overrides the ordinary class: the stronger protection wins."""
        return str(InfoClass.PART2) if self.part2 else self.info_class

    @property
    def effective_class_label(self) -> str:
        return str(InfoClass(self.effective_class).label)

    @property
    def occurred_at(self) -> datetime.datetime:
        return datetime.datetime.combine(self.occurred_on, datetime.time(12), tzinfo=datetime.UTC)


class PsychotherapyNote(models.Model):
    """A therapist's process notes (45 CFR 164.501). Only the author reads them,
    unless a psychotherapy-notes authorization names another reader."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=BODY_MAX)
    occurred_on = models.DateField("session date")
    created_at = models.DateTimeField(default=dj_timezone.now)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-occurred_on", "-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "author"])]

    def __str__(self) -> str:
        return f"Psychotherapy note of {self.occurred_on}"


class NoteRead(models.Model):
    """Someone other than its author opened a signed note: the author sees who
    has read it, and when, first."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="reads")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["read_at", "id"]
        constraints = [models.UniqueConstraint(fields=["document", "reader"], name="note_read_once")]

    def __str__(self) -> str:
        return f"{self.reader} read {self.document}"


class Cosignature(models.Model):
    """A supervised clinician's signed note waiting for, or bearing, their
    supervisor's co-signature. The note itself stays locked; this row is the
    supervisor's mark on it."""

    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="cosignature")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=dj_timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["supervisor", "signed_at"])]

    def __str__(self) -> str:
        return f"Co-signature of {self.document} by {self.supervisor}"
