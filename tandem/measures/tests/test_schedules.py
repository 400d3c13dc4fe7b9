"""Questionnaires on a schedule: every so many days, and before each
medication-management visit, once each, by the patient's allowed channel."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.audit.services import RequestMeta
from tandem.measures import schedules
from tandem.measures.models import MeasureLink, MeasureSchedule
from tandem.measures.services import MeasureError
from tandem.patients.models import Patient
from tandem.reminders.models import ReminderPreference
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


@pytest.fixture
def reachable(cast: Cast) -> Cast:
    Patient.objects.filter(pk=cast.patient.pk).update(email="avery@example.com", phone="+15035550123")
    cast.patient.refresh_from_db()
    return cast


def _med_visit(cast: Cast, starts: datetime.datetime) -> Appointment:
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    visit = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=cast.prescriber,
    )
    Participant.objects.create(appointment=visit, user=cast.prescriber, starts_at=starts, ends_at=visit.ends_at)
    return visit


@pytest.mark.django_db
def test_every_two_weeks_sends_once_per_period(reachable: Cast, django_capture_on_commit_callbacks: Any) -> None:
    cast = reachable
    client = sign_in(Client(), cast.therapist)
    url = reverse("measures:schedule", args=[cast.patient.public_id])
    assert "Nothing scheduled" in page_text(client.get(url))
    made = client.post(url, {"instruments": ["phq9", "gad7"], "every_days": "14"})
    assert made.status_code == 302 and "every 14 days" in page_text(client.get(url))
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert schedules.sweep(start) == 1
        assert schedules.sweep(start + datetime.timedelta(days=13)) == 0
        assert schedules.sweep(start + datetime.timedelta(days=14)) == 1
    assert MeasureLink.objects.count() == 2 and len(mail.outbox) == 2
    assert MeasureLink.objects.first().instruments == ["phq9", "gad7"]  # type: ignore[union-attr]
    # Stopped, it sends nothing more.
    stopped = client.post(url, {"stop": str(MeasureSchedule.objects.get().public_id)})
    assert stopped.status_code == 302
    assert schedules.sweep(start + datetime.timedelta(days=60)) == 0


@pytest.mark.django_db
def test_before_each_medication_visit_once(reachable: Cast) -> None:
    cast = reachable
    ReminderPreference.objects.create(patient=cast.patient, email_opt_out=True)  # text messages only
    schedules.create(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_keys=["phq9"],
        every_days=None,
        before_medication_visits=True,
        meta=META,
    )
    now = timezone.now()
    soon = _med_visit(cast, now + datetime.timedelta(days=2))
    _med_visit(cast, now + datetime.timedelta(days=10))  # too far off yet
    assert schedules.sweep(now) == 1
    assert schedules.sweep(now + datetime.timedelta(hours=1)) == 0  # once per visit
    link = MeasureLink.objects.get()
    assert link.channel == "sms" and soon.pk
    with time_machine.travel(now + datetime.timedelta(days=8)):
        assert schedules.sweep(timezone.now()) == 1  # the later visit, now close


@pytest.mark.django_db
def test_a_schedule_needs_a_rhythm_and_usable_questionnaires(cast: Cast) -> None:
    for keys, every, before, words in [
        ([], 14, False, "Choose questionnaires"),
        (["nope"], 14, False, "Choose questionnaires"),
        (["phq9"], None, False, "how often"),
        (["phq9"], 10, False, "1, 2 or 4 weeks"),
    ]:
        with pytest.raises(MeasureError, match=words):
            schedules.create(
                actor=cast.therapist,
                patient=cast.patient,
                organization=cast.riverbend,
                instrument_keys=keys,
                every_days=every,
                before_medication_visits=before,
                meta=META,
            )
    # Unreachable: the page says so, and the sweep sends nothing.
    schedules.create(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_keys=["phq9"],
        every_days=7,
        before_medication_visits=False,
        meta=META,
    )
    assert schedules.sweep(timezone.now()) == 0 and not MeasureLink.objects.exists()
    page = page_text(sign_in(Client(), cast.therapist).get(reverse("measures:schedule", args=[cast.patient.public_id])))
    assert "cannot reach them" in page
