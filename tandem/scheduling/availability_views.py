"""The clinician's own availability page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.scheduling import availability, services
from tandem.scheduling.forms import HoursForm, RulesForm, TimeOffForm
from tandem.scheduling.models import TimeOff, WeeklyHours


def _clinician(request: HttpRequest) -> User:
    if not policy.can_have_calendar_feed(request.user):  # clinicians keep hours; others have none
        raise Http404("Not found")
    assert isinstance(request.user, User)
    return request.user


def _page(request: HttpRequest, status: int = 200, **forms: object) -> HttpResponse:
    user = _clinician(request)
    rules = services.rules_for(user)
    context = {
        "nav": "calendar",
        "hours": WeeklyHours.objects.filter(clinician=user).order_by("weekday", "start"),
        "time_off": TimeOff.objects.filter(clinician=user, ends_at__gt=timezone.now()).order_by("starts_at"),
        "hours_form": forms.get("hours_form") or HoursForm(initial={"valid_from": timezone.localdate()}),
        "time_off_form": forms.get("time_off_form") or TimeOffForm(),
        "rules_form": forms.get("rules_form")
        or RulesForm(
            initial={
                "buffer_minutes": rules.buffer_minutes,
                "max_per_day": rules.max_per_day,
                "new_patient_per_week": rules.new_patient_per_week,
            }
        ),
        "zone": user.timezone,
    }
    return render(request, "scheduling/availability.html", context, status=status)


@require_GET
@login_required
def availability_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@login_required
def hours_add(request: HttpRequest) -> HttpResponse:
    user = _clinician(request)
    form = HoursForm(request.POST)
    organizations = policy.standing(user).orgs_with({"therapist", "prescriber"})
    if form.is_valid():
        try:
            availability.add_hours(
                actor=user,
                organization=organizations[0],
                meta=audit.RequestMeta.from_request(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Hours added.")
            return redirect("scheduling:availability")
    return _page(request, 400, hours_form=form)


@require_POST
@login_required
def hours_remove(request: HttpRequest, hours_id: str) -> HttpResponse:
    user = _clinician(request)
    hours = WeeklyHours.objects.filter(clinician=user, public_id=policy.parse_public_id(hours_id)).first()
    if hours is None:
        raise Http404("Not found")
    availability.remove_hours(actor=user, hours=hours, meta=audit.RequestMeta.from_request(request))
    messages.success(request, "Hours removed. Booked appointments stay booked.")
    return redirect("scheduling:availability")


@require_POST
@login_required
def time_off_add(request: HttpRequest) -> HttpResponse:
    user = _clinician(request)
    form = TimeOffForm(request.POST)
    if form.is_valid():
        try:
            availability.add_time_off(actor=user, meta=audit.RequestMeta.from_request(request), **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Time off added. Appointments already booked in it are not moved.")
            return redirect("scheduling:availability")
    return _page(request, 400, time_off_form=form)


@require_POST
@login_required
def time_off_remove(request: HttpRequest, time_off_id: str) -> HttpResponse:
    user = _clinician(request)
    off = TimeOff.objects.filter(clinician=user, public_id=policy.parse_public_id(time_off_id)).first()
    if off is None:
        raise Http404("Not found")
    availability.remove_time_off(actor=user, time_off=off, meta=audit.RequestMeta.from_request(request))
    messages.success(request, "Time off removed.")
    return redirect("scheduling:availability")


@require_POST
@login_required
def rules_save(request: HttpRequest) -> HttpResponse:
    user = _clinician(request)
    form = RulesForm(request.POST)
    if form.is_valid():
        availability.set_rules(actor=user, meta=audit.RequestMeta.from_request(request), **form.cleaned_data)
        messages.success(request, "Saved.")
        return redirect("scheduling:availability")
    return _page(request, 400, rules_form=form)
