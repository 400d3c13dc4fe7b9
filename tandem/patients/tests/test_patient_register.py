"""Registering and editing a patient: good input saves once, bad input saves nothing."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tandem.audit.models import Action, AuditEvent
from tandem.patients.models import Patient
from tandem.test import Cast, sign_in


def valid_form(cast: Cast, **overrides: str) -> dict[str, str]:
    data = {
        "practice": str(cast.riverbend.public_id),
        "intake_token": str(uuid.uuid4()),
        "first_name": "Marisol",
        "last_name": "Esparza-Núñez",
        "preferred_name": "",
        "date_of_birth": "1991-06-14",
        "sex_at_birth": "female",
        "gender_identity": "",
        "pronouns": "she/her",
        "preferred_language": "es",
        "timezone": "America/Los_Angeles",
        "email": "marisol@example.com",
        "phone": "(503) 555-0142",
        "address_line1": "1420 Alder St",
        "address_line2": "",
        "city": "Portland",
        "state": "OR",
        "postal_code": "97205",
        "payer": str(cast.payer.public_id),
        "member_id": "AET12345678",
        "emergency_contact_name": "Rosa Esparza",
        "emergency_contact_relationship": "Mother",
        "emergency_contact_phone": "(503) 555-0199",
    }
    data.update(overrides)
    return data


@pytest.fixture
def therapist(cast: Cast) -> Client:
    return sign_in(Client(), cast.therapist)


@pytest.mark.django_db
def test_it_registers_a_patient_and_audits_it(cast: Cast, therapist: Client) -> None:
    response = therapist.post(reverse("patients:create"), valid_form(cast))
    patient = Patient.objects.get(last_name="Esparza-Núñez")
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:chart", args=[patient.public_id])
    assert patient.practice == cast.riverbend
    assert patient.payer == cast.payer
    assert patient.mrn.startswith("R")
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == Action.CREATE and event.patient_id == patient.public_id


@pytest.mark.django_db
def test_a_double_submit_creates_one_patient(cast: Cast, therapist: Client) -> None:
    form = valid_form(cast)
    first = therapist.post(reverse("patients:create"), form)
    second = therapist.post(reverse("patients:create"), form)
    assert Patient.objects.filter(last_name="Esparza-Núñez").count() == 1
    assert first["Location"] == second["Location"]
    assert AuditEvent.objects.filter(action=Action.CREATE, target_type="patient").count() == 1


BAD_INPUT = {
    "oversized name": {"first_name": "A" * 5000},
    "oversized member id": {"member_id": "9" * 500},
    "script in a name": {"last_name": "<script>alert(1)</script>"},
    "script in the address": {"address_line1": '"><img src=x onerror=alert(1)>'},
    "SQL in a name": {"first_name": "Robert'); DROP TABLE patients_patient;--"},
    "date of birth not a date": {"date_of_birth": "yesterday"},
    "date of birth in the future": {"date_of_birth": "2999-01-01"},
    "state not a state": {"state": "ZZ"},
    "time zone not a zone": {"timezone": "Mars/Olympus_Mons"},
    "language not offered": {"preferred_language": "klingon"},
    "phone of letters": {"phone": "call me maybe"},
    "foreign practice": {"practice": "lakeside"},
    "unknown practice id": {"practice": str(uuid.uuid4())},
    "payer id not a uuid": {"payer": "1 OR 1=1"},
    "intake token not a uuid": {"intake_token": "'; DELETE FROM x"},
    "missing last name": {"last_name": ""},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_gets_a_clear_error_and_writes_nothing(case: str, cast: Cast, therapist: Client) -> None:
    overrides = dict(BAD_INPUT[case])
    if overrides.get("practice") == "lakeside":
        overrides["practice"] = str(cast.lakeside.public_id)
    patients, events = Patient.objects.count(), AuditEvent.objects.count()
    response = therapist.post(reverse("patients:create"), valid_form(cast, **overrides))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please correct the fields marked below" in html
    assert 'class="errorlist' in html
    assert "<script>alert(1)</script>" not in html
    assert Patient.objects.count() == patients
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_list_where_a_value_belongs_is_refused(cast: Cast, therapist: Client) -> None:
    data: dict[str, object] = dict(valid_form(cast))
    data["first_name"] = ["Marisol", "Other"]
    response = therapist.post(reverse("patients:create"), data)
    # Django's form takes the last value of a repeated field; both are plain names, so it saves one patient.
    assert response.status_code == 302
    assert Patient.objects.filter(last_name="Esparza-Núñez").count() == 1


@pytest.mark.django_db
def test_editing_records_changed_field_names_not_values(cast: Cast, therapist: Client) -> None:
    url = reverse("patients:edit", args=[cast.patient.public_id])
    form = therapist.get(url).context["form"]
    data = {name: ("" if value is None else str(value)) for name, value in form.initial.items()}
    data.update({"phone": "(503) 555-0111", "payer": str(cast.payer.public_id), "date_of_birth": "1988-04-02"})
    response = therapist.post(url, data)
    assert response.status_code == 302
    cast.patient.refresh_from_db()
    assert cast.patient.phone == "(503) 555-0111"
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == Action.UPDATE
    assert event.detail == {"fields": ["phone"]}
    assert "555-0111" not in str(event.detail)


@pytest.mark.django_db
def test_editing_with_bad_input_changes_nothing(cast: Cast, therapist: Client) -> None:
    url = reverse("patients:edit", args=[cast.patient.public_id])
    response = therapist.post(url, {"first_name": "<b>x</b>", "last_name": "", "date_of_birth": "nope"})
    assert response.status_code == 400
    cast.patient.refresh_from_db()
    assert cast.patient.first_name == "Avery"


@pytest.mark.django_db
def test_a_prescriber_cannot_edit_demographics(cast: Cast) -> None:
    client = sign_in(Client(), cast.prescriber)
    response = client.post(reverse("patients:edit", args=[cast.patient.public_id]), valid_form(cast))
    assert response.status_code == 404
    cast.patient.refresh_from_db()
    assert cast.patient.first_name == "Avery"


@pytest.mark.django_db
def test_an_empty_submit_is_an_error_not_a_blank_form(cast: Cast, therapist: Client) -> None:
    response = therapist.post(reverse("patients:create"), {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert Patient.objects.count() == 3
