"""The demo's diagnoses, plans and medications, and the prescribing refusal
the demo shows: clonazepam for a patient in Washington, where the demo
psychiatrist holds a licence but no DEA registration."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tandem.audit.services import SYSTEM
from tandem.demo.seed import reset, seed
from tandem.medications import prescribing, selectors
from tandem.medications.models import LabResult, Medication, MedicationChange, Prescription
from tandem.plans.models import Diagnosis, PlanVersion
from tandem.test import sign_in


@pytest.mark.django_db
def test_the_demo_has_diagnoses_plans_and_medication_histories() -> None:
    users = seed()
    maya, priya = users["therapist@riverbend.demo"], users["prescriber@northstar.demo"]
    # Diagnoses, the common ones with their checklist recorded.
    assert Diagnosis.objects.count() >= 10
    assert Diagnosis.objects.filter(criteria_set="mdd", threshold_reached=True).exists()
    # Plans signed by both clinicians, and one revision waiting for the prescriber.
    in_force = PlanVersion.objects.filter(status="in_force")
    assert in_force.count() >= 3
    for version in in_force:
        assert {s.discipline for s in version.signatures.all()} == {"therapy", "medication"}
    waiting = PlanVersion.objects.get(status="signing")
    assert [(s.signer, s.discipline) for s in waiting.signatures.all()] == [(maya, "therapy")]
    assert waiting.based_on is not None and waiting.based_on.acknowledgement.method == "in_office"
    # Titrations: medications whose dose went up over time, each with prescriptions.
    titrated = {c.medication.drug for c in MedicationChange.objects.filter(kind="dose").select_related("medication")}
    assert {"sertraline", "bupropion", "lithium"} <= titrated
    assert Prescription.objects.filter(drug="sertraline").count() == 2
    # The lithium patient's level is due after the dose change, and overdue.
    lithium = Medication.objects.get(drug="lithium")
    patient = lithium.patient
    meds = list(Medication.objects.filter(patient=patient))
    due = selectors.due(
        meds,
        MedicationChange.objects.filter(medication__in=meds),
        LabResult.objects.filter(patient=patient),
        patient.practice.local_date(),
    )
    level = next(d for d in due if d.test.key == "lithium_level")
    assert level.overdue and "dose change" in level.reason
    page = sign_in(Client(), priya).get(reverse("medications:list", args=[patient.public_id])).content.decode()
    assert "overdue" in page and "Lithium level" in page
    reset()
    assert not Medication.objects.exists() and not PlanVersion.objects.exists() and not Diagnosis.objects.exists()


@pytest.mark.django_db
def test_clonazepam_for_the_washington_patient_is_refused_with_the_dea_reason() -> None:
    users = seed()
    priya = users["prescriber@northstar.demo"]
    clonazepam = Medication.objects.select_related("patient").get(drug="clonazepam")
    assert clonazepam.patient.state == "WA" and clonazepam.prescriber == priya

    # Through the service.
    with pytest.raises(prescribing.PrescribingRefused) as refused:
        prescribing.prescribe(
            actor=priya,
            medication=clonazepam,
            strength="0.5 mg",
            form="tablet",
            sig="1 tablet twice daily as needed",
            quantity=20,
            days_supply=10,
            refills=0,
            pharmacy="Vancouver Pharmacy",
            patient_state="WA",
            state_source="confirmed by the prescriber with the patient",
            form_token=uuid.uuid4(),
            meta=SYSTEM,
        )
    codes = [r.code for r in refused.value.reasons]
    assert "dea_not_registered_in_state" in codes
    dea = next(r for r in refused.value.reasons if r.code == "dea_not_registered_in_state")
    assert "Schedule IV" in dea.text and "no DEA registration in WA" in dea.text

    # Through the page: the rule is named, nothing is written.
    client = sign_in(Client(), priya)
    url = reverse("medications:prescribe", args=[clonazepam.patient.public_id, clonazepam.public_id])
    form = client.get(url)
    assert form.status_code == 200 and "Nothing is sent to a pharmacy" in form.content.decode()
    response = client.post(
        url,
        {
            "form_token": str(uuid.uuid4()),
            "strength": "0.5 mg",
            "form": "tablet",
            "sig": "1 tablet twice daily as needed",
            "quantity": "20",
            "days_supply": "10",
            "refills": "0",
            "pharmacy": "Vancouver Pharmacy",
            "patient_state": "WA",
            "location_confirmed": "on",
        },
    )
    text = response.content.decode()
    assert response.status_code == 400
    assert "Not allowed." in text and "dea_not_registered_in_state" in text and dea.text in text
    assert not Prescription.objects.filter(drug="clonazepam").exists()
    reset()
