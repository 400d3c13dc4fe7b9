"""Coverage map, expiring list, the check form and a clinician's file."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.accounts.models import User
from tandem.credentials.models import ClinicianProfile, DeaRegistration, Discipline, LicenseType, StateLicense
from tandem.organizations.models import Membership, Role
from tandem.test import Cast, password_hash, sign_in


def add_prescribers(cast: Cast, count: int, start: int = 0) -> None:
    users = User.objects.bulk_create(
        User(email=f"rx{i}@northstar.test", full_name=f"Prescriber {i:04d}", password=password_hash())
        for i in range(start, start + count)
    )
    Membership.objects.bulk_create(Membership(user=u, organization=cast.northstar, role=Role.PRESCRIBER) for u in users)
    ClinicianProfile.objects.bulk_create(ClinicianProfile(user=u, discipline=Discipline.PSYCHIATRIST) for u in users)
    far = timezone.now().date() + datetime.timedelta(days=400)
    StateLicense.objects.bulk_create(
        StateLicense(clinician=u, state=state, license_type=LicenseType.MD, number=f"{state}{u.pk}", expires_on=far)
        for u in users
        for state in ("OR", "WA")
    )
    DeaRegistration.objects.bulk_create(
        DeaRegistration(clinician=u, state="OR", number="FR1234563", schedules=["II", "III", "IV", "V"], expires_on=far)
        for u in users
    )


def queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.django_db
def test_the_coverage_map_of_500_prescribers_runs_a_fixed_number_of_queries(cast: Cast) -> None:
    client = sign_in(Client(), cast.group_admin)
    add_prescribers(cast, 5)
    small, _ = queries(client, "/credentials/coverage/")
    add_prescribers(cast, 495, start=5)
    large, html = queries(client, "/credentials/coverage/")
    assert small == large <= 16
    assert html.count("<tr>") >= 500
    assert html.count('<th scope="col"') == 57  # the clinician column and 56 jurisdictions
    assert 'class="gap"' in html  # most states have no one


@pytest.mark.django_db
def test_the_map_shows_see_and_prescribe_per_state(cast: Cast) -> None:
    add_prescribers(cast, 1)
    html = sign_in(Client(), cast.group_admin).get("/credentials/coverage/").content.decode()
    assert "OR: can see and prescribe controlled" in html
    assert "WA: can see</span>" in html
    assert "ID: not covered" in html


@pytest.mark.django_db
def test_the_expiring_list_has_30_60_and_90_day_windows(cast: Cast) -> None:
    today = timezone.now().date()
    for days, state in ((20, "WA"), (50, "OR"), (80, "ID")):
        StateLicense.objects.create(
            clinician=cast.prescriber,
            state=state,
            license_type=LicenseType.MD,
            number=f"L{days}",
            expires_on=today + datetime.timedelta(days=days),
        )
    client = sign_in(Client(), cast.group_admin)
    for window, expected in ((30, 1), (60, 2), (90, 3)):
        html = client.get(f"/credentials/expiring/?within={window}").content.decode()
        assert html.count("<tr><td>") == expected, window
    assert "Nothing expires" in sign_in(Client(), cast.admin).get("/credentials/expiring/").content.decode()


@pytest.mark.django_db
def test_the_check_form_shows_the_reasons(cast: Cast) -> None:
    add_prescribers(cast, 1)
    person = User.objects.get(email="rx0@northstar.test")
    client = sign_in(Client(), cast.group_admin)
    html = client.get(
        "/credentials/check/",
        {"clinician": str(person.public_id), "state": "WA", "action": "prescribe", "drug": "clonazepam"},
    ).content.decode()
    assert "Not allowed" in html and "dea_not_registered_in_state" in html
    html = client.get(
        "/credentials/check/", {"clinician": str(person.public_id), "state": "OR", "action": "see"}
    ).content.decode()
    assert "Allowed" in html and "licensed_in_state" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"clinician": "", "state": "OR", "action": "see"},  # no clinician
        {"clinician": "not-a-uuid", "state": "OR", "action": "see"},
        {"state": "ZZ", "action": "see"},
        {"state": "OR", "action": "prescribe"},  # no drug
        {"state": "OR", "action": "bill"},  # no payer
        {"state": "OR", "action": "see", "at": "<script>"},
    ],
)
def test_bad_check_input_is_a_clear_error(cast: Cast, params: dict[str, str]) -> None:
    add_prescribers(cast, 1)
    params = {"clinician": str(User.objects.get(email="rx0@northstar.test").public_id), **params}
    response = sign_in(Client(), cast.group_admin).get("/credentials/check/", params)
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()


@pytest.mark.django_db
def test_a_clinician_outside_ones_organizations_cannot_be_checked(cast: Cast) -> None:
    response = sign_in(Client(), cast.group_admin).get(
        "/credentials/check/", {"clinician": str(cast.therapist.public_id), "state": "OR", "action": "see"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.django_db
def test_clinicians_see_their_own_file_and_colleagues_do_not(cast: Cast) -> None:
    StateLicense.objects.create(clinician=cast.therapist, state="OR", license_type=LicenseType.LPC, number="C-1")
    url = f"/credentials/clinicians/{cast.therapist.public_id}/"
    assert "LPC licence OR C-1" in sign_in(Client(), cast.therapist).get(url).content.decode()
    assert sign_in(Client(), cast.admin).get(url).status_code == 200
    for who in (cast.colleague, cast.prescriber, cast.group_admin, cast.outsider):
        assert sign_in(Client(), who).get(url).status_code == 404


@pytest.mark.django_db
def test_the_expiring_list_and_a_clinicians_file_keep_fixed_budgets(cast: Cast) -> None:
    client = sign_in(Client(), cast.group_admin)
    soon = timezone.now().date() + datetime.timedelta(days=40)
    add_prescribers(cast, 3)
    StateLicense.objects.filter(clinician__email__startswith="rx").update(expires_on=soon)
    few, _ = queries(client, "/credentials/expiring/")
    add_prescribers(cast, 60, start=3)
    StateLicense.objects.filter(clinician__email__startswith="rx").update(expires_on=soon)
    many, html = queries(client, "/credentials/expiring/")
    assert few == many <= 16
    assert html.count("<tr><td>") == 126
    person = User.objects.get(email="rx0@northstar.test")
    used, _ = queries(client, f"/credentials/clinicians/{person.public_id}/")
    assert used <= 16
