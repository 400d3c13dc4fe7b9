"""Read-only views of the schedule for pages other than the calendar."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.scheduling.models import Appointment, Status


@dataclass(frozen=True)
class AgendaItem:
    appointment: Appointment
    # "early", "open" or "closed" for a video visit; None for one in person.
    video_door: str | None


def agenda_for_day(user: User, day: datetime.date | None = None) -> list[AgendaItem]:
    """The clinician's own appointments on ``day`` (today, in the current time
    zone), cancelled ones left out, each with its video room's state."""
    zone = timezone.get_current_timezone()
    day = day or timezone.localdate()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    rows = (
        Appointment.objects.filter(
            participants__user=user,
            starts_at__gte=start,
            starts_at__lt=start + datetime.timedelta(days=1),
        )
        .exclude(status=Status.CANCELLED)
        .select_related("appointment_type", "patient")
        .order_by("starts_at", "pk")
        .distinct()
    )
    return [AgendaItem(a, policy.room_door(a) if a.modality in policy.VIDEO_MODALITIES else None) for a in rows]
