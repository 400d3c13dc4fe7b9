"""A patient's questionnaires: the scores the viewer may see, and giving one
in session."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.measures import alerts, instruments, links, registry, reviews, schedules, services
from tandem.measures.instruments import Instrument
from tandem.measures.models import Channel, MeasureLink, MeasureSchedule, SafetyAlert
from tandem.measures.selectors import trends
from tandem.measures.services import MeasureError
from tandem.organizations.models import Organization
from tandem.patients.models import Patient


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _writer(request: HttpRequest, public_id: str) -> tuple[Patient, Organization]:
    """The patient and the organization this clinician writes for; 404 for
    anyone who does not write in the patient's chart."""
    patient = policy.get_patient_for(request.user, public_id)
    organization = policy.record_organization(_actor(request), patient)
    if not policy.can_write_records(request.user, patient) or organization is None:
        raise Http404("Not found")
    return patient, organization


def _viewed(request: HttpRequest, patient: Patient, target_type: str, target_id: object) -> None:
    audit.record(
        actor=_actor(request),
        action=Action.VIEW,
        purpose=services.TREATMENT,
        meta=audit.RequestMeta.from_request(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
    )


class InstrumentsForm(forms.Form):
    """A choice of the questionnaires the organization uses."""

    instruments = forms.MultipleChoiceField(label="Questionnaires", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, organization: object, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["instruments"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(i.key, i.short_name) for i in instruments.available_to(organization)]


class AdministerForm(forms.Form):
    """One radio group per item that applies; skip logic is checked on scoring."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(self, *args: Any, instrument: Instrument, language: str, token: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        if not token:  # the patient's link is itself the key: resaving is the point
            del self.fields["form_token"]
        for item in instrument.items:
            self.fields[f"item_{item.id}"] = forms.TypedChoiceField(
                label=item.text.get(language, item.text["en"]),
                choices=[(str(n), o.get(language, o["en"])) for n, o in enumerate(item.options)],
                coerce=int,
                required=False,
                widget=forms.RadioSelect,
            )

    def answers(self) -> dict[str, int]:
        return {
            name.removeprefix("item_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("item_") and value not in (None, "")
        }


@require_GET
@login_required
def response_list(request: HttpRequest, public_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        responses = policy.visible_responses(sharing)
        changes = policy.visible_medication_changes(policy.visible_medications(sharing))
        ledger = Ledger(sharing)
        for r in responses:
            ledger.note(r.organization_id, InfoClass.ASSESSMENTS, f"assessment:{r.public_id}")
        for c in changes:  # the chart marks them
            ledger.note(
                c.medication.organization_id, c.medication.effective_class, f"medication:{c.medication.public_id}"
            )
        ledger.write()
        audit.record(
            actor=_actor(request),
            action=Action.LIST,
            purpose=services.TREATMENT,
            meta=audit.RequestMeta.from_request(request),
            patient_id=patient.public_id,
            target_type="assessments",
            target_id=str(patient.public_id),
        )
    groups = trends(responses, changes)
    organization = policy.record_organization(_actor(request), patient)
    context = {
        "nav": "patients",
        "patient": patient,
        "groups": groups,
        "instruments": instruments.available_to(organization) if organization else [],
        "can_administer": policy.can_write_records(request.user, patient),
    }
    return render(request, "measures/list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def administer(request: HttpRequest, public_id: str, instrument_key: str) -> HttpResponse:
    patient, organization = _writer(request, public_id)
    instrument = next((i for i in instruments.available_to(organization) if i.key == instrument_key), None)
    if instrument is None:
        raise Http404("Not found")
    language = request.GET.get("lang", "en")
    if language not in instrument.languages:
        language = "en"
    form = AdministerForm(request.POST if request.method == "POST" else None, instrument=instrument, language=language)
    if request.method == "POST" and form.is_valid():
        try:
            response, _created = services.record_in_session(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                instrument_key=instrument.key,
                answers=form.answers(),
                language=language,
                form_token=form.cleaned_data["form_token"],
                meta=audit.RequestMeta.from_request(request),
            )
        except services.MeasureError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{instrument.short_name}: {response.total}, {response.band or 'scored'}.")
            for critical in response.critical:
                messages.warning(request, f"Critical answer: {critical['label']}. Assess safety now.")
            return redirect("measures:list", patient.public_id)
    if request.method == "GET":
        _viewed(request, patient, "assessment_form", instrument.key)
    context = {
        "nav": "patients",
        "patient": patient,
        "instrument": instrument,
        "form": form,
        "language": language,
        "recall": instrument.recall.get(language, instrument.recall["en"]),
    }
    return render(request, "measures/administer.html", context, status=400 if form.errors else 200)


class AcknowledgeForm(forms.Form):
    action = forms.CharField(
        label="What was done",
        max_length=alerts.ACTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: called the patient, completed a risk assessment, safety plan reviewed.",
    )


@require_http_methods(["GET", "POST"])
@login_required
def alert_detail(request: HttpRequest, public_id: str, alert_id: str) -> HttpResponse:
    """A safety alert, for the patient's care team: what was answered, and
    acknowledging it with the action taken."""
    patient = policy.get_patient_for(request.user, public_id)
    alert = (
        SafetyAlert.objects.filter(patient=patient, public_id=policy.parse_public_id(alert_id))
        .select_related("response", "acknowledged_by", "patient__practice")
        .first()
    )
    if alert is None or not alerts.may_see(_actor(request), alert):
        raise Http404("Not found")
    form = AcknowledgeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            alerts.acknowledge(
                actor=_actor(request),
                alert=alert,
                action=form.cleaned_data["action"],
                meta=audit.RequestMeta.from_request(request),
            )
        except alerts.AlertError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Acknowledged. The care team can see what was done.")
            return redirect("measures:alert", patient.public_id, alert.public_id)
    if request.method == "GET":
        _viewed(request, patient, "safety_alert", str(alert.public_id))
    instrument = instruments.get(alert.response.instrument)
    context = {
        "nav": "patients",
        "patient": patient,
        "alert": alert,
        "instrument": instrument,
        "form": form,
        "on_team": _actor(request) in alerts.team_for(alert),
    }
    return render(request, "measures/alert.html", context, status=400 if form.errors else 200)


# --- The patient's link -----------------------------------------------------------------------

UI = {
    "en": {
        "title": "Questionnaire",
        "intro": "From {practice}. Your answers go to your care team.",
        "question": "Question {n} of {count}",
        "save": "Save and finish later",
        "submit": "Send my answers",
        "saved": "Saved. You can come back to this link until {until}.",
        "missing": "Please answer every question before sending. Still to answer: {items}.",
        "done": "Thank you. Your answers have reached your care team.",
        "next": "Thank you. One more questionnaire follows.",
        "crisis_h": "If you are thinking about harming yourself, you are not alone",
        "crisis": "Call or text 988 (the Suicide and Crisis Lifeline) now, any time, day or night. "
        "If you are in immediate danger, call 911. Your care team has been told and will contact you.",
        "continue": "Continue",
        "language": "En español",
    },
    "es": {
        "title": "Cuestionario",
        "intro": "De {practice}. Sus respuestas llegan a su equipo de atención.",
        "question": "Pregunta {n} de {count}",
        "save": "Guardar y terminar más tarde",
        "submit": "Enviar mis respuestas",
        "saved": "Guardado. Puede volver a este enlace hasta el {until}.",
        "missing": "Conteste todas las preguntas antes de enviar. Faltan: {items}.",
        "done": "Gracias. Sus respuestas han llegado a su equipo de atención.",
        "next": "Gracias. Sigue otro cuestionario.",
        "crisis_h": "Si está pensando en hacerse daño, no está solo(a)",
        "crisis": "Llame o envíe un mensaje de texto al 988 (Línea de Prevención del Suicidio y Crisis) ahora, "
        "a cualquier hora. Si está en peligro inmediato, llame al 911. Su equipo de atención ya fue avisado "
        "y se comunicará con usted.",
        "continue": "Continuar",
        "language": "In English",
    },
}


def _language(request: HttpRequest, link: MeasureLink, instrument: Instrument | None) -> str:
    wanted = request.GET.get("lang") or request.POST.get("lang") or link.language
    if instrument is not None and wanted not in instrument.languages:
        return "en"
    return wanted if wanted in UI else "en"


@require_http_methods(["GET", "POST"])
@never_cache
def patient_link(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's questionnaire page: no account, mobile first, in English
    or Spanish. An unknown token is a 404; a used or expired link says so."""
    link = policy.measure_link_for(token)
    reason = links.refusal(link)
    language = _language(request, link, None)
    if reason:
        return render(request, "measures/patient_closed.html", {"reason": reason, "t": UI[language]}, status=410)
    key = links.current(link)
    if key is None:
        return render(request, "measures/patient_closed.html", {"reason": UI[language]["done"], "t": UI[language]})
    instrument = instruments.get(key)
    language = _language(request, link, instrument)
    saved = links.responses(link).get(key)
    initial = {f"item_{k}": str(v) for k, v in (saved.answers if saved else {}).items()}
    form = AdministerForm(
        request.POST if request.method == "POST" else None,
        instrument=instrument,
        language=language,
        initial=initial,
        token=False,
    )
    t = UI[language]
    notice = ""
    if request.method == "POST" and form.is_valid():
        submit = request.POST.get("action") == "submit"
        try:
            response, result = links.save(
                link=link, instrument_key=key, answers=form.answers(), language=language, submit=submit
            )
        except MeasureError as exc:
            form.add_error(None, str(exc))
        else:
            if response.critical and submit:
                crisis = {"t": t, "token": token, "language": language, "LANGUAGE_CODE": language}
                return render(request, "measures/patient_crisis.html", crisis)
            if not submit:
                until = timezone.localtime(link.expires_at).strftime("%Y-%m-%d")
                notice = t["saved"].format(until=until)
            elif not result.complete:
                form.add_error(None, t["missing"].format(items=", ".join(result.missing)))
            else:
                following = links.current(link)
                if following is None:
                    return render(request, "measures/patient_closed.html", {"reason": t["done"], "t": t})
                messages.success(request, t["next"])
                return redirect(reverse("measures:patient", args=[token]) + f"?lang={language}")
    other = "es" if language == "en" else "en"
    context: dict[str, Any] = {
        "instrument": instrument,
        "form": form,
        "t": t,
        "intro": t["intro"].format(practice=link.patient.practice.name),
        "recall": instrument.recall.get(language, instrument.recall["en"]),
        "language": language,
        "other_language": other if other in instrument.languages else "",
        "notice": notice,
        "LANGUAGE_CODE": language,
        "position": link.instruments.index(key) + 1,
        "count": len(link.instruments),
    }
    return render(request, "measures/patient.html", context, status=400 if form.errors else 200)


class SendLinkForm(InstrumentsForm):
    language = forms.ChoiceField(label="Language", choices=[("en", "English"), ("es", "Español")])
    channel = forms.ChoiceField(label="Send by", choices=Channel.choices, widget=forms.RadioSelect, initial="email")


@require_http_methods(["GET", "POST"])
@login_required
def send_link(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, organization = _writer(request, public_id)
    form = SendLinkForm(
        request.POST if request.method == "POST" else None,
        organization=organization,
        initial={"instruments": ["phq9", "gad7"]},
    )
    url = ""
    if request.method == "POST" and form.is_valid():
        try:
            _link, token = links.send(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                instrument_keys=form.cleaned_data["instruments"],
                language=form.cleaned_data["language"],
                channel=form.cleaned_data["channel"],
                meta=audit.RequestMeta.from_request(request),
            )
        except MeasureError as exc:
            form.add_error(None, str(exc))
        else:
            url = request.build_absolute_uri(reverse("measures:patient", args=[token]))
            if form.cleaned_data["channel"] != Channel.NONE:
                messages.success(request, "Sent. The link works for 7 days and once.")
                return redirect("measures:list", patient.public_id)
    if request.method == "GET":
        _viewed(request, patient, "questionnaire_link_form", str(patient.public_id))
    context = {"nav": "patients", "patient": patient, "form": form, "url": url}
    return render(request, "measures/send_link.html", context, status=400 if form.errors else 200)


class ScheduleForm(InstrumentsForm):
    every_days = forms.TypedChoiceField(
        label="Every",
        choices=[("", "Not on a rhythm"), ("7", "week"), ("14", "2 weeks"), ("28", "4 weeks")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    before_medication_visits = forms.BooleanField(label="Before each medication-management visit", required=False)


@require_http_methods(["GET", "POST"])
@login_required
def schedule(request: HttpRequest, public_id: str) -> HttpResponse:
    """The patient's questionnaire schedules: start one, see and stop the others."""
    patient, organization = _writer(request, public_id)
    form = ScheduleForm(
        request.POST if request.method == "POST" and "stop" not in request.POST else None,
        organization=organization,
        initial={"instruments": ["phq9", "gad7"], "every_days": "14", "before_medication_visits": True},
    )
    meta = audit.RequestMeta.from_request(request)
    if request.method == "POST" and "stop" in request.POST:
        found = MeasureSchedule.objects.filter(
            patient=patient, public_id=policy.parse_public_id(request.POST["stop"]), stopped_at__isnull=True
        ).first()
        if found is None:
            raise Http404("Not found")
        schedules.stop(actor=_actor(request), schedule=found, meta=meta)
        messages.success(request, "Stopped.")
        return redirect("measures:schedule", patient.public_id)
    if request.method == "POST" and form.is_valid():
        try:
            schedules.create(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                instrument_keys=form.cleaned_data["instruments"],
                every_days=form.cleaned_data["every_days"],
                before_medication_visits=form.cleaned_data["before_medication_visits"],
                meta=meta,
            )
        except MeasureError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Scheduled. The first questionnaires go out within the quarter hour.")
            return redirect("measures:schedule", patient.public_id)
    if request.method == "GET":
        _viewed(request, patient, "questionnaire_schedules", str(patient.public_id))
    context = {
        "nav": "patients",
        "patient": patient,
        "form": form,
        "active": list(
            MeasureSchedule.objects.filter(patient=patient, stopped_at__isnull=True).select_related("created_by")
        ),
        "reachable": schedules.channel_for(patient) is not None,
    }
    return render(request, "measures/schedule.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def registry_view(request: HttpRequest) -> HttpResponse:
    """The viewer's collaborative-care registry: who is not improving, who is
    overdue, who has nothing booked, who has an open safety alert."""
    user = _actor(request)
    every = instruments.all_instruments()
    key = request.GET.get("instrument", "phq9")
    key = key if key in {"phq9", "gad7"} else "phq9"
    flag = request.GET.get("flag", "")
    sort = request.GET.get("sort", "name")
    rows = registry.registry(user, key, flag=flag, sort=sort)
    audit.record(
        actor=user,
        action=Action.LIST,
        purpose=services.TREATMENT,
        meta=audit.RequestMeta.from_request(request),
        target_type="registry",
        detail={"instrument": key, "flag": flag, "rows": len(rows)},
    )
    context = {
        "nav": "registry",
        "rows": rows,
        "instrument": every[key],
        "flags": registry.FLAGS,
        "flag": flag,
        "sort": sort,
        "counts": {f: sum(1 for r in rows if f in r.flags) for f in registry.FLAGS} if not flag else None,
    }
    return render(request, "measures/registry.html", context)


class ReviewForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    patient = forms.UUIDField(widget=forms.HiddenInput)
    recommendation = forms.CharField(
        label="Recommendation", max_length=reviews.RECOMMENDATION_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


@require_http_methods(["GET", "POST"])
@login_required
def case_review(request: HttpRequest) -> HttpResponse:
    """The weekly psychiatric case review: flagged patients first, and a
    recommendation recorded for each, filed in the chart."""
    user = _actor(request)
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            patient = policy.get_patient_for(user, form.cleaned_data["patient"])
            try:
                reviews.record(
                    actor=user,
                    patient=patient,
                    recommendation=form.cleaned_data["recommendation"],
                    form_token=form.cleaned_data["form_token"],
                    meta=audit.RequestMeta.from_request(request),
                )
            except reviews.ReviewError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Recommendation recorded for {patient.display_name} and filed in the chart.")
            return redirect("measures:case_review")
        messages.error(request, "Write the recommendation (at most 4,000 characters).")
        return redirect("measures:case_review")
    items = reviews.review_list(user)
    audit.record(
        actor=user,
        action=Action.LIST,
        purpose=services.TREATMENT,
        meta=audit.RequestMeta.from_request(request),
        target_type="case_review",
        detail={"rows": len(items)},
    )
    # One form per patient, each with its own token: a double submit finds its own review only.
    rows = [(row, last, uuid.uuid4()) for row, last in items]
    context = {"nav": "registry", "items": rows, "flags": registry.FLAGS}
    return render(request, "measures/case_review.html", context)
