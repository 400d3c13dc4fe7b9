"""The demo's month of calendars is believable and never double-books anyone."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from django.utils import timezone

from tandem.demo.seed import seed
from tandem.scheduling.models import Appointment, Kind, Participant, Status


@pytest.mark.django_db
def test_the_demo_has_a_month_of_calendars_without_double_booking() -> None:
    seed()
    now = timezone.now()
    appointments = Appointment.objects.all()
    assert appointments.filter(starts_at__lt=now, status=Status.COMPLETED).count() > 50
    assert appointments.filter(starts_at__gte=now, status=Status.BOOKED).count() > 50
    assert appointments.filter(status=Status.NO_SHOW).exists()
    assert appointments.filter(status=Status.CANCELLED).exists()
    co = appointments.get(appointment_type__kind=Kind.CO_TREATMENT, starts_at__gt=now)
    assert co.participants.count() == 2
    # And last week's, done, which both clinicians wrote up.
    done = appointments.get(appointment_type__kind=Kind.CO_TREATMENT, starts_at__lt=now)
    assert done.status == Status.COMPLETED and done.participants.count() == 2
    consult = appointments.get(appointment_type__kind=Kind.CONSULT)
    assert consult.starts_at > now and consult.participants.count() == 2
    held = defaultdict(list)
    for p in Participant.objects.filter(holds=True):
        held[p.user_id].append((p.starts_at, p.ends_at))
    for ranges in held.values():
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert end <= start
