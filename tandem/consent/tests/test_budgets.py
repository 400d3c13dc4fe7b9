"""Consent pages and the gated chart run a fixed number of queries, however
many authorizations, records, disclosures or emergency grants there are."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.consent.models import BreakGlass, Disclosure
from tandem.patients.tests.test_query_budgets import queries_for
from tandem.records.models import Document, PsychotherapyNote
from tandem.referrals.models import Referral, ReferralEvent
from tandem.test import Cast, grant_authorization, sign_in


def _grow(cast: Cast, n: int) -> None:
    from tandem.scheduling.models import Appointment, Participant
    from tandem.scheduling.services import ensure_types

    now = timezone.now()
    co_treatment = next(t for t in ensure_types(cast.riverbend) if t.kind == "co_treatment")
    for _ in range(n):
        start = now + datetime.timedelta(days=Appointment.objects.count() + 1)
        appointment = Appointment.objects.create(
            organization=cast.riverbend,
            appointment_type=co_treatment,
            patient=cast.patient,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=1),
            modality="video_office",
            created_by=cast.therapist,
        )
        for person in (cast.therapist, cast.prescriber):
            Participant.objects.create(
                appointment=appointment, user=person, starts_at=start, ends_at=appointment.ends_at
            )
        authorization = grant_authorization(cast.patient, cast.riverbend, cast.northstar)
        Disclosure.objects.create(
            patient=cast.patient,
            source=cast.riverbend,
            recipient=cast.northstar,
            recipient_user=cast.prescriber,
            classes=["medications"],
            records=["document:x"],
            purpose="Coordination of care",
            basis="authorization",
            authorization=authorization,
        )
        BreakGlass.objects.create(
            patient=cast.patient,
            user=cast.prescriber,
            organization=cast.northstar,
            reason="An emergency that needed the record",
            started_at=now - datetime.timedelta(days=2),
            expires_at=now - datetime.timedelta(days=2) + datetime.timedelta(hours=1),
        )
        _grow_treatment(cast)

        for author, org in [(cast.therapist, cast.riverbend), (cast.prescriber, cast.northstar)]:
            Document.objects.create(
                patient=cast.patient,
                organization=org,
                author=author,
                info_class="progress_notes",
                title="A note",
                body="Text",
                occurred_on=datetime.date(2026, 1, 1),
            )
        referral = Referral.objects.create(
            patient=cast.patient,
            practice=cast.riverbend,
            referred_by=cast.therapist,
            status="submitted",
            reason="Low mood",
            location_state="OR",
            submitted_at=now,
        )
        ReferralEvent.objects.create(
            referral=referral, actor=cast.therapist, transition="submit", from_status="draft", to_status="submitted"
        )
        PsychotherapyNote.objects.create(
            patient=cast.patient,
            organization=cast.riverbend,
            author=cast.therapist,
            body="Private",
            occurred_on=datetime.date(2026, 1, 1),
        )


def _grow_treatment(cast: Cast) -> None:
    """One more medication with a change and a lab result, diagnosis and plan version."""
    from decimal import Decimal

    from tandem.credentials import rules
    from tandem.medications.models import LabResult, Medication, MedicationChange
    from tandem.plans import diagnoses
    from tandem.plans.models import Diagnosis, Goal, Plan, PlanVersion

    n = Medication.objects.filter(patient=cast.patient).count()
    drug = sorted(rules.current().drugs.values(), key=lambda d: d.name)[n]
    today = cast.riverbend.local_date()
    medication = Medication.objects.create(
        patient=cast.patient,
        organization=cast.northstar,
        prescriber=cast.prescriber,
        drug=drug.name,
        display=drug.display,
        drug_class=drug.drug_class,
        schedule=drug.schedule,
        form=drug.forms[0],
        dose=Decimal("10"),
        sig="Once daily",
        started_on=today - datetime.timedelta(days=60),
    )
    MedicationChange.objects.create(
        medication=medication,
        kind="start",
        dose_after=Decimal("10"),
        reason="Started",
        effective_on=medication.started_on,
        made_by=cast.prescriber,
    )
    LabResult.objects.create(
        patient=cast.patient,
        organization=cast.northstar,
        test="weight",
        value="70",
        collected_on=today - datetime.timedelta(days=n),
        entered_by=cast.prescriber,
    )
    entry = list(diagnoses.catalog().values())[n]
    Diagnosis.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        code=entry.code,
        name=entry.name,
        diagnosed_by=cast.therapist,
        diagnosed_on=today,
        status_changed_by=cast.therapist,
    )
    plan, _ = Plan.objects.get_or_create(patient=cast.patient)
    version = PlanVersion.objects.create(
        plan=plan,
        number=n + 1,
        organization=cast.riverbend,
        created_by=cast.therapist,
        summary="Low mood",
        review_on=today + datetime.timedelta(days=90),
    )
    Goal.objects.create(version=version, text="Sleep seven hours", discipline="shared")
    PlanVersion.objects.filter(pk=version.pk).update(status="superseded", locked_at=timezone.now())


BUDGETS = {
    # (viewer, route, takes the patient): the most queries the page may run,
    # on PostgreSQL, which takes one more than SQLite (the audit chain's lock).
    # The chart: records, appointments, the viewer's unsigned notes and the
    # thread's unread count; the therapist's lists referrals too.
    # Since the treatment card: diagnoses, medications with their changes and
    # labs, plan versions and questionnaire responses (four to six more).
    ("prescriber", "patients:chart", True): 31,
    ("therapist", "patients:chart", True): 33,
    ("prescriber", "medications:list", True): 22,
    ("therapist", "medications:list", True): 21,
    ("therapist", "plans:plan", True): 15,
    ("therapist", "plans:diagnoses", True): 15,
    ("prescriber", "patients:list", False): 18,
    ("admin", "consent:list", True): 13,
    ("admin", "consent:disclosures", True): 12,
    ("admin", "consent:break_glass_review", False): 9,
    ("therapist", "records:pn_list", True): 15,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "route", "patient_scoped"), sorted(BUDGETS))
def test_page_queries_stay_within_budget_as_rows_grow(who: str, route: str, patient_scoped: bool, cast: Cast) -> None:
    client = sign_in(Client(), cast.everyone()[who])
    url = reverse(route, args=[cast.patient.public_id] if patient_scoped else [])
    _grow(cast, 1)
    small = queries_for(client, url)
    _grow(cast, 25)
    large = queries_for(client, url)
    assert small == large, f"{route}: {small} queries with a few rows, {large} with many"
    assert large <= BUDGETS[(who, route, patient_scoped)]
