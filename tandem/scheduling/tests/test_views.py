"""Booking from the chart, the appointment page, check-in, the week and the chart's care-team view."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.credentials.models import ClinicianProfile, Discipline, LicenseType, StateLicense
from tandem.messaging.models import Notification
from tandem.scheduling import services
from tandem.scheduling.models import Appointment, Kind, Participant, Status
from tandem.scheduling.tests.test_booking import META, MONDAY_10, _setup
from tandem.test import Cast, grant_authorization, sign_in

NOW = MONDAY_10 - datetime.timedelta(days=3)  # the Friday before


def _search(cast: Cast, client: Client, kind: str, clinicians: list[object], state: str = "OR") -> str:
    org = cast.riverbend
    appointment_type = next(t for t in services.ensure_types(org) if t.kind == kind)
    query = {
        "appointment_type": str(appointment_type.public_id),
        "clinicians": [str(c.public_id) for c in clinicians],  # type: ignore[attr-defined]
        "modality": "video_home",
        "expected_state": state,
        "first_day": "2026-06-08",
        "days": "2",
    }
    return (
        reverse("scheduling:book", args=[cast.patient.public_id])
        + "?"
        + "&".join(
            f"{k}={v}" for k, values in query.items() for v in (values if isinstance(values, list) else [values])
        )
    )


@pytest.mark.django_db
def test_the_therapist_books_a_co_treatment_visit_and_the_team_is_told(cast: Cast) -> None:
    _setup(cast)
    with time_machine.travel(NOW, tick=False):
        client = sign_in(Client(), cast.therapist)
        url = _search(cast, client, Kind.CO_TREATMENT, [cast.therapist, cast.prescriber])
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        slots = re.findall(r'name="slot" value="([^"]+)"', html)
        token = re.search(r'name="form_token" value="([^"]+)"', html)
        assert slots and token
        response = client.post(url, {"slot": slots[0], "form_token": token.group(1)})
        assert response.status_code == 302
        again = client.post(url, {"slot": slots[0], "form_token": token.group(1)})
        assert again["Location"] == response["Location"]  # a double submit books once
    appointment = Appointment.objects.get()
    assert {p.user for p in appointment.participants.all()} == {cast.therapist, cast.prescriber}
    told = Notification.objects.get(recipient=cast.prescriber, kind="appointment")
    assert "Quintero" not in told.text and "Avery" not in told.text


@pytest.mark.django_db
def test_a_slot_taken_meanwhile_gets_a_clear_answer(cast: Cast) -> None:
    _setup(cast)
    with time_machine.travel(NOW, tick=False):
        client = sign_in(Client(), cast.therapist)
        url = _search(cast, client, Kind.THERAPY, [cast.therapist])
        html = client.get(url).content.decode()
        slot = re.findall(r'name="slot" value="([^"]+)"', html)[0]
        token = re.search(r'name="form_token" value="([^"]+)"', html)
        assert token
        therapy = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY)
        services.book(
            actor=cast.colleague,
            appointment_type=therapy,
            clinicians=[cast.therapist],
            patient=cast.other_patient,
            starts_at=datetime.datetime.fromisoformat(slot),
            modality="in_person",
            meta=META,
        )
        response = client.post(url, {"slot": slot, "form_token": token.group(1)})
    assert response.status_code == 409
    assert "just taken" in response.content.decode()
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_an_ineligible_prescriber_is_refused_with_reasons_and_eligible_alternatives(cast: Cast) -> None:
    _setup(cast)
    ClinicianProfile.objects.create(user=cast.unrelated, discipline=Discipline.PSYCHIATRIST)
    StateLicense.objects.create(clinician=cast.unrelated, state="ID", license_type=LicenseType.MD, number="ID-7")
    with time_machine.travel(NOW, tick=False):
        client = sign_in(Client(), cast.therapist)
        page = client.get(_search(cast, client, Kind.CO_TREATMENT, [cast.therapist, cast.prescriber], state="ID"))
    html = page.content.decode()
    assert "Not eligible for this visit" in html
    assert "ID" in html
    assert cast.unrelated.display_name in html  # licensed in Idaho: offered instead
    assert 'name="slot"' not in html


@pytest.mark.django_db
def test_check_in_where_the_prescriber_is_not_licensed_blocks_the_visit(cast: Cast) -> None:
    _setup(cast)
    appointment = services.book(
        actor=cast.therapist,
        appointment_type=next(t for t in services.ensure_types(cast.northstar) if t.kind == Kind.MED_MANAGEMENT),
        clinicians=[cast.prescriber],
        patient=cast.patient,
        starts_at=MONDAY_10,
        modality="video_home",
        meta=META,
    )
    client = sign_in(Client(), cast.prescriber)
    url = reverse("scheduling:check_in", args=[appointment.public_id])
    with time_machine.travel(MONDAY_10 - datetime.timedelta(minutes=5), tick=False):
        client = sign_in(Client(), cast.prescriber)
        blocked = client.post(url, {"state": "WA", "attested_by": "patient"})
    assert blocked.status_code == 409
    assert "cannot go ahead with the patient in WA" in blocked.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED
    assert (appointment.attested_state, appointment.attested_by) == ("WA", "patient")
    with time_machine.travel(MONDAY_10 - datetime.timedelta(minutes=4), tick=False):
        client = sign_in(Client(), cast.prescriber)
        assert client.post(url, {"state": "OR", "attested_by": "patient"}).status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN


@pytest.mark.django_db
def test_the_chart_shows_appointments_only_where_consent_allows(cast: Cast) -> None:
    _setup(cast)
    services.book(
        actor=cast.therapist,
        appointment_type=next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY),
        clinicians=[cast.therapist],
        patient=cast.patient,
        starts_at=MONDAY_10,
        modality="in_person",
        meta=META,
    )
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    with time_machine.travel(NOW, tick=False):
        assert "Therapy session" in sign_in(Client(), cast.therapist).get(chart).content.decode()
        assert "Therapy session" not in sign_in(Client(), cast.prescriber).get(chart).content.decode()
        grant_authorization(cast.patient, cast.riverbend, cast.northstar, classes=["appointments"])
        assert "Therapy session" in sign_in(Client(), cast.prescriber).get(chart).content.decode()


@pytest.mark.django_db
def test_cancelling_frees_the_time_and_tells_the_team(cast: Cast) -> None:
    _setup(cast)
    appointment = services.book(
        actor=cast.therapist,
        appointment_type=next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.CO_TREATMENT),
        clinicians=[cast.therapist, cast.prescriber],
        patient=cast.patient,
        starts_at=MONDAY_10,
        modality="video_office",
        meta=META,
    )
    client = sign_in(Client(), cast.therapist)
    url = reverse("scheduling:cancel", args=[appointment.public_id])
    assert client.post(url, {"reason": ""}).status_code == 302
    assert Appointment.objects.get().status == Status.BOOKED
    assert client.post(url, {"reason": "Patient is unwell"}).status_code == 302
    assert Appointment.objects.get().status == Status.CANCELLED
    assert not Participant.objects.filter(holds=True).exists()
    assert Notification.objects.filter(recipient=cast.prescriber, text__contains="cancelled").exists()


@pytest.mark.django_db
def test_the_week_page_and_the_appointment_page(cast: Cast) -> None:
    _setup(cast)
    therapy = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY)

    def add(n: int) -> None:
        for i in range(n):
            services.book(
                actor=cast.therapist,
                appointment_type=therapy,
                clinicians=[cast.therapist],
                patient=cast.patient,
                starts_at=MONDAY_10 + datetime.timedelta(hours=i, days=Appointment.objects.count() % 5),
                modality="in_person",
                meta=META,
            )

    client = sign_in(Client(), cast.therapist)
    url = reverse("scheduling:week") + "?week=2026-06-08"
    add(1)
    with CaptureQueriesContext(connection) as few:
        page = client.get(url)
    assert page.status_code == 200
    assert "Therapy session · Avery Q." in page.content.decode()
    add(6)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(few.captured_queries) == len(many.captured_queries) <= 10
    appointment = Appointment.objects.first()
    assert appointment is not None
    before = AuditEvent.objects.count()
    detail = client.get(reverse("scheduling:appointment", args=[appointment.public_id]))
    assert detail.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    assert "Check in" in detail.content.decode()


@pytest.mark.django_db
def test_search_across_every_eligible_prescriber_and_book_one(cast: Cast) -> None:
    from tandem.scheduling.models import WeeklyHours

    _setup(cast)
    ClinicianProfile.objects.create(user=cast.unrelated, discipline=Discipline.PSYCHIATRIST)
    StateLicense.objects.create(clinician=cast.unrelated, state="ID", license_type=LicenseType.MD, number="ID-7")
    for weekday in range(5):
        WeeklyHours.objects.create(
            clinician=cast.unrelated,
            organization=cast.northstar,
            weekday=weekday,
            start=datetime.time(8),
            end=datetime.time(12),
            timezone="America/Boise",
        )
    evaluation = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.PSYCH_EVAL)
    query = (
        f"?appointment_type={evaluation.public_id}&any_eligible=on&modality=video_home"
        "&expected_state=ID&first_day=2026-06-08&days=2"
    )
    url = reverse("scheduling:book", args=[cast.patient.public_id]) + query
    with time_machine.travel(NOW, tick=False):
        client = sign_in(Client(), cast.therapist)
        html = client.get(url).content.decode()
        offers = html.split("Eligible prescribers, soonest first")[1]
        assert f"<h3>{cast.unrelated.display_name}</h3>" in offers
        assert cast.prescriber.display_name not in offers  # Oregon only
        slot = re.findall(r'name="slot" value="([^"]+)"', html)[0]
        token = re.search(r'name="form_token" value="([^"]+)"', html)
        assert token
        foreign = client.post(
            url, {"slot": slot, "form_token": token.group(1), "clinician": str(cast.outsider.public_id)}
        )
        assert foreign.status_code == 400
        assert Appointment.objects.count() == 0
        done = client.post(
            url, {"slot": slot, "form_token": token.group(1), "clinician": str(cast.unrelated.public_id)}
        )
        assert done.status_code == 302
    appointment = Appointment.objects.get()
    assert [p.user for p in appointment.participants.all()] == [cast.unrelated]
    assert appointment.expected_state == "ID"
