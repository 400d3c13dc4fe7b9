"""A clinician's notification settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.messaging.models import DigestPreference


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    pref, _ = DigestPreference.objects.get_or_create(user=user)
    if request.method == "POST":
        wanted = request.POST.get("appointment_digest") == "on"
        if wanted != pref.appointment_digest:
            pref.appointment_digest = wanted
            pref.save(update_fields=["appointment_digest"])
            audit.record(
                actor=user,
                action=Action.UPDATE,
                purpose="operations",
                meta=audit.RequestMeta.from_request(request),
                target_type="digest_preference",
                detail={"appointment_digest": wanted},
            )
        messages.success(request, "Saved.")
        return redirect("messaging:preferences")
    return render(request, "messaging/preferences.html", {"pref": pref})
