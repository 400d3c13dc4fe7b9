"""A clinician's inbox of notifications, and their notification settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.messaging.models import DigestPreference, Notification


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


INBOX_PAGE = 50


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Every notification, newest first, unread marked. They carry no health
    information; each links to what it is about, behind its own checks."""
    user = request.user
    assert isinstance(user, User)
    rows = Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
    page = Paginator(rows, INBOX_PAGE).get_page(request.GET.get("page"))
    context = {
        "nav": "inbox",
        "page": page,
        "unread": Notification.objects.filter(recipient=user, read_at__isnull=True).count(),
    }
    return render(request, "messaging/inbox.html", context)


@require_POST
@login_required
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, "All marked as read.")
    return redirect("messaging:inbox")
