from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.organizations.models import Membership
from tandem.patients.models import CareTeamMember
from tandem.test import Cast, sign_in


@pytest.mark.django_db
def test_adding_the_unrelated_prescriber_opens_the_chart_to_them(cast: Cast) -> None:
    therapist = sign_in(Client(), cast.therapist)
    unrelated = sign_in(Client(), cast.unrelated)
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    assert unrelated.get(chart).status_code == 404
    membership = Membership.objects.get(user=cast.unrelated)
    response = therapist.post(
        reverse("patients:care_team_add", args=[cast.patient.public_id]),
        {
            "membership": str(membership.public_id),
            "role": "prescriber",
            "starts_on": "2024-01-01",
            "ends_on": "",
        },
    )
    assert response.status_code == 302
    assert unrelated.get(chart).status_code == 200
    assert AuditEvent.objects.filter(target_type="care_team_member").count() == 1


@pytest.mark.django_db
def test_a_foreign_membership_id_is_refused(cast: Cast) -> None:
    therapist = sign_in(Client(), cast.therapist)
    outsider_membership = Membership.objects.get(user=cast.outsider)
    before = CareTeamMember.objects.count()
    response = therapist.post(
        reverse("patients:care_team_add", args=[cast.patient.public_id]),
        {
            "membership": str(outsider_membership.public_id),
            "role": "therapist",
            "starts_on": "2024-01-01",
        },
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert CareTeamMember.objects.count() == before


@pytest.mark.django_db
def test_the_role_must_fit_the_membership(cast: Cast) -> None:
    therapist = sign_in(Client(), cast.therapist)
    membership = Membership.objects.get(user=cast.unrelated)
    response = therapist.post(
        reverse("patients:care_team_add", args=[cast.patient.public_id]),
        {
            "membership": str(membership.public_id),
            "role": "primary_therapist",
            "starts_on": "2024-01-01",
        },
    )
    assert response.status_code == 400
    assert "cannot join as primary therapist" in response.content.decode()


@pytest.mark.django_db
def test_someone_already_on_the_team_is_not_added_twice(cast: Cast) -> None:
    therapist = sign_in(Client(), cast.therapist)
    membership = Membership.objects.get(user=cast.prescriber)
    response = therapist.post(
        reverse("patients:care_team_add", args=[cast.patient.public_id]),
        {
            "membership": str(membership.public_id),
            "role": "prescriber",
            "starts_on": "2024-01-01",
        },
    )
    assert response.status_code == 400
    assert "already on this care team" in response.content.decode()


@pytest.mark.django_db
def test_ending_a_membership_before_it_began_is_refused(cast: Cast) -> None:
    therapist = sign_in(Client(), cast.therapist)
    member = CareTeamMember.objects.get(patient=cast.patient, user=cast.prescriber)
    response = therapist.post(
        reverse("patients:care_team_end", args=[cast.patient.public_id, member.public_id]), {"ends_on": "2001-01-01"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.ends_on is None


@pytest.mark.django_db
def test_a_care_team_row_of_another_patient_is_not_found(cast: Cast) -> None:
    therapist = sign_in(Client(), cast.outsider)
    foreign_member = CareTeamMember.objects.get(patient=cast.foreign_patient)
    own = sign_in(Client(), cast.therapist)
    response = own.post(
        reverse("patients:care_team_end", args=[cast.patient.public_id, foreign_member.public_id]),
        {"ends_on": "2030-01-01"},
    )
    assert response.status_code == 404
    foreign_member.refresh_from_db()
    assert foreign_member.ends_on is None
    assert therapist.get(reverse("patients:chart", args=[cast.foreign_patient.public_id])).status_code == 200
