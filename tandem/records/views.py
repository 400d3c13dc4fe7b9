"""The shared record: filed records, the chart summary PDF, and psychotherapy
notes, which only their author (or a reader a psychotherapy-notes
authorization names) ever sees."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from tandem.access import policy
from tandem.access.classes import PART2_NOTICE, InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.consent.models import Disclosure
from tandem.consent.pdf import pdf_response, render_pdf
from tandem.patients import selectors as patient_selectors
from tandem.patients.models import Patient
from tandem.records import services
from tandem.records.forms import DocumentForm, PsychotherapyNoteForm
from tandem.records.selectors import chart_records

TREATMENT = services.TREATMENT
BASIS_WORDS = {
    "authorization": "under the patient's authorization",
    "treatment": "for treatment, under the practice's sharing policy",
    "emergency": "under your emergency access",
}


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _record(request: HttpRequest, patient: Patient, action: Action, target_type: str, target_id: object) -> None:
    audit.record(
        actor=_actor(request),
        action=action,
        purpose=TREATMENT,
        meta=audit.RequestMeta.from_request(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
    )


@require_http_methods(["GET", "POST"])
@login_required
def document_new(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    organization = policy.record_organization(_actor(request), patient)
    if not policy.can_write_records(request.user, patient) or organization is None:
        raise Http404("Not found")
    form = DocumentForm(request.POST if request.method == "POST" else None, today=patient.practice.local_date())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            document, created = services.document_create(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                info_class=data["info_class"],
                part2=data["part2"],
                title=data["title"],
                body=data["body"],
                occurred_on=data["occurred_on"],
                form_token=data["form_token"],
                meta=audit.RequestMeta.from_request(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if created:
                messages.success(request, "Filed in the chart.")
            return redirect("records:document", patient.public_id, document.public_id)
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "document_form", patient.public_id)
    context = {
        "nav": "patients",
        "patient": patient,
        "form": form,
        "organization": organization,
        "can_write_pn": policy.can_write_psychotherapy_notes(request.user, patient),
    }
    return render(request, "records/document_form.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def document_detail(request: HttpRequest, public_id: str, document_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        document, grant = policy.get_document_for(sharing, document_id)
        ledger = Ledger(sharing)
        ledger.add(grant, document.organization_id, document.effective_class, f"document:{document.public_id}")
        ledger.write()
        _record(request, patient, Action.VIEW, "document", document.public_id)
    context = {
        "nav": "patients",
        "patient": patient,
        "document": document,
        "shared_from": document.organization if grant.crosses else None,
        "shared_basis": BASIS_WORDS.get(grant.basis, ""),
        "part2_notice": PART2_NOTICE if document.part2 and grant.crosses else "",
    }
    return render(request, "records/document.html", context)


@require_GET
@login_required
def summary_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    """The chart summary as a PDF: only what this viewer may see, and a
    disclosure written for whatever crossed over."""
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        ledger = Ledger(sharing, channel=Disclosure.Channel.PDF)
        shown = chart_records(ledger)
        ledger.write()
        _record(request, patient, Action.EXPORT, "chart_summary_pdf", patient.public_id)
    team = patient_selectors.care_team(patient)
    today = patient.practice.local_date()
    content = render_pdf(
        "records/pdf/summary.html",
        {
            "patient": patient,
            "age": patient.age_on(today),
            "shows_demographics": shown.shows_demographics,
            "documents": shown.documents,
            "team": [m for m in team if m.is_active_on(today)],
            "withheld": sharing.withheld,
            "viewer": _actor(request),
            "generated_at": timezone.now(),
            "part2_notice": shown.part2_notice,
        },
    )
    return pdf_response(content, f"summary-{patient.mrn}.pdf")


# --- Psychotherapy notes ---------------------------------------------------------------------


@require_GET
@login_required
def psychotherapy_notes(request: HttpRequest, public_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        notes = policy.visible_psychotherapy_notes(sharing)
        can_write = policy.can_write_psychotherapy_notes(request.user, patient)
        if not notes and not can_write:
            raise Http404("Not found")
        ledger = Ledger(sharing)
        for n in notes:
            ledger.note(
                n.organization_id, InfoClass.PSYCHOTHERAPY_NOTES, f"psychotherapy_note:{n.public_id}", n.author_id
            )
        ledger.write()
        _record(request, patient, Action.LIST, "psychotherapy_notes", patient.public_id)
    viewer = _actor(request)
    context = {
        "nav": "patients",
        "patient": patient,
        "mine": [n for n in notes if n.author_id == viewer.pk],
        "shared_with_me": [n for n in notes if n.author_id != viewer.pk],
        "can_write": can_write,
    }
    return render(request, "records/pn_list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def psychotherapy_note_new(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_write_psychotherapy_notes(request.user, patient):
        raise Http404("Not found")
    form = PsychotherapyNoteForm(
        request.POST if request.method == "POST" else None, today=patient.practice.local_date()
    )
    if request.method == "POST" and form.is_valid():
        try:
            note, created = services.psychotherapy_note_create(
                actor=_actor(request),
                patient=patient,
                organization=patient.practice,
                body=form.cleaned_data["body"],
                occurred_on=form.cleaned_data["occurred_on"],
                form_token=form.cleaned_data["form_token"],
                meta=audit.RequestMeta.from_request(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if created:
                messages.success(request, "Saved. Only you can read it.")
            return redirect("records:pn", patient.public_id, note.public_id)
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "psychotherapy_note_form", patient.public_id)
    context = {"nav": "patients", "patient": patient, "form": form}
    return render(request, "records/pn_form.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def psychotherapy_note(request: HttpRequest, public_id: str, note_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        note, grant = policy.get_psychotherapy_note_for(sharing, note_id)
        ledger = Ledger(sharing)
        ledger.add(grant, note.organization_id, InfoClass.PSYCHOTHERAPY_NOTES, f"psychotherapy_note:{note.public_id}")
        ledger.write()
        _record(request, patient, Action.VIEW, "psychotherapy_note", note.public_id)
    context = {"nav": "patients", "patient": patient, "note": note, "is_author": grant.basis == policy.AUTHOR}
    return render(request, "records/pn.html", context)
