"""The shared record: filed records, the chart summary PDF, and psychotherapy
notes, which only their author (or a reader a psychotherapy-notes
authorization names) ever sees."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.access.classes import PART2_NOTICE, InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.consent.models import Disclosure
from tandem.consent.pdf import pdf_response, render_pdf
from tandem.measures.selectors import trends
from tandem.patients import selectors as patient_selectors
from tandem.patients.models import Patient
from tandem.records import notes, search, services
from tandem.records import sharing as sharing_notes
from tandem.records.forms import AmendForm, DocumentForm, NoteFieldsForm, NoteStartForm, PsychotherapyNoteForm
from tandem.records.models import Document, NoteStatus
from tandem.records.selectors import chart_records
from tandem.scheduling.models import Appointment

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
        viewer = _actor(request)
        sharing_notes.opened(document, viewer)
    context = {
        "nav": "patients",
        "patient": patient,
        "document": document,
        "shared_from": document.organization if grant.crosses else None,
        "shared_basis": BASIS_WORDS.get(grant.basis, ""),
        "part2_notice": PART2_NOTICE if document.part2 and grant.crosses else "",
        "newer": Document.objects.filter(amends=document, status=NoteStatus.SIGNED).first(),
        "cosignature": getattr(document, "cosignature", None),
        # Read receipts: for the author's eyes.
        "reads": list(document.reads.select_related("reader")) if document.author_id == _actor(request).pk else None,
        "can_amend": document.is_note
        and document.author_id == _actor(request).pk
        and policy.can_write_records(request.user, patient),
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
        responses = policy.visible_responses(sharing)
        for r in responses:
            ledger.note(r.organization_id, InfoClass.ASSESSMENTS, f"assessment:{r.public_id}")
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
            # The same trend charts as the questionnaire page: SVG drawn on the server prints as it is.
            "scores": trends(responses, policy.visible_medication_changes(policy.visible_medications(sharing))),
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


# --- Encounter notes -------------------------------------------------------------------------


def _visit_label(appointment: Appointment) -> str:
    when = timezone.localtime(appointment.starts_at)
    return f"{appointment.appointment_type.name}, {when:%b} {when.day} {when:%H:%M}"


@require_http_methods(["GET", "POST"])
@login_required
def note_new(request: HttpRequest, public_id: str) -> HttpResponse:
    """Start a note: its kind (by the writer's discipline), date and visit."""
    patient = policy.get_patient_for(request.user, public_id)
    kinds = policy.writable_note_kinds(request.user, patient)
    organization = policy.record_organization(_actor(request), patient)
    if not kinds or organization is None:
        raise Http404("Not found")
    visits = policy.note_encounters(_actor(request), patient)
    by_id = {str(v.public_id): v for v in visits}
    form = NoteStartForm(
        request.POST if request.method == "POST" else None,
        today=patient.practice.local_date(),
        kinds=[(k.key, k.label) for k in kinds],
        visits=[(key, _visit_label(v)) for key, v in by_id.items()],
        initial={"encounter": request.GET.get("visit", "")} if request.GET.get("visit") in by_id else None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            draft, _created = notes.start(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                kind=data["kind"],
                occurred_on=data["occurred_on"],
                encounter=by_id.get(data["encounter"]),
                part2=data["part2"],
                form_token=data["form_token"],
                meta=audit.RequestMeta.from_request(request),
            )
        except notes.NoteError as exc:
            form.add_error(None, str(exc))
        else:
            if draft.status != NoteStatus.DRAFT:
                return redirect("records:document", patient.public_id, draft.public_id)
            return redirect("records:note_edit", patient.public_id, draft.public_id)
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "note_form", patient.public_id)
    context = {
        "nav": "patients",
        "patient": patient,
        "form": form,
        "organization": organization,
        "can_write_pn": policy.can_write_psychotherapy_notes(request.user, patient),
    }
    return render(request, "records/note_new.html", context, status=400 if form.errors else 200)


def _editor_context(
    request: HttpRequest, patient: Patient, draft: Document, form: NoteFieldsForm, **extra: object
) -> dict[str, object]:
    return {
        "nav": "patients",
        "patient": patient,
        "draft": draft,
        "form": form,
        "template": notes.template_for(draft),
        "earlier": draft.amends,
        **extra,
    }


@require_http_methods(["GET", "POST"])
@login_required
def note_edit(request: HttpRequest, public_id: str, note_id: str) -> HttpResponse:
    """The draft's editor. It saves by itself as the author types (note.js,
    through ``note_autosave``); without script, Save and Sign post here."""
    patient = policy.get_patient_for(request.user, public_id)
    draft = policy.get_draft_for(request.user, patient, note_id)
    template = notes.template_for(draft)
    meta = audit.RequestMeta.from_request(request)
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "note_draft", draft.public_id)
        form = NoteFieldsForm(initial={"revision": draft.revision, **draft.fields}, kind=template)
        return render(request, "records/note_edit.html", _editor_context(request, patient, draft, form))
    form = NoteFieldsForm(request.POST, kind=template)
    action = request.POST.get("action", "save")
    if not form.is_valid():
        return render(request, "records/note_edit.html", _editor_context(request, patient, draft, form), status=400)
    values = {k: v for k, v in form.cleaned_data.items() if k != "revision"}
    base = form.cleaned_data["revision"]
    try:
        if action == "discard":
            notes.discard(actor=_actor(request), document=draft, meta=meta)
            messages.success(request, "Draft discarded.")
            return redirect("patients:chart", patient.public_id)
        if action == "sign":
            signed = notes.sign(actor=_actor(request), document=draft, values=values, base_revision=base, meta=meta)
            messages.success(request, "Signed. The note is locked and shared with the care team as consent allows.")
            return redirect("records:document", patient.public_id, signed.public_id)
        saved = notes.save_draft(actor=_actor(request), document=draft, values=values, base_revision=base, meta=meta)
    except notes.NoteError as exc:
        form.add_error(None, str(exc))
        return render(
            request,
            "records/note_edit.html",
            _editor_context(request, patient, draft, form),
            status=409 if isinstance(exc, notes.NoteLocked) else 400,
        )
    if saved.conflict:
        # Keep what this person typed in the form, show the other text beside
        # it, and let a second save (from the newer revision) be deliberate.
        data = request.POST.copy()
        data["revision"] = str(saved.document.revision)
        form = NoteFieldsForm(data, kind=template)
        form.is_valid()
        context = _editor_context(request, patient, saved.document, form, conflict=saved.document)
        return render(request, "records/note_edit.html", context, status=409)
    messages.success(request, "Draft saved.")
    return redirect("records:note_edit", patient.public_id, draft.public_id)


