"""Who may enter a video room and when, the patient's link, the waiting room
that survives a refresh, and the visit's real length."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.http import Http404

from tandem.access import policy
from tandem.audit.models import AuditEvent
from tandem.audit.services import RequestMeta
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast
from tandem.video import services
from tandem.video.models import AttendanceState, PatientLink

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
START = datetime.datetime(2026, 6, 8, 17, tzinfo=datetime.UTC)
DEVICE_A = "device-a-0123456789abcdef"
DEVICE_B = "device-b-0123456789abcdef"


def _visit(cast: Cast, modality: str = "video_home", patient=None, day: int = 0) -> Appointment:  # type: ignore[no-untyped-def]
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    start = START + datetime.timedelta(days=day)  # one prescriber: never two visits at once
    appointment = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=kind,
        patient=patient or cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality=modality,
        created_by=cast.therapist,
    )
    Participant.objects.create(
        appointment=appointment, user=cast.prescriber, starts_at=start, ends_at=appointment.ends_at
    )
    return appointment


@pytest.mark.django_db
def test_only_the_appointments_participants_reach_its_room(cast: Cast) -> None:
    visit = _visit(cast)
    assert policy.get_video_appointment_for(cast.prescriber, visit.public_id) == visit
    for who in ["therapist", "colleague", "unrelated", "outsider", "admin", "group_admin", "patient_user"]:
        with pytest.raises(Http404):
            policy.get_video_appointment_for(cast.everyone()[who], visit.public_id)
    in_person = _visit(cast, modality="in_person", day=1)
    with pytest.raises(Http404):
        policy.get_video_appointment_for(cast.prescriber, in_person.public_id)
    with pytest.raises(Http404):
        policy.get_video_appointment_for(None, visit.public_id)


@pytest.mark.django_db
def test_the_room_opens_15_minutes_before_and_closes_an_hour_after(cast: Cast) -> None:
    visit = _visit(cast)
    assert policy.room_door(visit, START - datetime.timedelta(minutes=16)) == "early"
    assert policy.room_door(visit, START - datetime.timedelta(minutes=15)) == "open"
    assert policy.room_door(visit, visit.ends_at + datetime.timedelta(minutes=59)) == "open"
    assert policy.room_door(visit, visit.ends_at + datetime.timedelta(minutes=60)) == "closed"
    room = services.room_for(visit)
    with pytest.raises(services.RoomRefused, match="The room opens at"):
        services.join(
            room=room, device=DEVICE_A, user=cast.prescriber, meta=META, at=START - datetime.timedelta(hours=1)
        )
    visit.status = "cancelled"
    visit.save()
    assert policy.room_door(visit, START) == "closed"


@pytest.mark.django_db
def test_the_patient_link_opens_one_room_until_it_closes(cast: Cast) -> None:
    visit = _visit(cast)
    other = _visit(cast, patient=cast.other_patient, day=1)
    with time_machine.travel(START - datetime.timedelta(days=2), tick=False):
        link, token = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
        _other_link, other_token = services.issue_patient_link(actor=cast.therapist, appointment=other, meta=META)
    assert link.token_hash != token and len(token) >= 40
    found = policy.patient_link_for(token)
    assert found.room.appointment == visit
    assert policy.patient_link_for(other_token).room.appointment == other  # bound to its own appointment
    for bad in ["", "x" * 200, "not-a-token", token[:-1]]:
        with pytest.raises(Http404):
            policy.patient_link_for(bad)
    services.check_patient_link(found, START)
    with pytest.raises(services.RoomRefused, match="expired"):
        services.check_patient_link(found, visit.ends_at + datetime.timedelta(minutes=61))
    # A new link replaces the old one.
    _new, newer = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
    with pytest.raises(services.RoomRefused, match="replaced"):
        services.check_patient_link(policy.patient_link_for(token), START)
    services.check_patient_link(policy.patient_link_for(newer), START)
    assert AuditEvent.objects.filter(target_type="video_link").count() == 3


@pytest.mark.django_db
def test_the_date_of_birth_check_locks_after_five_wrong_answers(cast: Cast) -> None:
    visit = _visit(cast)
    link, token = services.issue_patient_link(
        actor=cast.therapist, appointment=visit, meta=META, needs_date_of_birth=True
    )
    found = policy.patient_link_for(token)
    assert found.needs_date_of_birth
    assert services.confirm_date_of_birth(found, cast.patient.date_of_birth)
    for _ in range(5):
        assert not services.confirm_date_of_birth(found, datetime.date(1990, 1, 1))
    with pytest.raises(services.RoomRefused, match="locked"):
        services.check_patient_link(PatientLink.objects.get(pk=link.pk), START)


@pytest.mark.django_db
def test_the_patient_waits_keeps_their_place_across_a_refresh_and_is_admitted(cast: Cast) -> None:
    visit = _visit(cast)
    room = services.room_for(visit)
    at = START - datetime.timedelta(minutes=5)
    prescriber = services.join(room=room, device=DEVICE_A, user=cast.prescriber, meta=META, at=at)
    assert prescriber.state == AttendanceState.ADMITTED
    patient = services.join(room=room, device=DEVICE_B, meta=META, at=at)
    assert patient.state == AttendanceState.WAITING
    again = services.join(room=room, device=DEVICE_B, meta=META, at=at + datetime.timedelta(seconds=30))
    assert again.pk == patient.pk and again.state == AttendanceState.WAITING
    with pytest.raises(services.RoomRefused, match="Only a clinician in the room"):
        services.admit(actor=cast.therapist, attendance=patient, meta=META)
    admitted = services.admit(actor=cast.prescriber, attendance=patient, meta=META)
    assert admitted.state == AttendanceState.ADMITTED and admitted.admitted_by == cast.prescriber
    refreshed = services.join(room=room, device=DEVICE_B, meta=META, at=at + datetime.timedelta(minutes=1))
    assert refreshed.state == AttendanceState.ADMITTED  # a refresh does not send them back to wait
    with pytest.raises(services.RoomRefused, match="someone else"):
        services.join(room=room, device=DEVICE_B, user=cast.prescriber, meta=META, at=at)
    for bad in ["short", "x" * 65, "../../etc/passwd", "<script>alert(1)</script>"]:
        with pytest.raises(services.RoomRefused):
            services.join(room=room, device=bad, meta=META, at=at)
    assert AuditEvent.objects.filter(target_type="video_room", action="view").count() == 4


@pytest.mark.django_db
def test_the_visits_length_is_the_time_two_were_connected(cast: Cast) -> None:
    visit = _visit(cast)
    room = services.room_for(visit)
    t0 = START - datetime.timedelta(minutes=2)
    prescriber = services.join(room=room, device=DEVICE_A, user=cast.prescriber, meta=META, at=t0)
    patient = services.join(room=room, device=DEVICE_B, meta=META, at=t0)
    with time_machine.travel(START, tick=False):
        services.admit(actor=cast.prescriber, attendance=patient, meta=META)  # waited two minutes
    services.leave(patient, at=START + datetime.timedelta(minutes=10))  # a network drop
    services.join(room=room, device=DEVICE_B, meta=META, at=START + datetime.timedelta(minutes=11))
    services.leave(patient, at=START + datetime.timedelta(minutes=25))
    services.leave(prescriber, at=START + datetime.timedelta(minutes=26))
    duration = services.visit_duration(room)
    assert duration.seconds == 24 * 60
    assert duration.started_at == START
    assert duration.ended_at == START + datetime.timedelta(minutes=25)
    alone = services.visit_duration(services.room_for(_visit(cast, patient=cast.other_patient, day=1)))
    assert alone.seconds == 0 and alone.started_at is None
