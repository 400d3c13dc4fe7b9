"""The room pages: the clinician's, issuing the patient's link, and the
patient's way in with its clear refusals."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from tandem.access.classes import InfoClass
from tandem.audit.models import AuditEvent
from tandem.audit.services import RequestMeta
from tandem.consent.models import Disclosure
from tandem.measures.models import Response
from tandem.medications.models import Medication
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, grant_authorization, page_text, sign_in
from tandem.video import services
from tandem.video.models import Attendance

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


def _words(response: Any) -> str:
    """The page's text as a reader sees it: tags gone, spaces collapsed."""
    assert response.status_code == 200
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


# Measured on PostgreSQL; SQLite takes one fewer.
ROOM_PAGE_BUDGET = 21


def _visit(cast: Cast, minutes: int = 5) -> Appointment:
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    start = timezone.now() + datetime.timedelta(minutes=minutes)
    visit = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=cast.therapist,
    )
    Participant.objects.create(appointment=visit, user=cast.prescriber, starts_at=start, ends_at=visit.ends_at)
    return visit


@pytest.mark.django_db
def test_the_clinician_enters_when_the_room_is_open(cast: Cast) -> None:
    visit = _visit(cast)
    client = sign_in(Client(), cast.prescriber)
    page = client.get(reverse("video:room", args=[visit.public_id])).content.decode()
    assert f'data-socket="/ws/video/{visit.public_id}/"' in page and "Nothing in this call is recorded" in page
    later = _visit(cast, minutes=180)
    early = client.get(reverse("video:room", args=[later.public_id])).content.decode()
    assert "The room opens at" in early and "data-socket" not in early
    for who in ["therapist", "outsider", "unrelated"]:
        response = sign_in(Client(), cast.everyone()[who]).get(reverse("video:room", args=[visit.public_id]))
        assert response.status_code == 404


@pytest.mark.django_db
def test_the_patient_link_and_its_refusals(cast: Cast) -> None:
    visit = _visit(cast)
    client = sign_in(Client(), cast.prescriber)
    issued = client.post(reverse("video:patient_link", args=[visit.public_id]), {"date_of_birth_check": "1"})
    assert issued.status_code == 200
    url = issued.context["url"]
    path = url[url.index("/video/join/") :]
    patient = Client()
    ask = patient.get(path)
    assert ask.status_code == 200 and "Your date of birth" in ask.content.decode()
    wrong = patient.post(path, {"date_of_birth": "1990-01-01"})
    assert wrong.status_code == 400 and "does not match" in wrong.content.decode()
    right = patient.post(path, {"date_of_birth": cast.patient.date_of_birth.isoformat()})
    assert right.status_code == 200 and "/ws/video/join/" in right.content.decode()
    assert patient.get(path).status_code == 200  # remembered for this browser
    with time_machine.travel(visit.ends_at + datetime.timedelta(minutes=61)):
        expired = Client().get(path)
    assert expired.status_code == 410 and "This link has expired" in expired.content.decode()
    assert Client().get("/video/join/not-a-real-token/").status_code == 404


@pytest.mark.django_db
def test_five_wrong_dates_lock_the_link(cast: Cast) -> None:
    visit = _visit(cast)
    _link, token = services.issue_patient_link(
        actor=cast.prescriber, appointment=visit, meta=META, needs_date_of_birth=True
    )
    path = reverse("video:patient", args=[token])
    patient = Client()
    for _ in range(4):
        assert patient.post(path, {"date_of_birth": "2001-02-03"}).status_code == 400
    locked = patient.post(path, {"date_of_birth": "2001-02-03"})
    assert locked.status_code == 410 and "locked" in locked.content.decode()
    late = patient.post(path, {"date_of_birth": cast.patient.date_of_birth.isoformat()})
    assert late.status_code == 410


def test_patient_link_tokens_never_reach_the_logs() -> None:
    import logging

    from tandem.lib.request_log import JsonFormatter

    record = logging.makeLogRecord({"msg": "Not Found: /video/join/Zk3_secret-Token9/", "levelname": "WARNING"})
    assert "Zk3_secret-Token9" not in JsonFormatter().format(record)
    socket = logging.makeLogRecord(
        {"msg": "WebSocket /ws/video/join/Zk3_secret-Token9/?device=Dev1ce-Key-0123456789&page=9f8e7d6c5b4a [accepted]"}
    )
    line = JsonFormatter().format(socket)
    assert "Zk3_secret-Token9" not in line and "Dev1ce-Key-0123456789" not in line and "9f8e7d6c5b4a" not in line
    assert "/ws/video/join/[token]/?device=[key]&page=[key]" in line


@pytest.mark.django_db
def test_the_appointment_page_leads_into_the_room(cast: Cast) -> None:
    visit = _visit(cast)
    page = sign_in(Client(), cast.prescriber).get(reverse("scheduling:appointment", args=[visit.public_id]))
    text = page.content.decode()
    assert "Join the video visit" in text and reverse("video:patient_link", args=[visit.public_id]) in text
    other = sign_in(Client(), cast.therapist).get(reverse("scheduling:appointment", args=[visit.public_id]))
    assert "Join the video visit" not in other.content.decode()  # not a participant


def _medication(cast: Cast) -> Medication:
    """A medication the practice recorded (its information, shared only by consent)."""
    return Medication.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        prescriber=cast.therapist,
        drug="sertraline",
        display="Sertraline",
        drug_class="SSRI",
        form="tablet",
        dose=Decimal("50"),
        sig="1 tablet by mouth daily",
        started_on=timezone.localdate(),
    )