@require_POST
@login_required
def note_autosave(request: HttpRequest, public_id: str, note_id: str) -> HttpResponse:
    """The editor's save as the author types: JSON with the new revision, or
    409 with the text saved elsewhere since (nothing is overwritten)."""
    patient = policy.get_patient_for(request.user, public_id)
    draft = policy.get_draft_for(request.user, patient, note_id)
    form = NoteFieldsForm(request.POST, kind=notes.template_for(draft))
    if not form.is_valid():
        errors = {k: [str(e) for e in v] for k, v in form.errors.items()}
        return JsonResponse({"error": "Some of the text could not be saved.", "fields": errors}, status=400)
    values = {k: v for k, v in form.cleaned_data.items() if k != "revision"}
    try:
        saved = notes.save_draft(
            actor=_actor(request), document=draft, values=values, base_revision=form.cleaned_data["revision"]
        )
    except notes.NoteError as exc:
        return JsonResponse({"error": str(exc)}, status=409 if isinstance(exc, notes.NoteLocked) else 400)
    current = saved.document
    body: dict[str, object] = {
        "revision": current.revision,
        "saved_at": timezone.localtime(current.updated_at).strftime("%H:%M:%S"),
    }
    if saved.conflict:
        body.update({"conflict": True, "fields": current.fields})
        return JsonResponse(body, status=409)
    return JsonResponse(body)


@require_http_methods(["GET", "POST"])
@login_required
def note_amend(request: HttpRequest, public_id: str, document_id: str) -> HttpResponse:
    """Open an amendment or an addendum to a signed note (its author only)."""
    patient = policy.get_patient_for(request.user, public_id)
    sharing = policy.sharing_for(request.user, patient)
    document, _grant = policy.get_document_for(sharing, document_id)
    if (
        document.author_id != _actor(request).pk
        or not document.is_note
        or not policy.can_write_records(request.user, patient)
    ):
        raise Http404("Not found")
    form = AmendForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            draft, _created = notes.amend(
                actor=_actor(request),
                document=document,
                change=form.cleaned_data["change"],
                reason=form.cleaned_data["reason"],
                meta=audit.RequestMeta.from_request(request),
            )
        except notes.NoteError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("records:note_edit", patient.public_id, draft.public_id)
    if request.method == "GET":
        _record(request, patient, Action.VIEW, "note_amend_form", document.public_id)
    context = {"nav": "patients", "patient": patient, "document": document, "form": form}
    return render(request, "records/note_amend.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def note_history(request: HttpRequest, public_id: str, document_id: str) -> HttpResponse:
    """Every signed version of a note, with author and time, and the author's
    own open draft of the next one."""
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        document, grant = policy.get_document_for(sharing, document_id)
        viewer = _actor(request)
        versions = [
            v
            for v in notes.history(document)
            if v.status == NoteStatus.SIGNED or (v.author_id == viewer.pk and policy.can_write_records(viewer, patient))
        ]
        ledger = Ledger(sharing)
        for v in versions:
            if v.status == NoteStatus.SIGNED:
                ledger.add(grant, v.organization_id, v.effective_class, f"document:{v.public_id}")
        ledger.write()
        _record(request, patient, Action.VIEW, "note_history", document.public_id)
    context = {"nav": "patients", "patient": patient, "document": document, "versions": versions}
    return render(request, "records/note_history.html", context)


@require_GET
@login_required
def search_view(request: HttpRequest) -> HttpResponse:
    """Notes and messages this person may see, matching the words asked for."""
    query = request.GET.get("q", "")[: search.QUERY_MAX]
    hits = search.search(_actor(request), query) if query.strip() else []
    if query.strip():
        audit.record(
            actor=_actor(request),
            action=Action.SEARCH,
            purpose=TREATMENT,
            meta=audit.RequestMeta.from_request(request),
            target_type="notes_and_messages",
            detail={"results": len(hits), "query_length": len(query)},
        )
    context = {"nav": "search", "query": query, "hits": hits, "searched": bool(query.strip())}
    return render(request, "records/search.html", context)


@require_POST
@login_required
def note_cosign(request: HttpRequest, public_id: str, document_id: str) -> HttpResponse:
    """The supervisor's co-signature on a supervised clinician's note."""
    patient = policy.get_patient_for(request.user, public_id)
    sharing = policy.sharing_for(request.user, patient)
    document, _grant = policy.get_document_for(sharing, document_id)
    try:
        notes.cosign(actor=_actor(request), document=document, meta=audit.RequestMeta.from_request(request))
    except notes.NoteError:
        raise Http404("Not found") from None
    messages.success(request, "Co-signed.")
    return redirect("records:document", patient.public_id, document.public_id)
