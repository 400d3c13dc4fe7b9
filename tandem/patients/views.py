"""Patient list, registration, chart and care team."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent import selectors as consent_selectors
from tandem.consent.disclosures import Ledger, write_all
from tandem.messaging import threads
from tandem.patients import selectors, services
from tandem.patients.forms import CareTeamAddForm, CareTeamEndForm, PatientForm
from tandem.patients.models import Patient
from tandem.plans.summary import care_summary
from tandem.records.digest import since_last_visit
from tandem.records.selectors import chart_records
from tandem.reminders.models import ReminderPreference
from tandem.scheduling.models import Appointment

PAGE_SIZE = 50


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _record_view(request: HttpRequest, patient: Patient, target_type: str) -> None:
    audit.record(
        actor=_actor(request),
        action=Action.VIEW,
        purpose=services.TREATMENT,
        meta=audit.RequestMeta.from_request(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=patient.public_id,
    )


@require_GET
@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    mine = request.GET.get("mine") == "1"
    patients = selectors.search_patients(request.user, query=query, mine=mine)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    # What crossed to another organization and the audit event commit together.
    with transaction.atomic():
        rows = list(page.object_list)
        sharing = policy.sharing_for_patients(request.user, rows)
        ledgers = []
        for p in rows:
            ledger = Ledger(sharing[p.pk])
            # Insurance and pronouns are demographics: shown only where they may be.
            p.shows_demographics = ledger.note(p.practice_id, InfoClass.DEMOGRAPHICS, f"patient:{p.public_id}")
            ledgers.append(ledger)
        write_all(ledgers)
        # The search words may be a patient's name: the trail records that a search happened, not what it was.
        audit.record(
            actor=_actor(request),
            action=Action.SEARCH if query else Action.LIST,
            purpose=services.TREATMENT,
            meta=audit.RequestMeta.from_request(request),
            target_type="patient_list",
            detail={"mine": mine, "page": page.number},
        )
    context = {
        "nav": "patients",
        "page": page,
        "rows": rows,
        "query": query,
        "mine": mine,
        "can_register": bool(policy.practices_for_new_patients(request.user)),
    }
    # A history restore wants the whole page back, not just the rows.
    partial = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
    template = "patients/_rows.html" if partial else "patients/list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def patient_create(request: HttpRequest) -> HttpResponse:
    practices = policy.practices_for_new_patients(request.user)
    if not practices:
        raise Http404("Not found")
    form = PatientForm(request.POST if request.method == "POST" else None, practices=practices)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in {"practice", "intake_token"}}
        patient, created = services.patient_create(
            actor=_actor(request),
            practice=form.cleaned_data["practice"],
            data=data,
            intake_token=form.cleaned_data.get("intake_token"),
            meta=audit.RequestMeta.from_request(request),
        )
        if created:
            messages.success(request, f"{patient.full_name} is registered.")
        return redirect("patients:chart", patient.public_id)
    status = 400 if form.errors else 200
    return render(request, "patients/form.html", {"nav": "patients", "form": form, "creating": True}, status=status)


RECORDS_PER_PAGE = 25
ACTIVITY_PER_PAGE = 30


@require_GET
@login_required
def patient_chart(request: HttpRequest, public_id: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        ledger = Ledger(sharing)
        shown = chart_records(ledger)
        appointments = policy.visible_appointments(sharing)
        for a in appointments:
            ledger.note(a.organization_id, InfoClass.APPOINTMENTS, f"appointment:{a.public_id}")
        care = care_summary(ledger)
        ledger.write()
        _record_view(request, patient, "patient_chart")
    team = selectors.care_team(patient)
    referrals = selectors.referrals(request.user, patient)
    today = patient.practice.local_date()
    can_edit = policy.can_edit_patient(request.user, patient)
    context = {
        "nav": "patients",
        "patient": patient,
        "age": patient.age_on(today),
        "shows_demographics": shown.shows_demographics,
        "sharing": sharing,
        "documents": shown.documents,
        "part2_notice": shown.part2_notice,
        "upcoming": [a for a in appointments if a.ends_at >= timezone.now()],
        "open_rooms": _open_rooms(request.user, appointments),
        "past": [a for a in appointments if a.ends_at < timezone.now()][::-1][:20],
        "can_book": policy.booking_organization(request.user, patient, team) is not None,
        "reminders": ReminderPreference.objects.filter(patient=patient).first() if can_edit else None,
        "current_team": [m for m in team if m.is_active_on(today) or m.starts_on > today],
        "past_team": [m for m in team if m.ends_on and m.ends_on < today],
        "records_page": Paginator(shown.documents, RECORDS_PER_PAGE).get_page(request.GET.get("records")),
        "timeline_page": Paginator(
            selectors.timeline(patient, team, shown.documents, referrals), ACTIVITY_PER_PAGE
        ).get_page(request.GET.get("activity")),
        "referrals": [r for r in referrals if r.status != "draft" or r.referred_by_id == request.user.pk],
        "can_refer": policy.can_refer(request.user, patient),
        "can_edit": can_edit,
        "can_manage_team": policy.can_manage_care_team(request.user, patient),
        "can_view_access": policy.can_view_access_history(request.user, patient),
        "can_write": policy.can_write_records(request.user, patient, team),
        "my_drafts": list(policy.own_drafts(request.user, patient)),
        "thread_unread": threads.unread_count(request.user, patient)
        if isinstance(request.user, User) and policy.thread_open_to(request.user, sharing, team)
        else None,
        "digest": since_last_visit(
            request.user,
            team,
            shown.documents,
            appointments,
            changes=care.changes,
            responses=care.responses,
            versions=care.versions,
        )
        if isinstance(request.user, User)
        else None,
        "care": care,
        "can_write_pn": policy.can_write_psychotherapy_notes(request.user, patient),
        "can_break_glass": policy.can_break_glass(request.user, sharing, team),
        "consent": consent_selectors.summary(patient) if policy.can_manage_consent(request.user, patient) else None,
        "today": today,
    }
    return render(request, "patients/chart.html", context)


def _open_rooms(user: object, appointments: list[Appointment]) -> set[int]:
    """The video visits whose room this viewer may enter now, as a participant."""
    return {
        a.pk
        for a in appointments
        if a.modality in policy.VIDEO_MODALITIES
        and any(p.user_id == getattr(user, "pk", None) for p in a.participants.all())
        and policy.room_door(a) == "open"
    }


@require_http_methods(["GET", "POST"])
@login_required
def patient_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_edit_patient(request.user, patient):
        raise Http404("Not found")
    form = PatientForm(
        request.POST if request.method == "POST" else None, instance=patient, practices=[patient.practice]
    )
    if request.method == "POST":
        if form.is_valid():
            # The form has already copied values onto the instance: compare against the stored row.
            stored = type(patient).objects.get(pk=patient.pk)
            changed = services.patient_update(
                actor=_actor(request),
                patient=stored,
                data=form.cleaned_data,
                meta=audit.RequestMeta.from_request(request),
            )
            messages.success(request, "Saved." if changed else "Nothing changed.")
            return redirect("patients:chart", patient.public_id)
        patient.refresh_from_db()
    else:
        _record_view(request, patient, "patient_demographics")
    status = 400 if form.errors else 200
    return render(request, "patients/form.html", {"nav": "patients", "form": form, "patient": patient}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def care_team_add(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_manage_care_team(request.user, patient):
        raise Http404("Not found")
    eligible = policy.eligible_care_team_members(patient)
    form = CareTeamAddForm(
        request.POST if request.method == "POST" else None,
        eligible=eligible,
        initial={"starts_on": patient.practice.local_date()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            member = services.care_team_add(
                actor=_actor(request),
                patient=patient,
                membership=form.cleaned_data["membership"],
                role=form.cleaned_data["role"],
                starts_on=form.cleaned_data["starts_on"],
                ends_on=form.cleaned_data["ends_on"],
                meta=audit.RequestMeta.from_request(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{member.user.display_name} joined the care team.")
            return redirect("patients:chart", patient.public_id)
    elif request.method == "GET":
        _record_view(request, patient, "care_team")
    status = 400 if form.errors else 200
    return render(
        request, "patients/care_team_add.html", {"nav": "patients", "form": form, "patient": patient}, status=status
    )


@require_POST
@login_required
def care_team_end(request: HttpRequest, public_id: str, member_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    member = policy.get_care_team_member_for(request.user, patient, member_id)
    form = CareTeamEndForm(request.POST)
    if form.is_valid():
        try:
            services.care_team_end(
                actor=_actor(request),
                member=member,
                ends_on=form.cleaned_data["ends_on"],
                meta=audit.RequestMeta.from_request(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{member.user.display_name} leaves the care team after {form.cleaned_data['ends_on']:%b %d, %Y}.",
            )
    else:
        messages.error(request, "Enter a valid last day.")
    return redirect("patients:chart", patient.public_id)
