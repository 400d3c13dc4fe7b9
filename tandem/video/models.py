"""Video rooms: one per video appointment, who came and went, the patient's
link, and a technical log of connection quality. No media is ever stored.

See docs/decisions/0006-video.md.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.scheduling.models import Appointment


class Room(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="video_room")
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Room mode: the patient sits with this clinician and shares their device.
    patient_with = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Room for appointment {self.appointment_id}"


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient"


class AttendanceState(models.TextChoices):
    WAITING = "waiting", "In the waiting room"
    ADMITTED = "admitted", "In the room"
    REMOVED = "removed", "Removed"


class Attendance(models.Model):
    """One person (or one shared device) in a room. The row outlives a page
    refresh: the browser keeps its ``device`` key and finds its place again."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attendances")
    role = models.CharField(max_length=10, choices=Role.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    device = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=AttendanceState.choices, default=AttendanceState.WAITING)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["room", "device"], name="one_attendance_per_device"),
            models.CheckConstraint(
                condition=Q(role="patient") | Q(user__isnull=False), name="clinician_attendance_has_user"
            ),
        ]

    # Set by services.join: the stretch of presence that join began.
    presence: Presence | None = None

    def __str__(self) -> str:
        return f"{self.get_role_display()} in {self.room_id} ({self.state})"


class Presence(models.Model):
    """One stretch of being connected: from joining to leaving. Their union
    across participants gives the visit's real duration."""

    attendance = models.ForeignKey(Attendance, on_delete=models.CASCADE, related_name="presences")
    joined_at = models.DateTimeField(default=dj_timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    # A random id of the page load. A socket that reconnects after a network
    # drop keeps it, and the others keep their connection to it; a reloaded
    # page has a new one, and they start a new connection.
    page = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(left_at__gte=models.F("joined_at")), name="presence_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.joined_at:%H:%M:%S}–{self.left_at:%H:%M:%S}" if self.left_at else f"{self.joined_at} –"

    @property
    def seconds(self) -> float:
        end = self.left_at or dj_timezone.now()
        return max(0.0, (end - self.joined_at).total_seconds())


class PatientLink(models.Model):
    """The patient's way in: a random token (only its hash is kept), bound to
    one appointment's room, expiring when the room closes. Optionally the
    patient confirms their date of birth as well."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="patient_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    needs_date_of_birth = models.BooleanField(default=False)
    failed_checks = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Patient link for room {self.room_id}"

    def usable_at(self, at: datetime.datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at


class QualitySample(models.Model):
    """A participant's view of one connection, reported by their browser: a
    technical log without media or content."""

    attendance = models.ForeignKey(Attendance, on_delete=models.CASCADE, related_name="quality")
    peer = models.CharField(max_length=64)
    at = models.DateTimeField(default=dj_timezone.now)
    rtt_ms = models.FloatField(null=True, blank=True)
    loss = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["attendance", "at"])]

    def __str__(self) -> str:
        return f"Quality sample at {self.at:%H:%M:%S}"
