"""Booking from the chart, the appointment page and its changes, and the week calendar."""

from __future__ import annotations

import datetime
import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.patients.models import Patient
from tandem.records.models import Document
from tandem.records.selectors import encounter_notes
from tandem.scheduling import services
from tandem.scheduling.forms import BookForm, CheckInForm, ReasonForm, RescheduleForm, SearchForm
from tandem.scheduling.models import Appointment, AppointmentType, Participant, Status
from tandem.video.selectors import visit_record

TREATMENT = services.TREATMENT
MAX_SLOTS = 60


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _meta(request: HttpRequest) -> audit.RequestMeta:
    return audit.RequestMeta.from_request(request)


def _record(request: HttpRequest, action: Action, target_type: str, target_id: object, patient: Patient | None) -> None:
    audit.record(
        actor=_actor(request),
        action=action,
        purpose=TREATMENT,
        meta=_meta(request),
        patient_id=patient.public_id if patient else None,
        target_type=target_type,
        target_id=str(target_id),
    )


def _open_slots(
    people: list[User], appointment_type: AppointmentType, start: datetime.datetime, end: datetime.datetime
) -> dict[int, set[datetime.datetime]]:
    """Each person's open starts, from calendars read all at once."""
    calendars = services.calendars(people, start, end)
    return {p.pk: set(services.slots_in(calendars[p.pk], appointment_type, start, end, limit=None)) for p in people}


def _common(open_by: dict[int, set[datetime.datetime]], people: list[User]) -> list[datetime.datetime]:
    """Start times open for every one of these people."""
    sets = [open_by[p.pk] for p in people]
    return sorted(set.intersection(*sets) if sets else set())[:MAX_SLOTS]


