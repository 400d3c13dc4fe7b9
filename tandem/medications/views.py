"""The medication pages: the list and its timeline for everyone the patient's
consent lets see it; changes and prescriptions for the prescriber on the care
team; lab results and observations from the clinicians who write in the chart.

Every page asks ``access/policy.py`` first, answers 404 to anyone who may
not see the patient or the row, records one audit event per view, and notes
in the disclosure ledger what crossed from another organization.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.access.policy import Sharing
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.credentials import rules
from tandem.medications import forms as f
from tandem.medications import monitoring, prescribing, selectors, services
from tandem.medications.models import Medication, MedicationStatus
from tandem.medications.prescribing import PrescribingRefused
from tandem.medications.services import MedicationError
from tandem.organizations.models import Organization
from tandem.patients.models import Patient


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _meta(request: HttpRequest) -> audit.RequestMeta:
    return audit.RequestMeta.from_request(request)


def _viewed(request: HttpRequest, patient: Patient, action: str, target_type: str, target_id: object) -> None:
    audit.record(
        actor=_actor(request),
        action=action,
        purpose=services.TREATMENT,
        meta=_meta(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
    )


def _disclose(sharing: Sharing, rows: list[Any], prefix: str) -> None:
    ledger = Ledger(sharing)
    for row in rows:
        ledger.note(row.organization_id, row.effective_class, f"{prefix}:{row.public_id}")
    ledger.write()


def _writer(request: HttpRequest, public_id: str) -> tuple[Patient, Organization]:
    patient = policy.get_patient_for(request.user, public_id)
    organization = policy.record_organization(_actor(request), patient)
    if not policy.can_write_records(request.user, patient) or organization is None:
        raise Http404("Not found")
    return patient, organization


def _prescriber(request: HttpRequest, public_id: str) -> tuple[Patient, Organization]:
    patient, organization = _writer(request, public_id)
    if not policy.can_prescribe(request.user, patient):
        raise Http404("Not found")
    return patient, organization


def _med_choices(medications: list[Medication]) -> list[tuple[str, str]]:
    # By name: the dose may change while the form is open.
    return [(str(m.public_id), m.display) for m in medications if m.status != MedicationStatus.STOPPED]


@require_GET
@login_required
def medication_list(request: HttpRequest, public_id: str) -> HttpResponse:
    """The list, the timeline and what monitoring is due."""
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        medications = policy.visible_medications(sharing)
        changes = policy.visible_medication_changes(medications)
        prescriptions = policy.visible_prescriptions(medications)
        observations = policy.visible_observations(sharing)
        labs = policy.visible_lab_results(sharing)
        _disclose(sharing, [*medications, *observations, *labs], "medication")
        _viewed(request, patient, Action.LIST, "medications", patient.public_id)
    today = patient.practice.local_date()
    can_write = policy.can_write_records(request.user, patient)
    context = {
        "nav": "patients",
        "patient": patient,
        "current": [m for m in medications if m.status != MedicationStatus.STOPPED],
        "stopped": [m for m in medications if m.status == MedicationStatus.STOPPED],
        "events": selectors.timeline(changes, prescriptions, observations, labs),
        "due": selectors.due(medications, changes, labs, today),
        "can_prescribe": policy.can_prescribe(request.user, patient),
        "can_write": can_write,
        "observation_form": f.ObservationForm(medications=_med_choices(medications)) if can_write else None,
    }
    return render(request, "medications/list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def start(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, organization = _prescriber(request, public_id)
    form = f.StartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            medication, _ = services.start(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                drug=data["drug"],
                form=data["form"],
                dose=data["dose"],
                sig=data["sig"],
                indication=data["indication"],
                started_on=data["started_on"],
                reason=data["reason"],
                part2=data["part2"],
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except MedicationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{medication.display} {medication.dose_text} is on the list.")
            return redirect("medications:detail", patient.public_id, medication.public_id)
    if request.method == "GET":
        _viewed(request, patient, Action.VIEW, "medication_start", patient.public_id)
    context = {"nav": "patients", "patient": patient, "form": form, "drugs": _catalog_rows()}
    return render(request, "medications/start.html", context, status=400 if form.errors else 200)


def _catalog_rows() -> list[dict[str, Any]]:
    rows = []
    for drug in sorted(rules.current().drugs.values(), key=lambda d: (d.drug_class, d.display)):
        rows.append(
            {
                "drug": drug,
                "monitoring": [r.test.name for r in monitoring.requirements_for(drug.name)],
            }
        )
    return rows


@require_GET
@login_required
def detail(request: HttpRequest, public_id: str, medication_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        medication, grant = policy.get_medication_for(sharing, medication_id)
        changes = policy.visible_medication_changes([medication])
        prescriptions = policy.visible_prescriptions([medication])
        _disclose(sharing, [medication], "medication")
        _viewed(request, patient, Action.VIEW, "medication", medication.public_id)
    can_prescribe = policy.can_prescribe(request.user, patient) and medication.organization_id in sharing.own_org_ids
    drug = rules.current().drugs.get(medication.drug)
    context = {
        "nav": "patients",
        "patient": patient,
        "medication": medication,
        "drug": drug,
        "changes": changes,
        "prescriptions": prescriptions,
        "can_prescribe": can_prescribe
        and medication.status not in (MedicationStatus.STOPPED, MedicationStatus.ON_HOLD),
        "change_form": f.ChangeForm() if can_prescribe and medication.status != MedicationStatus.STOPPED else None,
        "requirements": monitoring.requirements_for(medication.drug),
    }
    return render(request, "medications/detail.html", context)


def _own_medication(request: HttpRequest, public_id: str, medication_id: str) -> tuple[Patient, Medication]:
    """A medication the prescriber manages: their organization's, on their patient."""
    patient, _organization = _prescriber(request, public_id)
    sharing = policy.sharing_for(request.user, patient)
    medication, _grant = policy.get_medication_for(sharing, medication_id)
    if medication.organization_id not in sharing.own_org_ids:
        raise Http404("Not found")
    return patient, medication


