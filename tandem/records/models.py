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

RECORD_CLASS_CHOICES = [(c, InfoClass(c).label) for c in RECORD_CLASSES]
TITLE_MAX = 200
BODY_MAX = 20_000


class Document(models.Model):
    """A clinical record in the shared chart: a note, an outside record, a list."""

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

    class Meta:
        ordering = ["-occurred_on", "-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-occurred_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(info_class__in=list(RECORD_CLASSES)), name="document_class_valid"),
        ]

    def __str__(self) -> str:
        return self.title

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