@require_http_methods(["GET", "POST"])
@login_required
def book(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    organization = policy.booking_organization(request.user, patient)
    if organization is None:
        raise Http404("Not found")
    types = services.ensure_types(organization)
    # Provider consults are booked from the chart too: about this patient, without them.
    type_ids = [t.pk for t in types if t.is_active]
    today = patient.practice.local_date()
    search = SearchForm(
        request.GET if "appointment_type" in request.GET else None,
        types=type(types[0]).objects.filter(pk__in=type_ids),
        clinicians=policy.schedulable_clinicians(patient),
        today=today,
        state=patient.state,
    )
    context: dict[str, object] = {"nav": "patients", "patient": patient, "search": search, "organization": organization}
    status = 200
    if search.is_bound and search.is_valid():
        data = search.cleaned_data
        people = list(data["clinicians"])
        zone = zoneinfo.ZoneInfo(patient.practice.timezone)
        start = max(timezone.now(), datetime.datetime.combine(data["first_day"], datetime.time.min, tzinfo=zone))
        end = datetime.datetime.combine(
            data["first_day"] + datetime.timedelta(days=data["days"]), datetime.time.min, tzinfo=zone
        )
        attends = data["appointment_type"].with_patient
        refusals = (
            services.prescriber_refusals(people, state=data["expected_state"], at=start, modality=data["modality"])
            if attends
            else []
        )
        context["refusals"] = refusals
        candidates: list[User] = []
        if data["any_eligible"] and attends:
            candidates = services.eligible_alternatives(
                patient, state=data["expected_state"], at=start, modality=data["modality"], exclude=people
            )
            open_by = _open_slots([*people, *candidates], data["appointment_type"], start, end)
            offers = [(c, _common(open_by, [*people, c])[:6]) for c in candidates]
            context["by_clinician"] = sorted((o for o in offers if o[1]), key=lambda o: (o[1][0], o[0].full_name)) + [
                o for o in offers if not o[1]
            ]
        elif refusals:
            context["alternatives"] = services.eligible_alternatives(
                patient, state=data["expected_state"], at=start, modality=data["modality"], exclude=people
            )
        else:
            context["slots"] = _common(_open_slots(people, data["appointment_type"], start, end), people)
        form = BookForm(request.POST if request.method == "POST" else None)
        context["book_form"] = form
        if request.method == "POST" and form.is_valid() and candidates:
            chosen = [c for c in candidates if c.public_id == form.cleaned_data["clinician"]]
            if not chosen:
                form.add_error("clinician", "Choose one of the prescribers offered.")
            people = [*people, *chosen]
        if request.method == "POST":
            if not form.is_valid():
                status = 400
                context["errors"] = ["Choose one of the times offered."]
            elif not refusals or candidates:
                try:
                    if data["weeks"] > 1:
                        result = services.book_series(
                            actor=_actor(request),
                            appointment_type=data["appointment_type"],
                            clinicians=people,
                            patient=patient,
                            starts_at=form.cleaned_data["slot"],
                            weeks=data["weeks"],
                            modality=data["modality"],
                            expected_state=data["expected_state"],
                            skip_taken=data["skip_taken"],
                            meta=_meta(request),
                        )
                        if not result.booked:
                            raise services.BookingRefused(
                                [f"{when:%a %b %d}: {'; '.join(why)}" for when, why in result.skipped]
                            )
                        messages.success(
                            request,
                            f"Booked {len(result.booked)} weekly sessions"
                            + (f"; {len(result.skipped)} weeks were taken and skipped." if result.skipped else "."),
                        )
                        return redirect("scheduling:appointment", result.booked[0].public_id)
                    appointment = services.book(
                        actor=_actor(request),
                        appointment_type=data["appointment_type"],
                        clinicians=people,
                        patient=patient,
                        starts_at=form.cleaned_data["slot"],
                        modality=data["modality"],
                        expected_state=data["expected_state"],
                        form_token=form.cleaned_data["form_token"],
                        meta=_meta(request),
                    )
                except services.SlotTaken as exc:
                    status = 409
                    context["errors"] = [str(exc)]
                    context["slots"] = _common(_open_slots(people, data["appointment_type"], start, end), people)
                except services.BookingRefused as exc:
                    status = 400
                    context["errors"] = exc.reasons
                else:
                    messages.success(request, "Booked. The care team has been told.")
                    return redirect("scheduling:appointment", appointment.public_id)
            else:
                status = 400
    elif search.is_bound or request.method == "POST":
        status = 400
    if request.method == "GET" and status == 200:
        _record(request, Action.VIEW, "booking", patient.public_id, patient)
    return render(request, "scheduling/book.html", context, status=status)


@require_GET
@login_required
def appointment_detail(request: HttpRequest, appointment_id: str) -> HttpResponse:
    participants: list[Participant] = []
    notes: list[Document] = []
    with transaction.atomic():
        appointment, grant = policy.get_appointment_for(request.user, appointment_id)
        participants = list(appointment.participants.select_related("user"))
        takes_part = any(p.user_id == request.user.pk for p in participants)
        patient = appointment.patient
        # The visit's notes, side by side: one per clinician on a co-treatment visit.
        if patient is not None and policy.can_view_chart(request.user, patient):
            ledger = Ledger(policy.sharing_for(request.user, patient))
            notes = encounter_notes(ledger, appointment.pk)
            ledger.write()
        _record(request, Action.VIEW, "appointment", appointment.public_id, appointment.patient)
    can_change = policy.can_change_appointment(request.user, appointment)
    can_write_note = bool(
        takes_part and appointment.patient is not None and policy.can_write_records(request.user, appointment.patient)
    )
    context = {
        "nav": "calendar",
        "appointment": appointment,
        # The video room: its participants enter it; the door says when.
        "video_door": policy.room_door(appointment)
        if takes_part and appointment.modality in policy.VIDEO_MODALITIES
        else None,
        "video_opens": policy.room_window(appointment)[0],
        "patient": appointment.patient,
        "participants": participants,
        "can_change": can_change,
        "cancel_form": ReasonForm(),
        "reschedule_form": RescheduleForm(),
        "check_in_form": CheckInForm(
            initial={"state": appointment.expected_state or (appointment.patient.state if appointment.patient else "")}
        ),
        "started": appointment.starts_at <= timezone.now(),
        # Join and leave times, real duration and connection quality: for the visit's own clinicians.
        "visit_record": visit_record(appointment)
        if takes_part and appointment.modality in policy.VIDEO_MODALITIES
        else None,
        "shared": grant is not None and grant.crosses,
        "notes": notes,
        "can_write_note": can_write_note,
    }
    return render(request, "scheduling/appointment.html", context)


def _changeable(request: HttpRequest, appointment_id: str) -> Appointment:
    appointment, _grant = policy.get_appointment_for(request.user, appointment_id)
    if not policy.can_change_appointment(request.user, appointment):
        raise Http404("Not found")
    return appointment


def _done(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    return redirect("scheduling:appointment", appointment.public_id)


@require_POST
@login_required
def cancel(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = _changeable(request, appointment_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for cancelling (up to 300 characters).")
        return _done(request, appointment)
    try:
        services.cancel(
            actor=_actor(request), appointment=appointment, reason=form.cleaned_data["reason"], meta=_meta(request)
        )
    except services.BookingRefused as exc:
        messages.error(request, " ".join(exc.reasons))
    else:
        messages.success(request, "Cancelled. The care team has been told.")
    return _done(request, appointment)


@require_POST
@login_required
def reschedule(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = _changeable(request, appointment_id)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the new start and a reason.")
        return _done(request, appointment)
    try:
        services.reschedule(
            actor=_actor(request),
            appointment=appointment,
            starts_at=form.cleaned_data["starts_at"],
            reason=form.cleaned_data["reason"],
            meta=_meta(request),
        )
    except (services.BookingRefused, services.SlotTaken) as exc:
        messages.error(request, " ".join(exc.reasons) if isinstance(exc, services.BookingRefused) else str(exc))
    else:
        messages.success(request, "Moved. The care team has been told.")
    return _done(request, appointment)


@require_POST
@login_required
def no_show(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = _changeable(request, appointment_id)
    try:
        services.mark_no_show(actor=_actor(request), appointment=appointment, meta=_meta(request))
    except services.BookingRefused as exc:
        messages.error(request, " ".join(exc.reasons))
    else:
        messages.success(request, "Marked as missed.")
    return _done(request, appointment)


@require_POST
@login_required
def complete(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = _changeable(request, appointment_id)
    try:
        services.complete(actor=_actor(request), appointment=appointment, meta=_meta(request))
    except services.BookingRefused as exc:
        messages.error(request, " ".join(exc.reasons))
    else:
        messages.success(request, "Marked as completed.")
    return _done(request, appointment)


@require_POST
@login_required
def check_in(request: HttpRequest, appointment_id: str) -> HttpResponse:
    appointment = _changeable(request, appointment_id)
    form = CheckInForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say where the patient is and who attests it.")
        return _done(request, appointment)
    try:
        result = services.check_in(
            actor=_actor(request),
            appointment=appointment,
            state=form.cleaned_data["state"],
            attested_by=form.cleaned_data["attested_by"],
            meta=_meta(request),
        )
    except services.BookingRefused as exc:
        messages.error(request, " ".join(exc.reasons))
        return _done(request, appointment)
    if result.allowed:
        messages.success(request, "Checked in.")
        return _done(request, appointment)
    patient = appointment.patient
    assert patient is not None
    context = {
        "nav": "calendar",
        "appointment": result.appointment,
        "patient": patient,
        "reasons": result.reasons,
        "alternatives": services.eligible_alternatives(
            patient,
            state=form.cleaned_data["state"],
            at=timezone.now(),
            modality=appointment.modality,
            exclude=[p.user for p in appointment.participants.select_related("user")],
        ),
        "state": form.cleaned_data["state"],
    }
    return render(request, "scheduling/check_in_blocked.html", context, status=409)


@require_GET
@login_required
def week(request: HttpRequest) -> HttpResponse:
    """The signed-in clinician's week, in their own time zone."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    try:
        first = datetime.date.fromisoformat(request.GET.get("week", "")) if request.GET.get("week") else today
    except ValueError:
        first = today
    monday = first - datetime.timedelta(days=first.weekday())
    start = datetime.datetime.combine(monday, datetime.time.min, tzinfo=tz)
    end = start + datetime.timedelta(days=7)
    rows = list(
        Participant.objects.filter(user=_actor(request), starts_at__lt=end, ends_at__gt=start)
        .select_related("appointment__appointment_type", "appointment__patient")
        .order_by("starts_at")
    )
    days = []
    for i in range(7):
        day = monday + datetime.timedelta(days=i)
        days.append((day, [p.appointment for p in rows if p.starts_at.astimezone(tz).date() == day]))
    audit.record(
        actor=_actor(request), action=Action.LIST, purpose=TREATMENT, meta=_meta(request), target_type="calendar_week"
    )
    context = {
        "nav": "calendar",
        "days": days,
        "monday": monday,
        "previous": monday - datetime.timedelta(days=7),
        "next": monday + datetime.timedelta(days=7),
        "today": today,
        "zone": str(tz),
        "cancelled": Status.CANCELLED,
    }
    return render(request, "scheduling/week.html", context)
