"""Every patient-scoped page records exactly one audit event per view."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tandem.access.tests.test_access_matrix import MATRIX
from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import verify_chain
from tandem.test import Cast, sign_in

PATIENT_PAGES = sorted(name for name, entry in MATRIX.items() if entry.patient_scoped and entry.method == "GET")


def test_there_are_patient_pages_to_walk() -> None:
    assert {"patients:chart", "patients:edit", "patients:care_team_add", "audit:patient_access"} <= set(PATIENT_PAGES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", PATIENT_PAGES)
def test_each_view_records_exactly_one_event(route: str, cast: Cast) -> None:
    entry = MATRIX[route]
    who = next(w for w in ("admin", "therapist", "prescriber") if w in entry.allowed)
    user = cast.everyone()[who]
    client = sign_in(Client(), user)
    url = reverse(route, kwargs=entry.kwargs(cast))
    before = AuditEvent.objects.count()
    response = client.get(url)
    assert response.status_code == 200
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert len(events) == 1
    event = events[0]
    # A page is viewed or listed; a PDF is exported.
    assert event.action in {Action.VIEW, Action.LIST, Action.EXPORT}
    assert event.actor_id == user.pk
    assert event.patient_id == cast.patient.public_id
    assert event.ip_address == "127.0.0.1"
    assert event.purpose
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_refused_view_records_nothing(cast: Cast) -> None:
    client = sign_in(Client(), cast.outsider)
    before = AuditEvent.objects.count()
    assert client.get(reverse("patients:chart", args=[cast.patient.public_id])).status_code == 404
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_the_report_shows_times_in_the_viewers_zone(cast: Cast) -> None:
    cast.admin.timezone = "America/New_York"
    cast.admin.save()
    client = sign_in(Client(), cast.admin)
    client.get(reverse("patients:chart", args=[cast.patient.public_id]))
    html = client.get(reverse("audit:report")).content.decode()
    assert " EST</time>" in html or " EDT</time>" in html
