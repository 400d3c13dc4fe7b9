"""Pages run a fixed number of queries, however many rows they show."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.patients.models import CareTeamMember, CareTeamRole, Patient
from tandem.test import Cast, sign_in


def add_patients(cast: Cast, count: int, *, prefix: str = "BULK", with_therapist: bool = True) -> None:
    """Riverbend patients, each with the partner prescriber (and the therapist) on the team."""
    patients = Patient.objects.bulk_create(
        Patient(
            practice=cast.riverbend,
            first_name=f"Pat{i}",
            last_name=f"{prefix.title()}{i:04d}",
            mrn=f"{prefix}-{i:05d}",
            date_of_birth=datetime.date(1980, 1, 1),
            timezone="America/Los_Angeles",
            state="OR",
            payer=cast.payer,
        )
        for i in range(count)
    )
    start = datetime.date(2024, 1, 1)
    team = [
        CareTeamMember(
            patient=p, user=cast.prescriber, organization=cast.northstar, role=CareTeamRole.PRESCRIBER, starts_on=start
        )
        for p in patients
    ]
    if with_therapist:
        team += [
            CareTeamMember(
                patient=p,
                user=cast.therapist,
                organization=cast.riverbend,
                role=CareTeamRole.PRIMARY_THERAPIST,
                starts_on=start,
            )
            for p in patients
        ]
    CareTeamMember.objects.bulk_create(team)


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# Session, user, memberships, partnerships, count, page, care-team prefetch,
# audit chain head and insert, session touch, a few for the layout, and the
# consent gate: authorizations, emergency grants and care-team organizations
# for the whole page at once, one insert for the disclosures it made, and the
# savepoint that commits them with the audit event.
PATIENT_LIST_BUDGET = 18


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "prescriber"])
def test_patient_list_query_count_does_not_grow_with_patients(who: str, cast: Cast) -> None:
    client = sign_in(Client(), cast.everyone()[who])
    url = reverse("patients:list") + "?page=1"
    add_patients(cast, 10)
    small = queries_for(client, url)
    add_patients(cast, 190, prefix="MORE", with_therapist=False)
    large = queries_for(client, url)
    assert Patient.objects.count() >= 200
    assert small == large
    assert large <= PATIENT_LIST_BUDGET


@pytest.mark.django_db
def test_searching_and_filtering_keep_the_budget(cast: Cast) -> None:
    add_patients(cast, 200)
    client = sign_in(Client(), cast.therapist)
    assert queries_for(client, reverse("patients:list") + "?q=Bulk") <= PATIENT_LIST_BUDGET
    assert queries_for(client, reverse("patients:list") + "?mine=1&page=3") <= PATIENT_LIST_BUDGET


@pytest.mark.django_db
def test_chart_today_and_admin_pages_have_budgets(cast: Cast) -> None:
    add_patients(cast, 50)
    for _ in range(6):
        CareTeamMember.objects.create(
            patient=cast.patient,
            user=cast.colleague,
            organization=cast.riverbend,
            role=CareTeamRole.THERAPIST,
            starts_on=datetime.date(2021, 1, 1),
            ends_on=datetime.date(2021, 6, 1),
        )
    therapist = sign_in(Client(), cast.therapist)
    admin = sign_in(Client(), cast.admin)
    budgets = {
        (therapist, reverse("patients:chart", args=[cast.patient.public_id])): 26,
        (therapist, reverse("home:today")): 12,
        (admin, reverse("audit:report")): 12,
        (admin, reverse("organizations:members", args=[cast.riverbend.public_id])): 12,
        (admin, reverse("audit:patient_access", args=[cast.patient.public_id])): 14,
    }
    for (client, url), budget in budgets.items():
        used = queries_for(client, url)
        assert used <= budget, f"{url} used {used} queries, budget {budget}"
