"""The video room pages: the clinician's, the patient's (through their link),
and issuing the patient's link."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.video import services


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@login_required
def room(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = policy.get_video_appointment_for(request.user, appointment_id)
    door = policy.room_door(appointment)
    opens, closes = policy.room_window(appointment)
    context = {
        "nav": "calendar",
        "appointment": appointment,
        "door": door,
        "opens": opens,
        "closes": closes,
        "socket": f"/ws/video/{appointment.public_id}/",
        "role": "clinician",
    }
    if door == "open":
        audit.record(
            actor=_actor(request),
            action=Action.VIEW,
            purpose=services.TREATMENT,
            meta=audit.RequestMeta.from_request(request),
            patient_id=appointment.patient.public_id if appointment.patient else None,
            target_type="video_room_page",
            target_id=appointment.public_id,
        )
    return render(request, "video/room.html", context)


@require_POST
@login_required
def patient_link(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = policy.get_video_appointment_for(request.user, appointment_id)
    try:
        _link, token = services.issue_patient_link(
            actor=_actor(request),
            appointment=appointment,
            meta=audit.RequestMeta.from_request(request),
            needs_date_of_birth=request.POST.get("date_of_birth_check") == "1",
        )
    except services.RoomRefused as exc:
        return render(request, "video/refused.html", {"reason": str(exc)}, status=400)
    url = request.build_absolute_uri(reverse("video:patient", args=[token]))
    return render(request, "video/link.html", {"appointment": appointment, "url": url})


@require_http_methods(["GET", "POST"])
def patient(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's way in, with no account. An unknown token is a 404;
    an expired, replaced or locked link gets a page that says so."""
    link = policy.patient_link_for(token)
    try:
        services.check_patient_link(link)
    except services.RoomRefused as exc:
        return render(request, "video/refused.html", {"reason": str(exc)}, status=410)
    error = ""
    if link.needs_date_of_birth and request.session.get("video_link_ok") != str(link.public_id):
        if request.method == "POST":
            try:
                given = datetime.date.fromisoformat(request.POST.get("date_of_birth", "")[:10])
            except ValueError:
                given = None
            if services.confirm_date_of_birth(link, given):
                request.session["video_link_ok"] = str(link.public_id)
            else:
                try:
                    services.check_patient_link(link)
                except services.RoomRefused as exc:
                    return render(request, "video/refused.html", {"reason": str(exc)}, status=410)
                error = "That date does not match. Check it and try again."
        if request.session.get("video_link_ok") != str(link.public_id):
            return render(request, "video/date_of_birth.html", {"error": error}, status=400 if error else 200)
    appointment = link.room.appointment
    door = policy.room_door(appointment)
    opens, closes = policy.room_window(appointment)
    context = {
        "appointment": appointment,
        "door": door,
        "opens": opens,
        "closes": closes,
        "socket": f"/ws/video/join/{token}/",
        "role": "patient",
        "now": timezone.now(),
    }
    return render(request, "video/room.html", context)
