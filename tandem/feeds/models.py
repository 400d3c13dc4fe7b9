"""A clinician's private iCalendar feed.

The link's token is the whole permission, so the database keeps only its
SHA-256: a copy of the database cannot be used to read anyone's schedule.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone


class CalendarFeed(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Revoked feeds stay for the record; only one link per user works at a time.
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_active_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}" + (" (revoked)" if self.revoked_at else "")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
