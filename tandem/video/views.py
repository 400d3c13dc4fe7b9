"""The video room pages: the clinician's, the patient's (through their link),
and issuing the patient's link."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.video import services
from tandem.video.models import PatientLink
from tandem.video.panel import side_panel


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
        with transaction.atomic():
            patient = appointment.patient
            if patient is not None and policy.can_view_chart(request.user, patient):
                ledger = Ledger(policy.sharing_for(request.user, patient))
                context["panel"] = side_panel(ledger)
                ledger.write()
            audit.record(
                actor=_actor(request),
                action=Action.VIEW,
                purpose=services.TREATMENT,
                meta=audit.RequestMeta.from_request(request),
                patient_id=patient.public_id if patient else None,
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
    step = _date_of_birth_step(request, link)
    if step is not None:
        return step
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


# --- The pre-call check ---------------------------------------------------------------------------
# Camera, microphone, speaker, and whether this browser reaches the signalling
# socket and the TURN relay. It shows nothing about any patient or visit and
# keeps nothing, so it is not audited; the patient's page follows the same
# link rules as their room page.


def _check_context(socket: str, back_url: str, back_label: str) -> dict[str, object]:
    import secrets

    from django.conf import settings

    from tandem.video import turn

    return {
        "socket": socket,
        "stun_configured": bool(settings.STUN_URLS),
        # Credentials for an opaque one-off reference, never the person: the
        # TURN username is sent in clear and lands in coturn's logs.
        "ice_servers": turn.ice_servers(f"check-{secrets.token_urlsafe(12)}"),
        "back_url": back_url,
        "back_label": back_label,
    }


def _room_to_return_to(request: HttpRequest) -> str | None:
    """The clinician's room page named in ``?next=``, if it is one: never
    anywhere else, so the parameter cannot send anyone off-site."""
    from urllib.parse import urlsplit

    from django.urls import Resolver404, resolve

    target = request.GET.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    try:
        match = resolve(urlsplit(target).path)
    except Resolver404:
        return None
    if match.view_name != "video:room":
        return None
    return reverse("video:room", kwargs=match.kwargs)


def _date_of_birth_step(request: HttpRequest, link: PatientLink) -> HttpResponse | None:
    """The date-of-birth step of a link that asks for it, as on the room page
    (the answer is remembered for this browser, for both pages); None once
    it is done or when the link does not ask."""
    if not link.needs_date_of_birth or request.session.get("video_link_ok") == str(link.public_id):
        return None
    error = ""
    if request.method == "POST":
        try:
            given = datetime.date.fromisoformat(request.POST.get("date_of_birth", "")[:10])
        except ValueError:
            given = None
        if services.confirm_date_of_birth(link, given):
            request.session["video_link_ok"] = str(link.public_id)
            return None
        try:
            services.check_patient_link(link)
        except services.RoomRefused as exc:
            return render(request, "video/refused.html", {"reason": str(exc)}, status=410)
        error = "That date does not match. Check it and try again."
    return render(request, "video/date_of_birth.html", {"error": error}, status=400 if error else 200)


@require_GET
@never_cache
@login_required
def check(request: HttpRequest) -> HttpResponse:
    """Any signed-in clinician's pre-call check: it touches no patient data."""
    room_url = _room_to_return_to(request)
    if room_url is not None:
        context = _check_context("/ws/video/check/", room_url, "Back to the video visit")
        context["nav"] = "calendar"
    else:
        context = _check_context("/ws/video/check/", reverse("home:today"), "Back to Today")
    return render(request, "video/check.html", context)


@require_http_methods(["GET", "POST"])
@never_cache
def patient_check(request: HttpRequest, token: str) -> HttpResponse:
    """The pre-call check through the patient's link: an unknown token is a
    404, an expired, replaced or locked link gets the page that says so, and
    a link that asks for the date of birth asks for it here too. It works
    before the room opens, which is when it helps most."""
    link = policy.patient_link_for(token)
    try:
        services.check_patient_link(link)
    except services.RoomRefused as exc:
        return render(request, "video/refused.html", {"reason": str(exc)}, status=410)
    step = _date_of_birth_step(request, link)
    if step is not None:
        return step
    context = _check_context(
        f"/ws/video/join/{token}/check/", reverse("video:patient", args=[token]), "Back to your visit"
    )
    return render(request, "video/check.html", context)
