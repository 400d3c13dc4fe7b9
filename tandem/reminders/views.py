"""The patient's reminder choices, kept by their practice."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.reminders.services import set_preference


@require_POST
@login_required
def preference(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_edit_patient(request.user, patient):
        raise Http404("Not found")
    assert isinstance(request.user, User)
    set_preference(
        patient=patient,
        email_opt_out=request.POST.get("email") != "on",
        sms_opt_out=request.POST.get("sms") != "on",
        actor=request.user,
        meta=audit.RequestMeta.from_request(request),
    )
    messages.success(request, "Reminder choices saved.")
    return redirect("patients:chart", patient.public_id)
