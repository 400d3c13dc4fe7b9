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
from django.views.decorators.http import require_GET, require_http_methods

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.measures import alerts, instruments, services
from tandem.measures.instruments import Instrument
from tandem.measures.models import SafetyAlert


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


class AdministerForm(forms.Form):
    """One radio group per item that applies; skip logic is checked on scoring."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(self, *args: Any, instrument: Instrument, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
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
        ledger = Ledger(sharing)
        for r in responses:
            ledger.note(r.organization_id, InfoClass.ASSESSMENTS, f"assessment:{r.public_id}")
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
    by_instrument: dict[str, list[Any]] = {}
    for r in responses:
        by_instrument.setdefault(r.instrument, []).append(r)
    every = instruments.all_instruments()
    context = {
        "nav": "patients",
        "patient": patient,
        "groups": [(every[key], rows) for key, rows in sorted(by_instrument.items()) if key in every],
        "instruments": list(every.values()),
        "can_administer": policy.can_write_records(request.user, patient),
    }
    return render(request, "measures/list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def administer(request: HttpRequest, public_id: str, instrument_key: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    organization = policy.record_organization(_actor(request), patient)
    if not policy.can_write_records(request.user, patient) or organization is None:
        raise Http404("Not found")
    try:
        instrument = instruments.get(instrument_key)
    except instruments.InstrumentError:
        raise Http404("Not found") from None
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
        audit.record(
            actor=_actor(request),
            action=Action.VIEW,
            purpose=services.TREATMENT,
            meta=audit.RequestMeta.from_request(request),
            patient_id=patient.public_id,
            target_type="assessment_form",
            target_id=instrument.key,
        )
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
        audit.record(
            actor=_actor(request),
            action=Action.VIEW,
            purpose=services.TREATMENT,
            meta=audit.RequestMeta.from_request(request),
            patient_id=patient.public_id,
            target_type="safety_alert",
            target_id=str(alert.public_id),
        )
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