@require_POST
@login_required
def change(request: HttpRequest, public_id: str, medication_id: str) -> HttpResponse:
    patient, medication = _own_medication(request, public_id, medication_id)
    form = f.ChangeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.change(
                actor=_actor(request),
                medication=medication,
                kind=data["kind"],
                dose=data["dose"],
                sig=data["sig"],
                reason=data["reason"],
                effective_on=data["effective_on"],
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except MedicationError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"Saved: {medication.display} is now {medication.dose_text}, "
                f"{medication.get_status_display().lower()}.",
            )
    else:
        messages.error(request, "Check the change: " + "; ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("medications:detail", patient.public_id, medication.public_id)


@require_http_methods(["GET", "POST"])
@login_required
def prescribe(request: HttpRequest, public_id: str, medication_id: str) -> HttpResponse:
    patient, medication = _own_medication(request, public_id, medication_id)
    drug = rules.current().drugs.get(medication.drug)
    if drug is None or medication.status == MedicationStatus.STOPPED:
        raise Http404("Not found")
    now = timezone.now()
    state, source = prescribing.attested_location(medication, now)
    initial = {"patient_state": state or patient.state, "sig": medication.sig, "form": medication.form}
    form = f.PrescriptionForm(request.POST or None, drug=drug, initial=initial)
    refusal: PrescribingRefused | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = data["patient_state"]
        how = source if chosen == state and source else "confirmed by the prescriber with the patient"
        try:
            rx, _ = prescribing.prescribe(
                actor=_actor(request),
                medication=medication,
                strength=data["strength"],
                form=data["form"],
                sig=data["sig"],
                quantity=data["quantity"],
                days_supply=data["days_supply"],
                refills=data["refills"],
                pharmacy=data["pharmacy"],
                patient_state=chosen,
                state_source=how,
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except PrescribingRefused as refused:
            refusal = refused
        except MedicationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The prescription is recorded.")
            return redirect("medications:prescription", patient.public_id, rx.public_id)
    if request.method == "GET":
        _viewed(request, patient, Action.VIEW, "prescription_form", medication.public_id)
    pdmp = None
    if drug.controlled:
        # The check that counts is for the state in the form, once one is chosen.
        shown_state = (
            form.cleaned_data["patient_state"] if form.is_bound and form.is_valid() else initial["patient_state"]
        )
        pdmp = prescribing.usable_pdmp_check(medication, _actor(request), shown_state, now)
    context = {
        "nav": "patients",
        "patient": patient,
        "medication": medication,
        "drug": drug,
        "form": form,
        "refusal": refusal,
        "attested": (state, source),
        "pdmp": pdmp,
        "limits": prescribing.limits(),
    }
    failed = refusal is not None or bool(form.errors)
    return render(request, "medications/prescribe.html", context, status=400 if failed else 200)


@require_GET
@login_required
def prescription(request: HttpRequest, public_id: str, prescription_id: str) -> HttpResponse:
    """The printable prescription record."""
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        rx, _grant = policy.get_prescription_for(sharing, prescription_id)
        _disclose(sharing, [rx.medication], "medication")
        _viewed(request, patient, Action.VIEW, "prescription", rx.public_id)
    drug = rules.current().drugs.get(rx.drug)
    context = {"nav": "patients", "patient": patient, "rx": rx, "medication": rx.medication, "drug": drug}
    return render(request, "medications/prescription.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def pdmp(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, organization = _prescriber(request, public_id)
    form = f.PdmpForm(request.POST or None, initial={"state": patient.state})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_pdmp_check(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                state=data["state"],
                checked_at=data["checked_at"],
                outcome=data["outcome"],
                findings=data["findings"],
                reference=data["reference"],
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except MedicationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The PDMP check is recorded.")
            return redirect("medications:pdmp", patient.public_id)
    with transaction.atomic():
        sharing = policy.sharing_for(request.user, patient)
        checks = policy.visible_pdmp_checks(sharing)
        if request.method == "GET":
            _viewed(request, patient, Action.LIST, "pdmp_checks", patient.public_id)
    context = {"nav": "patients", "patient": patient, "form": form, "checks": checks, "limits": prescribing.limits()}
    return render(request, "medications/pdmp.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def labs(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, organization = _writer(request, public_id)
    form = f.LabForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_lab(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                test=data["test"],
                value=data["value"],
                collected_on=data["collected_on"],
                note=data["note"],
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except MedicationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The result is recorded.")
            return redirect("medications:labs", patient.public_id)
    with transaction.atomic():
        sharing = policy.sharing_for(request.user, patient)
        results = policy.visible_lab_results(sharing)
        medications = policy.visible_medications(sharing)
        changes = policy.visible_medication_changes(medications)
        _disclose(sharing, results, "lab")
        if request.method == "GET":
            _viewed(request, patient, Action.LIST, "lab_results", patient.public_id)
    names = {t.key: t for t in monitoring.tests().values()}
    context = {
        "nav": "patients",
        "patient": patient,
        "form": form,
        "results": [(r, names.get(r.test)) for r in results],
        "due": selectors.due(medications, changes, results, patient.practice.local_date()),
    }
    return render(request, "medications/labs.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def observe(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, organization = _writer(request, public_id)
    sharing = policy.sharing_for(request.user, patient)
    medications = policy.visible_medications(sharing)
    form = f.ObservationForm(request.POST, medications=_med_choices(medications))
    if form.is_valid():
        data = form.cleaned_data
        medication = next((m for m in medications if str(m.public_id) == data["medication"]), None)
        try:
            services.record_observation(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                medication=medication,
                kind=data["kind"],
                text=data["text"],
                observed_on=data["observed_on"],
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except MedicationError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Reported to the prescriber.")
    else:
        messages.error(request, "Check the report: " + "; ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect(reverse("medications:list", args=[patient.public_id]) + "#timeline")


@require_GET
@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    """The drug catalog and its monitoring rules, for clinicians to consult."""
    if not policy.standing(request.user).memberships:
        raise Http404("Not found")
    context = {
        "nav": "catalog",
        "drugs": _catalog_rows(),
        "classes": sorted(monitoring.classes().values(), key=lambda c: c.name),
        "rules": rules.current(),
        "limits": prescribing.limits(),
    }
    return render(request, "medications/catalog.html", context)
