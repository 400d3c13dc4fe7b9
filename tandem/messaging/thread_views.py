"""The care team's thread about a patient: read and post, correct or retract
a message, download an attachment, ask for a consult and answer one."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.messaging import threads
from tandem.messaging.models import MESSAGE_MAX, Attachment, ConsultRequest, Message
from tandem.messaging.services import notifications_seen
from tandem.patients.models import Patient

PAGE = 50


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


class MessageForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    body = forms.CharField(
        label="Message",
        required=False,
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Write @ and a name to mention someone on the care team.",
    )


class EditForm(forms.Form):
    body = forms.CharField(
        label="Message", required=False, max_length=MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )


class ConsultForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    of = forms.ChoiceField(label="Ask")
    topic = forms.CharField(label="About", max_length=300)
    first = forms.DateTimeField(
        label="A time that suits you", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    second = forms.DateTimeField(
        label="Another time (optional)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    third = forms.DateTimeField(
        label="A third time (optional)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, members: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["of"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(u.public_id), u.display_name) for u in members]

    def times(self) -> list[datetime.datetime]:
        return [t for t in (self.cleaned_data.get(k) for k in ("first", "second", "third")) if t is not None]


def _context(request: HttpRequest, patient: Patient, form: MessageForm, **extra: object) -> dict[str, object]:
    viewer = _actor(request)
    thread = threads.thread_for(patient)
    # Newest page first; each page reads oldest to newest.
    page = Paginator(
        thread.messages.select_related("author", "organization")
        .prefetch_related("attachments", "mentions")
        .order_by("-created_at", "-id"),
        PAGE,
    ).get_page(request.GET.get("page"))
    rows = list(page.object_list)[::-1]
    # The team as the page shows it (names and "seen by"); who may post is
    # checked per person where it matters, on sending and on mentions.
    members = policy.active_team_users(patient)
    reads = {r.user_id: r.read_at for r in thread.reads.all()}
    now = timezone.now()
    for m in rows:
        m.can_edit = m.author_id == viewer.pk and m.retracted_at is None and now <= m.editable_until
        # Read status: the other members who have read the thread past this message.
        m.seen_by = [
            u.display_name for u in members if u.pk != m.author_id and u.pk in reads and reads[u.pk] >= m.created_at
        ]
    consults = list(
        ConsultRequest.objects.filter(thread=thread)
        .select_related("requested_by", "requested_of", "appointment")
        .order_by("-created_at")[:10]
    )
    return {
        "nav": "patients",
        "patient": patient,
        "thread": thread,
        "rows": rows,
        "page": page,
        "members": members,
        "form": form,
        "consults": consults,
        "viewer": viewer,
        **extra,
    }


def _audit(request: HttpRequest, patient: Patient, action: str, target_type: str, target_id: object) -> None:
    audit.record(
        actor=_actor(request),
        action=action,
        purpose=threads.TREATMENT,
        meta=audit.RequestMeta.from_request(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
    )


@require_http_methods(["GET", "POST"])
@login_required
def thread(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_thread_patient_for(request.user, public_id)
    viewer = _actor(request)
    form = MessageForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            threads.post(
                actor=viewer,
                patient=patient,
                body=form.cleaned_data["body"],
                files=request.FILES.getlist("files"),
                form_token=form.cleaned_data["form_token"],
                meta=audit.RequestMeta.from_request(request),
            )
        except threads.ThreadError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("messaging:thread", patient.public_id)
    with transaction.atomic():
        context = _context(request, patient, form)
        if request.method == "GET":
            threads.mark_read(viewer, context["thread"])  # type: ignore[arg-type]
            notifications_seen(viewer, reverse("messaging:thread", args=[patient.public_id]))
            _audit(request, patient, Action.VIEW, "thread", patient.public_id)
    return render(request, "messaging/thread.html", context, status=400 if form.errors else 200)


def _own_message(request: HttpRequest, patient: Patient, message_id: str) -> Message:
    message = (
        Message.objects.filter(
            thread__patient=patient, public_id=policy.parse_public_id(message_id), author=_actor(request)
        )
        .select_related("thread__patient")
        .first()
    )
    if message is None:
        raise Http404("Not found")
    return message


@require_http_methods(["GET", "POST"])
@login_required
def message_edit(request: HttpRequest, public_id: str, message_id: str) -> HttpResponse:
    patient = policy.get_thread_patient_for(request.user, public_id)
    message = _own_message(request, patient, message_id)
    form = EditForm(request.POST if request.method == "POST" else None, initial={"body": message.body})
    if request.method == "POST" and form.is_valid():
        try:
            threads.edit(
                actor=_actor(request),
                message=message,
                body=form.cleaned_data["body"],
                meta=audit.RequestMeta.from_request(request),
            )
        except threads.ThreadError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Message corrected.")
            return redirect("messaging:thread", patient.public_id)
    if request.method == "GET":
        _audit(request, patient, Action.VIEW, "message", message.public_id)
    context = {"nav": "patients", "patient": patient, "message": message, "form": form}
    return render(request, "messaging/message_edit.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def message_retract(request: HttpRequest, public_id: str, message_id: str) -> HttpResponse:
    patient = policy.get_thread_patient_for(request.user, public_id)
    message = _own_message(request, patient, message_id)
    try:
        threads.retract(actor=_actor(request), message=message, meta=audit.RequestMeta.from_request(request))
    except threads.ThreadError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Message retracted. A marker shows where it was.")
    return redirect("messaging:thread", patient.public_id)


@require_GET
@login_required
def attachment(request: HttpRequest, public_id: str, attachment_id: str) -> FileResponse:
    patient = policy.get_thread_patient_for(request.user, public_id)
    found = Attachment.objects.filter(
        message__thread__patient=patient,
        message__retracted_at__isnull=True,
        public_id=policy.parse_public_id(attachment_id),
    ).first()
    if found is None:
        raise Http404("Not found")
    _audit(request, patient, Action.VIEW, "attachment", found.public_id)
    response = FileResponse(
        found.file.open("rb"), content_type=found.content_type, as_attachment=True, filename=found.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def consult_new(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_thread_patient_for(request.user, public_id)
    viewer = _actor(request)
    others = [u for u in policy.thread_members(patient) if u.pk != viewer.pk]
    if not others:
        raise Http404("Not found")
    zone = zoneinfo.ZoneInfo(viewer.timezone or "UTC")
    with timezone.override(zone):
        form = ConsultForm(request.POST if request.method == "POST" else None, members=others)
        if request.method == "POST" and form.is_valid():
            of = next(u for u in others if str(u.public_id) == form.cleaned_data["of"])
            try:
                threads.request_consult(
                    actor=viewer,
                    patient=patient,
                    of=of,
                    topic=form.cleaned_data["topic"],
                    times=form.times(),
                    form_token=form.cleaned_data["form_token"],
                    meta=audit.RequestMeta.from_request(request),
                )
            except threads.ThreadError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Consult requested. {of.display_name} has been told.")
                return redirect("messaging:thread", patient.public_id)
    if request.method == "GET":
        _audit(request, patient, Action.VIEW, "consult_form", patient.public_id)
    context = {"nav": "patients", "patient": patient, "form": form, "zone": zone.key}
    return render(request, "messaging/consult_new.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def consult_answer(request: HttpRequest, public_id: str, consult_id: str) -> HttpResponse:
    patient = policy.get_thread_patient_for(request.user, public_id)
    consult = (
        ConsultRequest.objects.filter(
            thread__patient=patient, public_id=policy.parse_public_id(consult_id), requested_of=_actor(request)
        )
        .select_related("thread__patient", "requested_by", "appointment")
        .first()
    )
    if consult is None:
        raise Http404("Not found")
    meta = audit.RequestMeta.from_request(request)
    try:
        if request.POST.get("answer") == "decline":
            threads.decline_consult(actor=_actor(request), consult=consult, meta=meta)
            messages.success(request, "Declined. They have been told.")
        else:
            try:
                start = datetime.datetime.fromisoformat(request.POST.get("start", ""))
            except ValueError:
                raise threads.ThreadError("Choose one of the proposed times.") from None
            appointment = threads.accept_consult(actor=_actor(request), consult=consult, start=start, meta=meta)
            messages.success(request, "Booked. The consult is on both calendars.")
            return redirect("scheduling:appointment", appointment.public_id)
    except threads.ThreadError as exc:
        messages.error(request, str(exc))
    return redirect("messaging:thread", patient.public_id)
