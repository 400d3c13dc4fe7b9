"""Recording diagnoses and working on the treatment plan: atomic, audited,
safe to submit twice.

The plan's lifecycle: a clinician starts a draft (the first version, or a
revision copied from the newest one). Its authors edit it freely. The first
signature locks it; it comes into force when the other discipline signs
too, and the version it replaces is superseded. A change after that is a new
draft. Every function here refuses to touch a locked version, and the
database refuses too (migration 0002).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.lib.once import create_once
from tandem.measures import instruments
from tandem.messaging.services import notify
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.plans import criteria, diagnoses
from tandem.plans.models import (
    LOCKED_MESSAGE,
    SIGNING_DISCIPLINES,
    Comparison,
    Diagnosis,
    DiagnosisStatus,
    Discipline,
    Goal,
    GoalStatus,
    Intervention,
    InterventionStatus,
    Plan,
    PlanSignature,
    PlanVersion,
    VersionStatus,
)

TREATMENT = "treatment"
PLAN_SIGNED = "plan_signed"
PLAN_IN_FORCE = "plan_in_force"
DEFAULT_REVIEW_DAYS = 90


class PlanError(Exception):
    """A diagnosis or plan action refused, with a message for the person."""


def _audit(
    actor: User | None,
    action: str,
    patient: Patient,
    target_type: str,
    target_id: object,
    meta: audit.RequestMeta,
    **detail: Any,
) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=TREATMENT,
        meta=meta,
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or None,
    )


# --- Diagnoses ---------------------------------------------------------------------------


def record_diagnosis(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    code: str,
    status: str,
    diagnosed_on: datetime.date,
    note: str,
    part2: bool,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Diagnosis, bool]:
    entry = diagnoses.lookup(code)
    if entry is None:
        raise PlanError("Choose a diagnosis from the list.")
    if status not in (DiagnosisStatus.PROVISIONAL, DiagnosisStatus.CONFIRMED):
        raise PlanError("A new diagnosis is provisional or confirmed.")
    if diagnosed_on > patient.practice.local_date():
        raise PlanError("The date of diagnosis cannot be in the future.")

    def create() -> Diagnosis:
        row = Diagnosis.objects.create(
            patient=patient,
            organization=organization,
            code=entry.code,
            name=entry.name,
            status=status,
            diagnosed_by=actor,
            diagnosed_on=diagnosed_on,
            part2=part2,
            note=note,
            criteria_set=entry.criteria or "",
            status_changed_by=actor,
            form_token=form_token,
        )
        _audit(actor, Action.CREATE, patient, "diagnosis", row.public_id, meta, code=row.code)
        return row

    try:
        return create_once(Diagnosis, form_token, create, patient=patient, diagnosed_by=actor)
    except IntegrityError:
        raise PlanError(f"{entry.code} is already on the problem list; change its status there.") from None


def change_diagnosis_status(*, actor: User, diagnosis: Diagnosis, status: str, meta: audit.RequestMeta) -> Diagnosis:
    if status not in DiagnosisStatus.values:
        raise PlanError("Choose provisional, confirmed or resolved.")
    if status == diagnosis.status:
        return diagnosis
    try:
        with transaction.atomic():
            changed = Diagnosis.objects.filter(pk=diagnosis.pk, status=diagnosis.status).update(
                status=status, status_changed_by=actor, status_changed_at=timezone.now()
            )
            if not changed:
                raise PlanError("Someone changed this diagnosis a moment ago. Reload to see it.")
            _audit(
                actor,
                Action.UPDATE,
                diagnosis.patient,
                "diagnosis",
                diagnosis.public_id,
                meta,
                status_from=diagnosis.status,
                status_to=status,
            )
    except IntegrityError:
        raise PlanError(f"{diagnosis.code} is already open on the problem list.") from None
    diagnosis.refresh_from_db()
    return diagnosis


def record_criteria(
    *, actor: User, diagnosis: Diagnosis, met: Sequence[str], meta: audit.RequestMeta
) -> criteria.Evaluation:
    """Record which criteria are met, and whether the threshold is reached."""
    if not diagnosis.criteria_set:
        raise PlanError("This diagnosis has no criteria checklist.")
    checklist = criteria.get(diagnosis.criteria_set)
    today = diagnosis.patient.practice.local_date()
    try:
        result = criteria.evaluate(checklist, met, age=diagnosis.patient.age_on(today))
    except criteria.CriteriaError as error:
        raise PlanError(str(error)) from None
    with transaction.atomic():
        Diagnosis.objects.filter(pk=diagnosis.pk).update(
            criteria_met=list(result.met),
            threshold_reached=result.reached,
            criteria_recorded_at=timezone.now(),
            criteria_recorded_by=actor,
        )
        _audit(
            actor,
            Action.UPDATE,
            diagnosis.patient,
            "diagnosis_criteria",
            diagnosis.public_id,
            meta,
            criteria_set=checklist.key,
            reached=result.reached,
        )
    return result


def problem_list_snapshot(rows: Sequence[Diagnosis]) -> list[dict[str, str]]:
    """The open diagnoses a plan version names (never Part 2 ones: the plan is
    shared with the whole team, and Part 2 diagnoses travel only under their
    own consent)."""
    return [
        {"code": d.code, "name": d.name, "status": d.status}
        for d in sorted(rows, key=lambda d: (d.status != DiagnosisStatus.CONFIRMED, d.code))
        if d.status != DiagnosisStatus.RESOLVED and not d.part2
    ]


# --- The plan ----------------------------------------------------------------------------


def _version_for_update(version: PlanVersion) -> PlanVersion:
    """The version, re-read under a row lock; refused once it is locked."""
    current = PlanVersion.objects.select_for_update().select_related("plan__patient").get(pk=version.pk)
    if current.status != VersionStatus.DRAFT:
        raise PlanError(LOCKED_MESSAGE)
    return current


def start_draft(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    problem_list: Sequence[Diagnosis],
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
    sharing: policy.Sharing | None = None,
) -> tuple[PlanVersion, bool]:
    """A new draft version: the first, or a revision copied from the newest
    version. A version awaiting its second signature is withdrawn by it
    (superseded unsigned): the change is what will be signed now. Given the
    actor's ``sharing``, a newest version the patient's consent hides from
    them is neither copied nor withdrawn."""
    existing = PlanVersion.objects.filter(form_token=form_token, plan__patient=patient, created_by=actor).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            plan, _ = Plan.objects.get_or_create(patient=patient)
            Plan.objects.select_for_update().filter(pk=plan.pk).first()
            versions = PlanVersion.objects.filter(plan=plan)
            if versions.filter(status=VersionStatus.DRAFT).exists():
                raise PlanError("A draft of this plan is already open: edit that one.")
            newest = versions.order_by("-number").first()
            if (
                sharing is not None
                and newest is not None
                and not sharing.sees(newest.effective_class, newest.organization_id)
            ):
                raise PlanError(
                    "The patient's consent does not let you see the plan as it stands, so you cannot revise it."
                )
            now = timezone.now()
            if newest is not None and newest.status == VersionStatus.SIGNING:
                PlanVersion.objects.filter(pk=newest.pk).update(status=VersionStatus.SUPERSEDED, ended_at=now)
            number = (versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = PlanVersion.objects.create(
                plan=plan,
                number=number,
                organization=organization,
                created_by=actor,
                based_on=newest,
                summary=newest.summary if newest else "",
                diagnoses=problem_list_snapshot(problem_list),
                review_on=patient.practice.local_date() + datetime.timedelta(days=DEFAULT_REVIEW_DAYS),
                form_token=form_token,
            )
            if newest is not None:
                Goal.objects.bulk_create(
                    Goal(
                        version=version,
                        lineage=g.lineage,
                        position=g.position,
                        text=g.text,
                        discipline=g.discipline,
                        target_date=g.target_date,
                        instrument=g.instrument,
                        comparison=g.comparison,
                        target_score=g.target_score,
                        status=g.status,
                    )
                    for g in newest.goals.all()
                )
                Intervention.objects.bulk_create(
                    Intervention(
                        version=version,
                        lineage=i.lineage,
                        position=i.position,
                        text=i.text,
                        discipline=i.discipline,
                        owner_id=i.owner_id,
                        frequency=i.frequency,
                        status=i.status,
                    )
                    for i in newest.interventions.all()
                )
            _audit(actor, Action.CREATE, patient, "plan_version", version.public_id, meta, number=number)
    except IntegrityError:
        first = PlanVersion.objects.filter(form_token=form_token, plan__patient=patient, created_by=actor).first()
        if first is None:
            raise PlanError("Someone else opened a draft of this plan a moment ago. Reload to see it.") from None
        return first, False
    return version, True


def save_overview(
    *,
    actor: User,
    version: PlanVersion,
    summary: str,
    review_on: datetime.date,
    change_note: str,
    problem_list: Sequence[Diagnosis] | None,
    meta: audit.RequestMeta,
) -> PlanVersion:
    patient = version.plan.patient
    if review_on <= patient.practice.local_date():
        raise PlanError("The review date must be in the future.")
    with transaction.atomic():
        current = _version_for_update(version)
        fields: dict[str, Any] = {
            "summary": summary,
            "review_on": review_on,
            "change_note": change_note,
            "revision": current.revision + 1,
        }
        if problem_list is not None:
            fields["diagnoses"] = problem_list_snapshot(problem_list)
        PlanVersion.objects.filter(pk=current.pk).update(**fields)
        _audit(actor, Action.UPDATE, patient, "plan_version", version.public_id, meta, part="overview")
    version.refresh_from_db()
    return version


def _check_goal(instrument: str, comparison: str, target_score: int | None) -> None:
    if not instrument:
        if comparison or target_score is not None:
            raise PlanError("Choose the questionnaire the target score is on.")
        return
    found = instruments.all_instruments().get(instrument)
    if found is None:
        raise PlanError("Choose a questionnaire from the list.")
    if comparison not in Comparison.values or target_score is None:
        raise PlanError("A measured goal needs a comparison and a target score.")
    if not found.min_total <= target_score <= found.max_total:
        raise PlanError(f"A {found.short_name} score runs from {found.min_total} to {found.max_total}.")


def save_goal(
    *,
    actor: User,
    version: PlanVersion,
    goal: Goal | None,
    text: str,
    discipline: str,
    target_date: datetime.date | None,
    instrument: str,
    comparison: str,
    target_score: int | None,
    status: str,
    meta: audit.RequestMeta,
) -> Goal:
    """Add a goal to a draft, or change one of its goals."""
    if discipline not in Discipline.values:
        raise PlanError("Choose who owns the goal: therapy, medication or shared.")
    if status not in GoalStatus.values:
        raise PlanError("Choose the goal's status.")
    _check_goal(instrument, comparison, target_score)
    fields = {
        "text": text,
        "discipline": discipline,
        "target_date": target_date,
        "instrument": instrument,
        "comparison": comparison,
        "target_score": target_score,
        "status": status,
    }
    with transaction.atomic():
        current = _version_for_update(version)
        if goal is None:
            position = (current.goals.aggregate(n=Max("position"))["n"] or 0) + 1
            goal = Goal.objects.create(version=current, position=position, **fields)
            action = Action.CREATE
        else:
            Goal.objects.filter(pk=goal.pk, version=current).update(**fields)
            action = Action.UPDATE
        PlanVersion.objects.filter(pk=current.pk).update(revision=current.revision + 1)
        _audit(actor, action, current.plan.patient, "plan_goal", version.public_id, meta)
    goal.refresh_from_db()
    return goal


def save_intervention(
    *,
    actor: User,
    version: PlanVersion,
    intervention: Intervention | None,
    text: str,
    discipline: str,
    owner: User,
    frequency: str,
    status: str,
    meta: audit.RequestMeta,
) -> Intervention:
    if discipline not in SIGNING_DISCIPLINES:
        raise PlanError("Choose who delivers it: therapy or medication.")
    if status not in InterventionStatus.values:
        raise PlanError("Choose the intervention's status.")
    patient = version.plan.patient
    if owner.pk not in {u.pk for u in policy.active_team_users(patient)}:
        raise PlanError("The owner must be on the patient's care team.")
    fields = {"text": text, "discipline": discipline, "owner": owner, "frequency": frequency, "status": status}
    with transaction.atomic():
        current = _version_for_update(version)
        if intervention is None:
            position = (current.interventions.aggregate(n=Max("position"))["n"] or 0) + 1
            intervention = Intervention.objects.create(version=current, position=position, **fields)
            action = Action.CREATE
        else:
            Intervention.objects.filter(pk=intervention.pk, version=current).update(**fields)
            action = Action.UPDATE
        PlanVersion.objects.filter(pk=current.pk).update(revision=current.revision + 1)
        _audit(actor, action, patient, "plan_intervention", version.public_id, meta)
    intervention.refresh_from_db()
    return intervention


def remove_item(*, actor: User, version: PlanVersion, item: Goal | Intervention, meta: audit.RequestMeta) -> None:
    with transaction.atomic():
        current = _version_for_update(version)
        type(item).objects.filter(pk=item.pk, version=current).delete()
        PlanVersion.objects.filter(pk=current.pk).update(revision=current.revision + 1)
        kind = "plan_goal" if isinstance(item, Goal) else "plan_intervention"
        _audit(actor, Action.DELETE, current.plan.patient, kind, version.public_id, meta)


def sign(*, actor: User, version: PlanVersion, discipline: str, meta: audit.RequestMeta) -> PlanVersion:
    """The clinician's signature for their discipline. The first locks the
    version; the second brings it into force and supersedes the one before."""
    if discipline not in SIGNING_DISCIPLINES:
        raise PlanError("Only the therapist and the prescriber on the care team sign the plan.")
    patient = version.plan.patient
    with transaction.atomic():
        current = PlanVersion.objects.select_for_update().get(pk=version.pk)
        if current.status not in (VersionStatus.DRAFT, VersionStatus.SIGNING):
            raise PlanError("This version is no longer open for signature.")
        if not current.summary.strip() or not current.goals.exists():
            raise PlanError("A plan needs its summary and at least one goal before it is signed.")
        signed = {s.discipline: s for s in current.signatures.all()}
        if discipline in signed:
            if signed[discipline].signer_id == actor.pk:
                return current  # a second click on the same button
            raise PlanError(f"The {Discipline(discipline).label.lower()} signature is already on this version.")
        if any(s.signer_id == actor.pk for s in signed.values()):
            raise PlanError("You have already signed this version.")
        now = timezone.now()
        PlanSignature.objects.create(version=current, signer=actor, discipline=discipline, signed_at=now)
        complete = set(signed) | {discipline} == set(SIGNING_DISCIPLINES)
        if complete:
            PlanVersion.objects.filter(plan=current.plan, status=VersionStatus.IN_FORCE).update(
                status=VersionStatus.SUPERSEDED, ended_at=now
            )
            PlanVersion.objects.filter(pk=current.pk).update(
                status=VersionStatus.IN_FORCE, in_force_at=now, locked_at=current.locked_at or now
            )
        else:
            PlanVersion.objects.filter(pk=current.pk).update(status=VersionStatus.SIGNING, locked_at=now)
        _audit(actor, Action.SIGN, patient, "plan_version", current.public_id, meta, discipline=discipline)
        current.refresh_from_db()
        _tell_team(actor, current, complete)
    return current


def _tell_team(actor: User, version: PlanVersion, complete: bool) -> None:
    patient = version.plan.patient
    others = [
        u for u in policy.team_who_sees(patient, version.effective_class, version.organization_id) if u.pk != actor.pk
    ]
    if not others:
        return
    link = reverse("plans:version", args=[patient.public_id, version.number])
    if complete:
        text = f"A treatment plan {actor.display_name} signed is now in force for a patient on your care team"
        notify(recipients=others, kind=PLAN_IN_FORCE, text=text, link=link)
    else:
        signed = {s.discipline for s in version.signatures.all()}
        waiting = [u for u in others if policy.plan_signing_discipline(u, patient) not in (None, *signed)]
        if not waiting:
            return
        text = f"{actor.display_name} signed a treatment plan that needs your signature"
        notify(
            recipients=waiting,
            kind=PLAN_SIGNED,
            text=text,
            link=link,
            email_subject="A treatment plan is waiting for your signature in Tandem",
        )
