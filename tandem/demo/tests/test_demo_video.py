"""The demo's video visits: past rooms with their record, and one open now."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from tandem.access import policy
from tandem.demo.seed import seed
from tandem.scheduling.models import Appointment
from tandem.video.models import Presence, QualitySample, Room
from tandem.video.selectors import visit_record


@pytest.mark.django_db
def test_the_demo_has_past_video_visits_and_one_open_now() -> None:
    seed()
    rooms = list(Room.objects.select_related("appointment__patient"))
    past = [r for r in rooms if r.appointment.status == "completed"]
    assert len(past) == 6
    for room in past:
        record = visit_record(room.appointment)
        assert record is not None and 15 * 60 < record.duration.seconds < 60 * 60
        assert all(a.quality is not None and a.quality.rtt_ms for a in record.attendees)
    # One patient dropped off and came back: two stretches of presence.
    assert any(Presence.objects.filter(attendance__room=r, attendance__role="patient").count() == 2 for r in past)
    assert QualitySample.objects.count() > 200

    out = io.StringIO()
    call_command("demo", stdout=out)
    text = out.getvalue()
    assert "A video visit starts at" in text
    link = text[text.index("/video/join/") :].split()[0]
    page = Client().get(link)
    assert page.status_code == 200 and "/ws/video/join/" in page.content.decode()
    open_now = Appointment.objects.filter(video_room__patient_links__isnull=False).distinct()
    assert any(policy.room_door(a) == "open" for a in open_now)
