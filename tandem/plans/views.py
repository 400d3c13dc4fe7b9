"""The problem list and the treatment plan pages.

Every page asks ``access/policy.py`` first, answers 404 to anyone who may not
see the patient or the row, records one audit event per view, and notes in
the disclosure ledger what crossed from another organization.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.access import policy
from tandem.access.policy import Sharing
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent.disclosures import Ledger
from tandem.consent.models import Disclosure
from tandem.consent.pdf import pdf_response, render_pdf
from tandem.patients.models import Patient
from tandem.plans import acknowledgement, criteria, progress, services
from tandem.plans import forms as f
from tandem.plans.models import Goal, Intervention, PlanVersion, VersionStatus
from tandem.plans.services import PlanError


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _meta(request: HttpRequest) -> audit.RequestMeta:
    return audit.RequestMeta.from_request(request)


def _viewed(request: HttpRequest, patient: Patient, action: str, target_type: str, target_id: object) -> None:
    audit.record(
        actor=_actor(request),
        action=action,
        purpose=services.TREATMENT,
        meta=_meta(request),
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
    )


def _disclose(sharing: Sharing, rows: list[Any], prefix: str, channel: str = Disclosure.Channel.VIEW) -> None:
    ledger = Ledger(sharing, channel=channel)
    for row in rows:
        ledger.note(row.organization_id, row.effective_class, f"{prefix}:{row.public_id}")
    ledger.write()


def _writer(request: HttpRequest, public_id: str) -> tuple[Patient, Sharing]:
    patient = policy.get_patient_for(request.user, public_id)
    if not policy.can_diagnose(request.user, patient) or policy.record_organization(_actor(request), patient) is None:
        raise Http404("Not found")
    return patient, policy.sharing_for(request.user, patient)


# --- Diagnoses ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def diagnosis_list(request: HttpRequest, public_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    can_write = policy.can_diagnose(request.user, patient)
    if request.method == "POST" and not can_write:
        raise Http404("Not found")
    form = f.DiagnosisForm(request.POST or None, initial={"diagnosed_on": patient.practice.local_date()})
    if request.method == "POST" and form.is_valid():
        organization = policy.record_organization(_actor(request), patient)
        if organization is None:
            raise Http404("Not found")
        data = form.cleaned_data
        try:
            row, _ = services.record_diagnosis(
                actor=_actor(request),
                patient=patient,
                organization=organization,
                code=data["code"],
                status=data["status"],
                diagnosed_on=data["diagnosed_on"],
                note=data["note"],
                part2=data["part2"],
                form_token=data["form_token"],
                meta=_meta(request),
            )
        except PlanError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{row.label} is on the problem list.")
            return redirect("plans:diagnosis", patient.public_id, row.public_id)
    with transaction.atomic():
        sharing = policy.sharing_for(request.user, patient)
        rows = policy.visible_diagnoses(sharing)
        _disclose(sharing, rows, "diagnosis")
        if request.method == "GET":
            _viewed(request, patient, Action.LIST, "diagnoses", patient.public_id)
    context = {
        "nav": "patients",
        "patient": patient,
        "open": [d for d in rows if d.status != "resolved"],
        "resolved": [d for d in rows if d.status == "resolved"],
        "form": form if can_write else None,
    }
    return render(request, "plans/diagnoses.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def diagnosis_detail(request: HttpRequest, public_id: str, diagnosis_id: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    sharing = policy.sharing_for(request.user, patient)
    diagnosis, _grant = policy.get_diagnosis_for(sharing, diagnosis_id)
    can_write = policy.can_diagnose(request.user, patient) and diagnosis.organization_id in sharing.own_org_ids
    checklist = criteria.get(diagnosis.criteria_set) if diagnosis.criteria_set else None
    initial = {f"c_{c}": True for c in diagnosis.criteria_met}
    criteria_form = f.CriteriaForm(initial=initial, checklist=checklist) if checklist else None
    status_form = f.StatusForm(initial={"status": diagnosis.status})
    evaluation = None
    if request.method == "POST":
        if not can_write:
            raise Http404("Not found")
        try:
            if request.POST.get("part") == "criteria" and checklist is not None:
                criteria_form = f.CriteriaForm(request.POST, checklist=checklist)
                if criteria_form.is_valid():
                    evaluation = services.record_criteria(
                        actor=_actor(request), diagnosis=diagnosis, met=criteria_form.met(), meta=_meta(request)
                    )
                    messages.success(request, evaluation.summary)
                    return redirect("plans:diagnosis", patient.public_id, diagnosis.public_id)
            elif request.POST.get("part") == "status":
                status_form = f.StatusForm(request.POST)
                if status_form.is_valid():
                    services.change_diagnosis_status(
                        actor=_actor(request),
                        diagnosis=diagnosis,
                        status=status_form.cleaned_data["status"],
                        meta=_meta(request),
                    )
                    messages.success(request, "The status is saved.")
                    return redirect("plans:diagnosis", patient.public_id, diagnosis.public_id)
            else:
                messages.error(request, "Nothing to save.")
        except PlanError as error:
            messages.error(request, str(error))
    else:
        with transaction.atomic():
            _disclose(sharing, [diagnosis], "diagnosis")
            _viewed(request, patient, Action.VIEW, "diagnosis", diagnosis.public_id)
    if checklist is not None and evaluation is None:
        age = patient.age_on(patient.practice.local_date())
        evaluation = criteria.evaluate(checklist, diagnosis.criteria_met, age=age)
    context = {
        "nav": "patients",
        "patient": patient,
        "diagnosis": diagnosis,
        "checklist": checklist,
        "criteria_form": criteria_form,
        "status_form": status_form,
        "evaluation": evaluation,
        "can_write": can_write,
    }
    return render(request, "plans/diagnosis.html", context, status=400 if request.method == "POST" else 200)


# --- The plan ----------------------------------------------------------------------------


def _team_choices(patient: Patient) -> list[tuple[str, str]]:
    return [(str(u.public_id), u.display_name) for u in policy.active_team_users(patient)]


@require_GET
@login_required
def plan(request: HttpRequest, public_id: str) -> HttpResponse:
    """The plan in force, the version being worked on, and every version."""
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        versions = policy.visible_plan_versions(sharing)
        _disclose(sharing, versions, "plan")
        _viewed(request, patient, Action.LIST, "plan", patient.public_id)
    in_force = next((v for v in versions if v.status == VersionStatus.IN_FORCE), None)
    working = next((v for v in versions if v.status in (VersionStatus.DRAFT, VersionStatus.SIGNING)), None)
    context = {
        "nav": "patients",
        "patient": patient,
        "versions": versions,
        "in_force": in_force,
        "working": working,
        "can_edit": policy.can_write_records(request.user, patient),
        "form_token": uuid.uuid4(),
    }
    return render(request, "plans/plan.html", context)


@require_POST
@login_required
def start_draft(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, sharing = _writer(request, public_id)
    organization = policy.record_organization(_actor(request), patient)
    assert organization is not None
    try:
        token = uuid.UUID(request.POST.get("form_token", ""))
    except ValueError:
        messages.error(request, "This form has expired. Reload the page and try again.")
        return redirect("plans:plan", patient.public_id)
    try:
        version, _ = services.start_draft(
            actor=_actor(request),
            patient=patient,
            organization=organization,
            problem_list=policy.visible_diagnoses(sharing),
            form_token=token,
            meta=_meta(request),
            sharing=sharing,
        )
    except PlanError as error:
        messages.error(request, str(error))
        return redirect("plans:plan", patient.public_id)
    return redirect("plans:version", patient.public_id, version.number)


def _version_context(request: HttpRequest, patient: Patient, sharing: Sharing, version: PlanVersion) -> dict[str, Any]:
    goals = list(version.goals.all())
    interventions = list(version.interventions.select_related("owner"))
    responses = policy.visible_responses(sharing)
    previous = version.based_on
    changes = None
    if previous is not None and sharing.sees(previous.effective_class, previous.organization_id):
        changes = progress.diff(previous, version)
    signatures = list(version.signatures.select_related("signer"))
    acknowledgement_row = getattr(version, "acknowledgement", None) if version.status != VersionStatus.DRAFT else None
    return {
        "patient": patient,
        "version": version,
        "goals": [(g, progress.goal_progress(g, responses)) for g in goals],
        "interventions": interventions,
        "signatures": signatures,
        "signed_disciplines": {s.discipline for s in signatures},
        "acknowledgement": acknowledgement_row,
        "changes": changes,
        "previous": previous,
    }


@require_GET
@login_required
def version_detail(request: HttpRequest, public_id: str, number: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        version, _grant = policy.get_plan_version_for(sharing, number)
        _disclose(sharing, [version], "plan")
        _viewed(request, patient, Action.VIEW, "plan_version", version.public_id)
    context = _version_context(request, patient, sharing, version)
    can_edit = version.is_draft and policy.can_write_records(request.user, patient)
    discipline = policy.plan_signing_discipline(request.user, patient)
    team = _team_choices(patient)
    context.update(
        {
            "nav": "patients",
            "can_edit": can_edit,
            "my_discipline": discipline,
            "can_sign": discipline is not None
            and version.status in (VersionStatus.DRAFT, VersionStatus.SIGNING)
            and discipline not in context["signed_disciplines"],
            "can_acknowledge": version.status == VersionStatus.IN_FORCE
            and context["acknowledgement"] is None
            and policy.can_write_records(request.user, patient),
            "overview_form": f.OverviewForm(
                initial={
                    "revision": version.revision,
                    "summary": version.summary,
                    "review_on": version.review_on,
                    "change_note": version.change_note,
                }
            )
            if can_edit
            else None,
            "goal_form": f.GoalForm() if can_edit else None,
            "goal_forms": [(g, f.GoalForm(prefix=f"g{g.pk}", initial=_goal_initial(g))) for g, _ in context["goals"]]
            if can_edit
            else [],
            "intervention_form": f.InterventionForm(team=team) if can_edit else None,
            "intervention_forms": [
                (i, f.InterventionForm(prefix=f"i{i.pk}", team=team, initial=_intervention_initial(i)))
                for i in context["interventions"]
            ]
            if can_edit
            else [],
            "acknowledge_form": f.AcknowledgeForm(initial={"typed_name": patient.full_name}),
            "send_form": f.SendLinkForm(initial={"channel": "email" if patient.email else "sms"}),
        }
    )
    return render(request, "plans/version.html", context)


def _goal_initial(g: Goal) -> dict[str, Any]:
    return {
        "text": g.text,
        "discipline": g.discipline,
        "target_date": g.target_date,
        "instrument": g.instrument,
        "comparison": g.comparison,
        "target_score": g.target_score,
        "status": g.status,
    }


def _intervention_initial(i: Intervention) -> dict[str, Any]:
    return {
        "text": i.text,
        "discipline": i.discipline,
        "owner": str(i.owner.public_id),
        "frequency": i.frequency,
        "status": i.status,
    }


def _editable(request: HttpRequest, public_id: str, number: str) -> tuple[Patient, Sharing, PlanVersion]:
    patient, sharing = _writer(request, public_id)
    version, _grant = policy.get_plan_version_for(sharing, number)
    return patient, sharing, version


def _errors(form: Any) -> str:
    return "; ".join(
        f"{form.fields[k].label if k in form.fields else ''}: {e}".lstrip(": ")
        for k, errs in form.errors.items()
        for e in errs
    )


@require_POST
@login_required
def edit(request: HttpRequest, public_id: str, number: str) -> HttpResponse:
    """One change to a draft: its overview, a goal or an intervention added,
    changed or removed. A locked version refuses every one."""
    patient, sharing, version = _editable(request, public_id, number)
    part = request.POST.get("part", "")
    actor, meta = _actor(request), _meta(request)
    back = redirect("plans:version", patient.public_id, version.number)
    try:
        if part == "overview":
            overview = f.OverviewForm(request.POST)
            if not overview.is_valid():
                messages.error(request, "Check the overview: " + _errors(overview))
                return back
            if overview.cleaned_data["revision"] != version.revision:
                messages.error(
                    request,
                    "Someone else saved this draft a moment ago. Their version is shown; make your change again.",
                )
                return back
            services.save_overview(
                actor=actor,
                version=version,
                summary=overview.cleaned_data["summary"],
                review_on=overview.cleaned_data["review_on"],
                change_note=overview.cleaned_data["change_note"],
                problem_list=policy.visible_diagnoses(sharing) if overview.cleaned_data["refresh_diagnoses"] else None,
                meta=meta,
            )
        elif part in ("goal", "remove_goal"):
            goal = _item(version.goals.all(), request.POST.get("item", ""))
            if part == "remove_goal":
                if goal is None:
                    raise Http404("Not found")
                services.remove_item(actor=actor, version=version, item=goal, meta=meta)
            else:
                form = f.GoalForm(request.POST, prefix=f"g{goal.pk}" if goal else None)
                if not form.is_valid():
                    messages.error(request, "Check the goal: " + _errors(form))
                    return back
                data = form.cleaned_data
                services.save_goal(
                    actor=actor,
                    version=version,
                    goal=goal,
                    text=data["text"],
                    discipline=data["discipline"],
                    target_date=data["target_date"],
                    instrument=data["instrument"],
                    comparison=data["comparison"],
                    target_score=data["target_score"],
                    status=data["status"],
                    meta=meta,
                )
        elif part in ("intervention", "remove_intervention"):
            item = _item(version.interventions.all(), request.POST.get("item", ""))
            if part == "remove_intervention":
                if item is None:
                    raise Http404("Not found")
                services.remove_item(actor=actor, version=version, item=item, meta=meta)
            else:
                team = policy.active_team_users(patient)
                iform = f.InterventionForm(
                    request.POST,
                    prefix=f"i{item.pk}" if item else None,
                    team=[(str(u.public_id), u.display_name) for u in team],
                )
                if not iform.is_valid():
                    messages.error(request, "Check the intervention: " + _errors(iform))
                    return back
                data = iform.cleaned_data
                owner = next(u for u in team if str(u.public_id) == data["owner"])
                services.save_intervention(
                    actor=actor,
                    version=version,
                    intervention=item,
                    text=data["text"],
                    discipline=data["discipline"],
                    owner=owner,
                    frequency=data["frequency"],
                    status=data["status"],
                    meta=meta,
                )
        else:
            messages.error(request, "Nothing to save.")
            return back
    except PlanError as error:
        messages.error(request, str(error))
        return back
    messages.success(request, "Saved.")
    return back


def _item(rows: Any, lineage: str) -> Any:
    if not lineage:
        return None
    try:
        wanted = uuid.UUID(lineage)
    except ValueError:
        raise Http404("Not found") from None
    found = rows.filter(lineage=wanted).first()
    if found is None:
        raise Http404("Not found")
    return found


@require_POST
@login_required
def sign(request: HttpRequest, public_id: str, number: str) -> HttpResponse:
    patient = policy.get_patient_for(request.user, public_id)
    sharing = policy.sharing_for(request.user, patient)
    version, _grant = policy.get_plan_version_for(sharing, number)
    discipline = policy.plan_signing_discipline(request.user, patient)
    if discipline is None:
        raise Http404("Not found")
    try:
        signed = services.sign(actor=_actor(request), version=version, discipline=discipline, meta=_meta(request))
    except PlanError as error:
        messages.error(request, str(error))
    else:
        if signed.status == VersionStatus.IN_FORCE:
            messages.success(request, f"Signed: version {signed.number} is now in force.")
        else:
            messages.success(request, "Signed. The plan comes into force when the other discipline signs too.")
    return redirect("plans:version", patient.public_id, version.number)


@require_POST
@login_required
def acknowledge(request: HttpRequest, public_id: str, number: str) -> HttpResponse:
    """The patient acknowledges the plan in the office, the clinician witnessing."""
    patient, sharing, version = _editable(request, public_id, number)
    form = f.AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Type the patient's name.")
    else:
        try:
            acknowledgement.in_office(
                actor=_actor(request), version=version, typed_name=form.cleaned_data["typed_name"], meta=_meta(request)
            )
        except PlanError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "The patient's acknowledgement is recorded.")
    return redirect("plans:version", patient.public_id, version.number)


@require_POST
@login_required
def send_link(request: HttpRequest, public_id: str, number: str) -> HttpResponse:
    patient, sharing, version = _editable(request, public_id, number)
    form = f.SendLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose email or text message.")
    else:
        try:
            acknowledgement.send(
                actor=_actor(request), version=version, channel=form.cleaned_data["channel"], meta=_meta(request)
            )
        except PlanError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "The link is on its way to the patient. It works once, for 14 days.")
    return redirect("plans:version", patient.public_id, version.number)


@require_GET
@login_required
def version_pdf(request: HttpRequest, public_id: str, number: str) -> HttpResponse:
    with transaction.atomic():
        patient = policy.get_patient_for(request.user, public_id)
        sharing = policy.sharing_for(request.user, patient)
        version, _grant = policy.get_plan_version_for(sharing, number)
        _disclose(sharing, [version], "plan", channel=Disclosure.Channel.PDF)
        _viewed(request, patient, Action.EXPORT, "plan_pdf", version.public_id)
    context = _version_context(request, patient, sharing, version)
    context.update({"viewer": _actor(request), "generated_at": timezone.now()})
    content = render_pdf("plans/pdf/plan.html", context)
    return pdf_response(content, f"treatment-plan-{patient.mrn}-v{version.number}.pdf")


# --- The patient's link ------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def patient_link(request: HttpRequest, token: str) -> HttpResponse:
    """The patient reads the plan in force and acknowledges it: no account,
    the link is the key, and it works once."""
    link = policy.plan_link_for(token)
    version = link.version
    patient = version.plan.patient
    reason = acknowledgement.refusal(link)
    if reason:
        return render(
            request, "plans/patient_closed.html", {"reason": reason, "practice": patient.practice}, status=410
        )
    form = f.PatientAcknowledgeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            acknowledgement.by_link(link=link, typed_name=form.cleaned_data["typed_name"], meta=_meta(request))
        except PlanError as error:
            form.add_error(None, str(error))
        else:
            return render(request, "plans/patient_done.html", {"practice": patient.practice})
    if request.method == "GET":
        audit.record(
            actor=None,
            action=Action.VIEW,
            purpose=services.TREATMENT,
            meta=_meta(request),
            patient_id=patient.public_id,
            target_type="plan_link",
            target_id=str(version.public_id),
        )
    context = {
        "patient": patient,
        "version": version,
        "goals": list(version.goals.all()),
        "interventions": list(version.interventions.select_related("owner")),
        "signatures": list(version.signatures.select_related("signer")),
        "form": form,
    }
    return render(request, "plans/patient_link.html", context, status=400 if form.errors else 200)
