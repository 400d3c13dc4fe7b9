"""Referrals from a therapy practice to its partner psychiatric groups, the
offers made to them, their history and their escalations.

See docs/decisions/0005-referrals.md for the states and who may move them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from tandem.lib.us_states import US_STATES
from tandem.organizations.models import Organization
from tandem.patients.models import Language, Patient, Payer
from tandem.records.models import Document
from tandem.scheduling.models import Appointment

REASON_MAX = 300
QUESTION_MAX = 4000


class Urgency(models.TextChoices):
    URGENT = "urgent", "Urgent"
    SOON = "soon", "Soon"
    ROUTINE = "routine", "Routine"


URGENCY_ORDER = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.ROUTINE: 2}


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    TRIAGED = "triaged", "Triaged"
    OFFERED = "offered", "Offered"
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "First visit completed"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# Waiting for an evaluation to be booked: the time limits run on these.
WAITING = (State.SUBMITTED, State.TRIAGED, State.OFFERED)
ENDED = (State.COMPLETED, State.DECLINED, State.CANCELLED, State.EXPIRED)


class VisitSetting(models.TextChoices):
    VIDEO_HOME = "video_home", "Video, from home"
    VIDEO_OFFICE = "video_office", "Video, in the therapist's office"


class ReferralSettings(models.Model):
    """A psychiatric group's promises and rules for referrals it receives.

    The defaults are Tandem's: urgent triage within 1 business day and a first
    visit within 3 days; soon within 7 days; routine within 14.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="referral_settings")
    therapists_may_book = models.BooleanField(
        "referring therapists may book an offer themselves",
        default=False,
        help_text="Otherwise only the group's coordinators and admins book.",
    )
    urgent_triage_business_days = models.PositiveSmallIntegerField(default=1)
    soon_triage_business_days = models.PositiveSmallIntegerField(default=2)
    routine_triage_business_days = models.PositiveSmallIntegerField(default=3)
    urgent_visit_days = models.PositiveSmallIntegerField("urgent: first visit within (days)", default=3)
    soon_visit_days = models.PositiveSmallIntegerField("soon: first visit within (days)", default=7)
    routine_visit_days = models.PositiveSmallIntegerField("routine: first visit within (days)", default=14)
    admin_escalation_hours = models.PositiveSmallIntegerField(
        "hours overdue before the group admin is told", default=24
    )
    offer_hours = models.PositiveSmallIntegerField("hours a waitlist offer is held", default=24)
    search_days = models.PositiveSmallIntegerField("days ahead to look for an opening", default=21)
    max_wait_days = models.PositiveSmallIntegerField("days before an unbooked referral expires", default=90)

    class Meta:
        verbose_name_plural = "referral settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(urgent_visit_days__gte=1)
                & Q(soon_visit_days__gte=1)
                & Q(routine_visit_days__gte=1)
                & Q(offer_hours__gte=1)
                & Q(search_days__gte=1)
                & Q(search_days__lte=120),
                name="referral_settings_positive",
            )
        ]

    def __str__(self) -> str:
        return f"Referral settings of {self.organization}"

    def triage_business_days(self, urgency: str) -> int:
        return int(getattr(self, f"{urgency}_triage_business_days"))

    def visit_days(self, urgency: str) -> int:
        return int(getattr(self, f"{urgency}_visit_days"))


def settings_of(group: Organization) -> ReferralSettings:
    """The group's referral settings, or the defaults when it has none saved."""
    # A missing reverse one-to-one raises a subclass of AttributeError.
    found = getattr(group, "referral_settings", None)
    return found if isinstance(found, ReferralSettings) else ReferralSettings(organization=group)


class Referral(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referrals")
    practice = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="referrals_made")
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.ROUTINE)
    reason = models.CharField("reason for referral", max_length=REASON_MAX, blank=True)
    clinical_question = models.TextField(max_length=QUESTION_MAX, blank=True)
    attachments = models.ManyToManyField(Document, blank=True, related_name="+")
    # The patient's preferences and coverage, as the therapist gave them.
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    times_of_day = models.JSONField(default=list, blank=True)
    visit_setting = models.CharField(max_length=16, choices=VisitSetting.choices, default=VisitSetting.VIDEO_HOME)
    location_state = models.CharField("state the patient will be in", max_length=2, choices=US_STATES)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    member_id = models.CharField("member ID", max_length=40, blank=True)
    # What happened, and when.
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=REASON_MAX, blank=True)
    # Time limits, fixed when the referral is submitted.
    triage_due_at = models.DateTimeField(null=True, blank=True)
    visit_due_at = models.DateTimeField(null=True, blank=True)
    # Set while the referral waits in line for an opening.
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    # The evaluation, once booked.
    appointment = models.ForeignKey(Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    group = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "submitted_at"]),
            models.Index(fields=["practice", "status"]),
            models.Index(fields=["patient", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=State.values), name="referral_status_valid"),
            models.CheckConstraint(condition=Q(urgency__in=Urgency.values), name="referral_urgency_valid"),
        ]

    def __str__(self) -> str:
        return f"Referral {self.public_id} ({self.get_status_display()})"

    @property
    def times_of_day_label(self) -> str:
        from tandem.referrals.matching import TIMES_OF_DAY

        parts = [TIMES_OF_DAY[t][2] for t in self.times_of_day or () if t in TIMES_OF_DAY]
        return ", ".join(parts).capitalize() if parts else "Any"

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING

    @property
    def is_ended(self) -> bool:
        return self.status in ENDED


class ReferralEvent(models.Model):
    """One transition, for the referral's history and the chart's timeline.
    The note never holds clinical detail; reasons for endings do."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=dj_timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    transition = models.CharField(max_length=20)
    from_status = models.CharField(max_length=12, choices=State.choices)
    to_status = models.CharField(max_length=12, choices=State.choices)
    note = models.CharField(max_length=REASON_MAX, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.transition}: {self.from_status} → {self.to_status}"


class OfferStatus(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Offer(models.Model):
    """An opening offered to a referral: by the waitlist, or picked by a person.

    One pending offer per referral, and one per opening: the two partial unique
    constraints are what make an opening go to one referral only, however many
    workers fill the waitlist at once.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="offers")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.PENDING)
    automatic = models.BooleanField(default=False)
    why = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral"], condition=Q(status="pending"), name="one_pending_offer_per_referral"
            ),
            models.UniqueConstraint(
                fields=["prescriber", "starts_at"], condition=Q(status="pending"), name="one_pending_offer_per_opening"
            ),
        ]

    def __str__(self) -> str:
        return f"Offer {self.starts_at:%Y-%m-%d %H:%M} UTC ({self.status})"


class Escalation(models.Model):
    """An overdue referral reported at one level. The unique key makes each
    escalation go out once, however many workers sweep."""

    TRIAGE = "triage"
    VISIT = "visit"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="escalations")
    target = models.CharField(max_length=8)  # triage or visit
    level = models.PositiveSmallIntegerField()  # 1: coordinators, 2: group admins
    sent_at = models.DateTimeField(default=dj_timezone.now)
    recipients = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["referral", "target", "level"], name="one_escalation_per_level"),
        ]

    def __str__(self) -> str:
        return f"{self.target} escalation level {self.level}"
