"""Writing patients and care teams. Each service is atomic and audited."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.organizations.models import Membership, Organization, Role
from tandem.patients.models import CareTeamMember, CareTeamRole, Patient

TREATMENT = "treatment"


def _audit(
    actor: User,
    action: Action,
    patient_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID,
    meta: audit.RequestMeta,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=TREATMENT,
        meta=meta,
        patient_id=patient_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )


def _next_mrn(practice: Organization) -> str:
    prefix = "".join(word[0] for word in practice.slug.split("-")[:2]).upper() or "PT"
    # Lock the practice row so two intakes at once cannot draw the same number.
    Organization.objects.select_for_update().filter(pk=practice.pk).first()
    count = Patient.objects.filter(practice=practice).count()
    number = count + 1
    while Patient.objects.filter(practice=practice, mrn=f"{prefix}-{number:06d}").exists():
        number += 1
    return f"{prefix}-{number:06d}"


def patient_create(
    *,
    actor: User,
    practice: Organization,
    data: dict[str, Any],
    intake_token: uuid.UUID | None,
    meta: audit.RequestMeta,
) -> tuple[Patient, bool]:
    """Register a patient. A repeated submit of the same form returns the first
    patient (created=False) instead of registering a twin."""
    if intake_token is not None:
        existing = Patient.objects.filter(intake_token=intake_token, practice=practice).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            patient = Patient(practice=practice, intake_token=intake_token, mrn=_next_mrn(practice), **data)
            patient.full_clean()
            patient.save()
            _audit(actor, Action.CREATE, patient.public_id, "patient", patient.public_id, meta)
    except IntegrityError:
        if intake_token is not None:
            existing = Patient.objects.filter(intake_token=intake_token, practice=practice).first()
            if existing is not None:
                return existing, False
        raise
    return patient, True


def patient_update(*, actor: User, patient: Patient, data: dict[str, Any], meta: audit.RequestMeta) -> list[str]:
    changed = [name for name, value in data.items() if getattr(patient, name) != value]
    if not changed:
        return []
    with transaction.atomic():
        for name in changed:
            setattr(patient, name, data[name])
        patient.updated_at = timezone.now()
        patient.full_clean()
        patient.save()
        # Field names only: the values are health information and stay out of the trail.
        _audit(
            actor,
            Action.UPDATE,
            patient.public_id,
            "patient",
            patient.public_id,
            meta,
            detail={"fields": sorted(changed)},
        )
    return changed


_ROLE_FITS = {
    CareTeamRole.PRIMARY_THERAPIST: {Role.THERAPIST},
    CareTeamRole.THERAPIST: {Role.THERAPIST},
    CareTeamRole.PRESCRIBER: {Role.PRESCRIBER},
    CareTeamRole.COORDINATOR: {Role.COORDINATOR},
}


def care_team_add(
    *,
    actor: User,
    patient: Patient,
    membership: Membership,
    role: str,
    starts_on: datetime.date,
    ends_on: datetime.date | None,
    meta: audit.RequestMeta,
) -> CareTeamMember:
    if membership.role not in _ROLE_FITS[CareTeamRole(role)]:
        raise ValidationError(
            f"A {membership.get_role_display().lower()} cannot join as {CareTeamRole(role).label.lower()}."
        )
    with transaction.atomic():
        today = patient.practice.local_date()
        clash = CareTeamMember.objects.filter(patient=patient, user=membership.user).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=today)
        )
        if clash.exists():
            raise ValidationError(f"{membership.user.display_name} is already on this care team.")
        member = CareTeamMember.objects.create(
            patient=patient,
            user=membership.user,
            organization=membership.organization,
            role=role,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        _audit(
            actor, Action.CREATE, patient.public_id, "care_team_member", member.public_id, meta, detail={"role": role}
        )
    return member


def care_team_end(*, actor: User, member: CareTeamMember, ends_on: datetime.date, meta: audit.RequestMeta) -> None:
    if ends_on < member.starts_on:
        raise ValidationError("The last day cannot be before the first day on the team.")
    with transaction.atomic():
        member.ends_on = ends_on
        member.save(update_fields=["ends_on"])
        _audit(
            actor,
            Action.UPDATE,
            member.patient.public_id,
            "care_team_member",
            member.public_id,
            meta,
            detail={"fields": ["ends_on"]},
        )