def _score(cast: Cast) -> Response:
    return Response.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        instrument="phq9",
        instrument_version="1",
        source="in_session",
        status="complete",
        total=14,
        band="Moderate",
        completed_at=timezone.now(),
    )


@pytest.mark.django_db
def test_the_side_panel_shows_what_consent_shares_and_notes_the_disclosure(
    cast: Cast, django_assert_max_num_queries: Any
) -> None:
    visit = _visit(cast)
    _score(cast)
    meds = _medication(cast)
    grant_authorization(cast.patient, cast.riverbend, cast.northstar, classes=[InfoClass.MEDICATIONS])
    client = sign_in(Client(), cast.prescriber)
    url = reverse("video:room", args=[visit.public_id])
    with django_assert_max_num_queries(ROOM_PAGE_BUDGET):
        response = client.get(url)
    panel = page_text(response)
    assert "From the chart" in panel
    # The medication list is shared with Northstar; the scores are not.
    assert "Sertraline 50 mg" in panel and "1 tablet by mouth daily" in panel
    assert "PHQ-9: 14" not in panel and "Moderate" not in panel
    assert "No scores are recorded yet." in panel
    assert panel.count("not shared with you under the patient's consent") == 3
    disclosure = Disclosure.objects.get(patient=cast.patient, recipient_user=cast.prescriber)
    assert disclosure.source == cast.riverbend and disclosure.classes == [InfoClass.MEDICATIONS]
    assert disclosure.records == [f"medication:{meds.public_id}"]
    # Exactly one audit event for the page, with the disclosure beside it.
    assert AuditEvent.objects.filter(target_type="video_room_page", target_id=str(visit.public_id)).count() == 1


@pytest.mark.django_db
def test_the_patients_room_page_has_no_side_panel(cast: Cast) -> None:
    visit = _visit(cast)
    _medication(cast)
    _link, token = services.issue_patient_link(actor=cast.prescriber, appointment=visit, meta=META)
    page = Client().get(reverse("video:patient", args=[token])).content.decode()
    assert "/ws/video/join/" in page and "From the chart" not in page and "Sertraline" not in page


@pytest.mark.django_db
@time_machine.travel(datetime.datetime(2026, 11, 18, 15, 0, tzinfo=datetime.UTC), tick=False)
def test_clinicians_enter_from_today_and_from_the_chart(cast: Cast) -> None:
    # Mid-afternoon, so the later visit is still today wherever the clock stands.
    visit = _visit(cast)
    later = _visit(cast, minutes=120)
    room = reverse("video:room", args=[visit.public_id])
    prescriber = sign_in(Client(), cast.prescriber)
    today = page_text(prescriber.get(reverse("home:today")))
    assert today.count("Join the video visit") == 1 and "by video" in today
    assert f'href="{room}"' in prescriber.get(reverse("home:today")).content.decode()
    assert reverse("video:room", args=[later.public_id]) not in prescriber.get(reverse("home:today")).content.decode()
    chart = prescriber.get(reverse("patients:chart", args=[cast.patient.public_id])).content.decode()
    assert f'href="{room}"' in chart
    # The therapist sees the visit on the chart, but is not in it: no way into the room.
    therapist_chart = sign_in(Client(), cast.therapist).get(reverse("patients:chart", args=[cast.patient.public_id]))
    assert therapist_chart.status_code == 200 and room not in therapist_chart.content.decode()


@pytest.mark.django_db
def test_the_appointment_page_keeps_who_joined_the_real_duration_and_quality(cast: Cast) -> None:
    visit = _visit(cast)
    room = services.room_for(visit)
    t0 = visit.starts_at
    prescriber = services.join(room=room, device="prescriber-device-0001", user=cast.prescriber, meta=META, at=t0)
    patient = services.join(room=room, device="patient-device-00000001", meta=META, at=t0)
    services.admit(actor=cast.prescriber, attendance=patient, meta=META)
    Attendance.objects.filter(pk=patient.pk).update(admitted_at=t0)
    services.leave(patient, at=t0 + datetime.timedelta(minutes=12))  # a network drop
    services.join(room=room, device="patient-device-00000001", meta=META, at=t0 + datetime.timedelta(minutes=13))
    services.leave(patient, at=t0 + datetime.timedelta(minutes=28))
    services.leave(prescriber, at=t0 + datetime.timedelta(minutes=29))
    for minute, rtt in ((1, 40.0), (2, 60.0)):
        services.record_quality(
            patient,
            str(prescriber.public_id),
            {"rtt_ms": rtt, "loss": 0.01 * minute, "width": 640, "height": 480, "fps": 24.0},
            t0 + datetime.timedelta(minutes=minute),
        )
    url = reverse("scheduling:appointment", args=[visit.public_id])
    page = _words(sign_in(Client(), cast.prescriber).get(url))
    assert "Real duration 27 min" in page  # 12 + 15 minutes together
    assert f"{cast.patient.display_name} (patient's link)" in page and cast.prescriber.display_name in page
    assert "50 ms" in page and "1.5% (worst 2.0%)" in page and "640×480 at 24 fps" in page
    assert "No quality samples" in page  # the prescriber's browser sent none
    # The therapist sees the appointment under the patient's consent, but was
    # not in the call: no technical log.
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    other = _words(sign_in(Client(), cast.therapist).get(url))
    assert "Real duration" not in other and "50 ms" not in other
