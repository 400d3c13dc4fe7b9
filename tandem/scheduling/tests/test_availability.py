"""A clinician keeps their own hours, time off and rules, and bookings follow them."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.scheduling import services
from tandem.scheduling.models import Kind, SchedulingRules, TimeOff, WeeklyHours
from tandem.test import Cast, sign_in

UTC = datetime.UTC


@pytest.mark.django_db
def test_hours_time_off_and_rules_shape_the_open_slots(cast: Cast) -> None:
    cast.therapist.timezone = "America/Los_Angeles"
    cast.therapist.save()
    client = sign_in(Client(), cast.therapist)
    assert "No weekly hours yet" in client.get(reverse("scheduling:availability")).content.decode()
    add = reverse("scheduling:hours_add")
    ok = client.post(add, {"weekday": "0", "start": "09:00", "end": "11:00", "valid_from": "2026-01-01"})
    assert ok.status_code == 302
    overlap = client.post(add, {"weekday": "0", "start": "10:00", "end": "12:00", "valid_from": "2026-01-01"})
    assert overlap.status_code == 400
    assert "overlap" in overlap.content.decode()
    backwards = client.post(add, {"weekday": "1", "start": "12:00", "end": "09:00", "valid_from": "2026-01-01"})
    assert backwards.status_code == 400
    assert WeeklyHours.objects.filter(clinician=cast.therapist).count() == 1
    assert (
        client.post(
            reverse("scheduling:rules_save"), {"buffer_minutes": "0", "max_per_day": "8", "new_patient_per_week": "2"}
        ).status_code
        == 302
    )
    assert SchedulingRules.objects.get(clinician=cast.therapist).buffer_minutes == 0

    therapy = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY)
    monday = datetime.datetime(2026, 6, 8, 7, tzinfo=UTC)  # midnight in Portland
    slots = services.open_slots(cast.therapist, therapy, monday, monday + datetime.timedelta(days=1))
    assert slots[0] == datetime.datetime(2026, 6, 8, 16, tzinfo=UTC)  # 09:00 PDT
    assert slots[-1] + datetime.timedelta(minutes=50) <= datetime.datetime(2026, 6, 8, 18, tzinfo=UTC)

    assert (
        client.post(
            reverse("scheduling:time_off_add"),
            {"starts_at": "2026-06-08T08:00", "ends_at": "2026-06-08T13:00", "reason": "Training"},
        ).status_code
        == 302
    )
    assert services.open_slots(cast.therapist, therapy, monday, monday + datetime.timedelta(days=1)) == []
    assert (
        AuditEvent.objects.filter(actor_id=cast.therapist.pk, target_type__in=["weekly_hours", "time_off"]).count() == 2
    )


@pytest.mark.django_db
def test_nobody_removes_someone_elses_hours_or_time_off(cast: Cast) -> None:
    hours = WeeklyHours.objects.create(
        clinician=cast.therapist,
        organization=cast.riverbend,
        weekday=0,
        start=datetime.time(9),
        end=datetime.time(10),
        timezone="America/Los_Angeles",
    )
    start = datetime.datetime(2031, 1, 1, tzinfo=UTC)
    off = TimeOff.objects.create(clinician=cast.therapist, starts_at=start, ends_at=start + datetime.timedelta(hours=2))
    colleague = sign_in(Client(), cast.colleague)
    assert colleague.post(reverse("scheduling:hours_remove", args=[hours.public_id])).status_code == 404
    assert colleague.post(reverse("scheduling:time_off_remove", args=[off.public_id])).status_code == 404
    assert WeeklyHours.objects.count() == TimeOff.objects.count() == 1
    admin = sign_in(Client(), cast.admin)
    assert admin.get(reverse("scheduling:availability")).status_code == 404
