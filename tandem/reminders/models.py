"""Patient reminders before appointments, and each patient's choice to receive them.

One ``Reminder`` row per appointment, lead and channel: the unique constraint
is what keeps a reminder from being planned, and so sent, twice. How rows move
from pending to sent is described in ``tandem.reminders.services``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.patients.models import Patient
from tandem.scheduling.models import Appointment


class Lead(models.TextChoices):
    H48 = "48h", "48 hours before"
    H2 = "2h", "2 hours before"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class ReminderPreference(models.Model):
    """A patient's reminder choices. No row means both channels are on."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="reminder_preference")
    email_opt_out = models.BooleanField("no email reminders", default=False)
    sms_opt_out = models.BooleanField("no text reminders", default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Reminder preference of patient {self.patient_id}"


class Reminder(models.Model):
    """One reminder: an appointment, how long before it, and by which channel.

    While ``status`` is pending, ``claimed_at``/``claimed_by`` say which worker
    is sending it; a claim older than the reclaim window belongs to a worker
    that died. ``detail`` is a short reason word or an error class name, never
    health information or message text.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    lead = models.CharField(max_length=4, choices=Lead.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"])]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "lead", "channel"], name="reminder_once"),
            models.CheckConstraint(condition=Q(lead__in=Lead.values), name="reminder_lead_valid"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="reminder_channel_valid"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="reminder_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} {self.channel} reminder for appointment {self.appointment_id} ({self.status})"
