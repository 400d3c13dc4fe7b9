"""The registry: exact flags on a scripted caseload, consent on the scores,
and a fixed number of queries for 500 patients with 10,000 responses."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.measures import registry
from tandem.measures.models import Response, ResponseStatus, SafetyAlert, Source
from tandem.patients.models import CareTeamMember, CareTeamRole, Patient
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, grant_authorization, make_patient, page_text, sign_in

NOW = timezone.now()
WEEK = datetime.timedelta(weeks=1)


def _scores(cast: Cast, patient: Patient, totals: list[tuple[int, int]]) -> list[Response]:
    """(weeks ago, PHQ-9 total) pairs."""
    return Response.objects.bulk_create(
        Response(
            patient=patient,
            organization=cast.riverbend,
            instrument="phq9",
            instrument_version="1",
            source=Source.IN_SESSION,
            administered_by=cast.therapist,
            answers={},
            status=ResponseStatus.COMPLETE,
            total=total,
            completed_at=NOW - weeks * WEEK,
        )
        for weeks, total in totals
    )


def _patient(cast: Cast, name: str, mrn: str) -> Patient:
    patient = make_patient(cast.riverbend, name, "Case", mrn)
    for user, org, role in (
        (cast.therapist, cast.riverbend, CareTeamRole.PRIMARY_THERAPIST),
        (cast.prescriber, cast.northstar, CareTeamRole.PRESCRIBER),
    ):
        CareTeamMember.objects.create(
            patient=patient, user=user, organization=org, role=role, starts_on=datetime.date(2026, 1, 5)
        )
    return patient


def _booked(cast: Cast, patient: Patient, days: int, status: str = "booked") -> None:
    kind = next(t for t in ensure_types(cast.riverbend) if t.kind == "therapy")
    start = NOW + datetime.timedelta(days=days)
    visit = Appointment.objects.create(
        organization=cast.riverbend,
        appointment_type=kind,
        patient=patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=50),
        modality="in_person",
        status=status,
        created_by=cast.therapist,
    )
    Participant.objects.create(appointment=visit, user=cast.therapist, starts_at=start, ends_at=visit.ends_at)


@pytest.mark.django_db
def test_the_registry_flags_exactly_who_needs_attention(cast: Cast) -> None:
    responding = _patient(cast, "Rita", "RB-100001")
    _scores(cast, responding, [(10, 18), (2, 8)])
    _booked(cast, responding, 7)
    flat = _patient(cast, "Fred", "RB-100002")
    _scores(cast, flat, [(10, 14), (1, 13)])
    _booked(cast, flat, 9)
    _booked(cast, flat, -20, "completed")
    overdue = _patient(cast, "Olga", "RB-100003")
    _scores(cast, overdue, [(6, 12), (5, 6)])  # responded, but nothing for five weeks, nothing booked
    early = _patient(cast, "Eli", "RB-100004")
    alert_response = _scores(cast, early, [(3, 16), (0, 15)])[-1]
    _booked(cast, early, 3)
    SafetyAlert.objects.create(patient=early, response=alert_response, organization=cast.riverbend, reasons=["x"])
    rows = {r.patient.first_name: r for r in registry.registry(cast.therapist, at=NOW)}
    assert rows["Rita"].flags == [] and rows["Rita"].response is True and rows["Rita"].change == -10
    assert rows["Fred"].flags == ["not_improving"] and rows["Fred"].weeks == 10
    assert rows["Fred"].last_contact is not None and rows["Fred"].next_appointment is not None
    assert rows["Olga"].flags == ["overdue", "no_follow_up"] and rows["Olga"].remission is False
    assert rows["Eli"].flags == ["alert"]  # 3 weeks in: too early to call it not improving
    # Filtered and sorted.
    assert [r.patient.first_name for r in registry.registry(cast.therapist, flag="not_improving", at=NOW)] == ["Fred"]
    by_change = [r.patient.first_name for r in registry.registry(cast.therapist, sort="change", at=NOW)]
    assert by_change[0] == "Rita" and "Avery" in by_change  # the cast's patient has no scores: last
    # The prescriber sees the same patients, but not the scores until consent allows.
    hidden = {r.patient.first_name: r for r in registry.registry(cast.prescriber, at=NOW)}
    assert not hidden["Rita"].shown and hidden["Rita"].latest_total is None and hidden["Fred"].flags == []
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)  # only the cast's patient
    for p in (responding, flat, overdue, early):
        grant_authorization(p, cast.riverbend, cast.northstar)
    shown = {r.patient.first_name: r for r in registry.registry(cast.prescriber, at=NOW)}
    assert shown["Fred"].flags == ["not_improving"] and shown["Rita"].latest_total == 8
    page = page_text(sign_in(Client(), cast.therapist).get(reverse("measures:registry"), {"flag": "overdue"}))
    assert "Olga" in page and "Rita" not in page and "Measurement overdue" in page
    assert {r.patient.first_name for r in registry.registry(cast.outsider, at=NOW)} == {"Greta"}  # their own only


@pytest.mark.django_db
def test_five_hundred_patients_and_ten_thousand_responses_in_a_fixed_number_of_queries(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    url = reverse("measures:registry")

    def measure() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries)

    few = measure()
    patients = Patient.objects.bulk_create(
        Patient(
            practice=cast.riverbend,
            first_name=f"P{n:03d}",
            last_name="Registry",
            mrn=f"RB-2{n:05d}",
            date_of_birth=datetime.date(1980, 1, 1),
            timezone=cast.riverbend.timezone,
            state="OR",
        )
        for n in range(500)
    )
    CareTeamMember.objects.bulk_create(
        CareTeamMember(
            patient=p,
            user=cast.therapist,
            organization=cast.riverbend,
            role=CareTeamRole.PRIMARY_THERAPIST,
            starts_on=datetime.date(2026, 1, 5),
        )
        for p in patients
    )
    Response.objects.bulk_create(
        Response(
            patient=p,
            organization=cast.riverbend,
            instrument="phq9" if n % 2 else "gad7",
            instrument_version="1",
            source=Source.IN_SESSION,
            answers={},
            status=ResponseStatus.COMPLETE,
            total=(n * 7) % 27 if n % 2 else (n * 5) % 21,
            completed_at=NOW - datetime.timedelta(days=n),
        )
        for p in patients
        for n in range(20)
    )
    assert Response.objects.count() == 10_000
    # Each on a medication whose monitoring is followed, half with a result on file.
    from decimal import Decimal

    from tandem.medications.models import LabResult, Medication, MedicationChange

    medications = Medication.objects.bulk_create(
        Medication(
            patient=p,
            organization=cast.riverbend,
            prescriber=cast.therapist,
            drug="lithium",
            display="Lithium",
            drug_class="Lithium",
            form="tablet",
            dose=Decimal("300"),
            sig="Twice daily",
            started_on=datetime.date(2026, 6, 1),
        )
        for p in patients
    )
    MedicationChange.objects.bulk_create(
        MedicationChange(
            medication=m,
            kind="dose",
            dose_before=Decimal("300"),
            dose_after=Decimal("300"),
            reason="Level low",
            effective_on=datetime.date(2026, 7, 1),
            made_by=cast.therapist,
        )
        for m in medications
    )
    LabResult.objects.bulk_create(
        LabResult(
            patient=p,
            organization=cast.riverbend,
            test="lithium_level",
            value="0.7",
            collected_on=datetime.date(2026, 7, 8),
            entered_by=cast.therapist,
        )
        for p in patients[::2]
    )
    many = measure()
    assert many == few and many <= 16, (few, many)
    assert page_text(client.get(url)).count("Registry</a>") >= 500
    flagged = page_text(client.get(url), replace={"\n": " "})
    assert flagged.count("Labs or vitals overdue: ") >= 500 and "Lithium level" in flagged
