import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_pages_render_for_the_therapist(cast, client_for):
    c = client_for(cast.therapist)
    for url in [
        reverse("home:today"),
        reverse("patients:list"),
        reverse("patients:chart", args=[cast.patient.public_id]),
        reverse("patients:edit", args=[cast.patient.public_id]),
        reverse("patients:create"),
        reverse("patients:care_team_add", args=[cast.patient.public_id]),
        reverse("accounts:security"),
    ]:
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)


@pytest.mark.django_db
def test_admin_pages_render(cast, client_for):
    c = client_for(cast.admin, sudo=True)
    for url in [
        reverse("audit:report"),
        reverse("organizations:members", args=[cast.riverbend.public_id]),
        reverse("audit:patient_access", args=[cast.patient.public_id]),
        reverse("audit:export"),
        reverse("organizations:member_invite", args=[cast.riverbend.public_id]),
    ]:
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code)
