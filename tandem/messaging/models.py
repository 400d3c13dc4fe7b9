"""In-app notifications, and the care team's threads about a patient, with consult requests."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone

from tandem.credentials.models import private_storage


class Notification(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    link = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"])]

    def __str__(self) -> str:
        return self.text


class DigestPreference(models.Model):
    """Whether a clinician gets the daily email digest of appointment changes
    on their shared patients, and the last local day it went out."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_preference")
    appointment_digest = models.BooleanField("daily email digest of appointment changes", default=True)
    last_sent_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Digest preference of {self.user}"


# --- Provider-to-provider threads ----------------------------------------------------------------

MESSAGE_MAX = 5_000
# A message may be corrected for this long after it is sent; never deleted.
EDIT_WINDOW_MINUTES = 5
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


class Thread(models.Model):
    """The care team's conversation about one patient."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="thread")
    created_at = models.DateTimeField(default=dj_timezone.now)

    def __str__(self) -> str:
        return f"Care-team thread {self.public_id}"


class Message(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=MESSAGE_MAX)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # A retraction keeps the row and says so where the text was.
    retracted_at = models.DateTimeField(null=True, blank=True)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"])]

    def __str__(self) -> str:
        return f"Message {self.public_id}"

    @property
    def editable_until(self) -> datetime.datetime:
        return self.created_at + datetime.timedelta(minutes=EDIT_WINDOW_MINUTES)


class Attachment(models.Model):
    """A PDF or an image sent with a message, checked by its content."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    # Private storage: no URL; served only by the thread's own view, behind the policy.
    file = models.FileField(storage=private_storage, upload_to="attachments/%Y/%m/")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.name


class ThreadRead(models.Model):
    """How far each member has read a thread: unread counts and "seen by"."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "user"], name="thread_read_once")]

    def __str__(self) -> str:
        return f"{self.user} read up to {self.read_at:%Y-%m-%d %H:%M}"


class ConsultStatus(models.TextChoices):
    PROPOSED = "proposed", "Waiting for an answer"
    BOOKED = "booked", "Booked"
    DECLINED = "declined", "Declined"


class ConsultRequest(models.Model):
    """One clinician asks another for a provider consult about the patient,
    with times that suit them; accepting one books the consult."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="consults")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_of = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=300)
    # ISO start times, each a 30-minute consult.
    proposed = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=ConsultStatus.choices, default=ConsultStatus.PROPOSED)
    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="consult_request"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    def __str__(self) -> str:
        return f"Consult request {self.public_id}"

    def proposed_times(self) -> list[datetime.datetime]:
        return [datetime.datetime.fromisoformat(value) for value in self.proposed]
