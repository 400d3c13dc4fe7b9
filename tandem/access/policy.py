"""Every authorization rule in Tandem.

Views, consumers, commands and APIs ask this module, and only this module,
what a user may see or do. Anything a user may not see is reported exactly as
if it did not exist (``Http404``), so probing IDs reveals nothing.

Who sees which patient:

* Staff of the patient's own practice (practice admin, therapist,
  coordinator) see the practice's patients: one covered entity, treating.
* A prescriber from a psychiatric group sees a patient only while they are on
  that patient's care team *and* their group's partnership with the practice
  is active, both judged by today's date in the practice's time zone.
* A group admin or group coordinator sees the patients of an actively
  partnered practice who have an active care-team member from their group.
* Nobody else, including back-office staff and superusers, who work in
  Django admin and not in the clinical pages.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.organizations.models import (
    ADMIN_ROLES,
    Membership,
    Organization,
    OrganizationKind,
    Partnership,
    Role,
)
from tandem.patients.models import CareTeamMember, Patient, active_on

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tandem.accounts.models import User
    from tandem.credentials.models import Credential

PRACTICE_STAFF_ROLES = {Role.PRACTICE_ADMIN, Role.THERAPIST, Role.COORDINATOR}
GROUP_OVERSIGHT_ROLES = {Role.GROUP_ADMIN, Role.COORDINATOR}


def parse_public_id(value: object) -> uuid.UUID:
    """A UUID from a URL, or 404: a malformed ID is as absent as a missing one."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise Http404("Not found") from None


def _is_signed_in(user: User | AnonymousUser | None) -> TypeGuard[User]:
    return bool(user is not None and user.is_authenticated and user.is_active)


@dataclass(frozen=True)
class Standing:
    """A user's active memberships, read once per request."""

    memberships: tuple[Membership, ...]

    def orgs_with(self, roles: Iterable[str], kind: str | None = None) -> list[Organization]:
        wanted = set(roles)
        return [
            m.organization
            for m in self.memberships
            if m.role in wanted and (kind is None or m.organization.kind == kind)
        ]

    def roles_in(self, organization_id: int) -> set[str]:
        return {m.role for m in self.memberships if m.organization_id == organization_id}

    @property
    def is_admin(self) -> bool:
        return any(m.role in ADMIN_ROLES for m in self.memberships)


def standing(user: User | AnonymousUser | None) -> Standing:
    if not _is_signed_in(user):
        return Standing(memberships=())
    cached = getattr(user, "_tandem_standing", None)
    if cached is not None:
        return cached
    result = Standing(
        memberships=tuple(Membership.objects.filter(user=user, is_active=True).select_related("organization"))
    )
    user._tandem_standing = result  # type: ignore[attr-defined]
    return result


def _active_partnerships(groups: list[Organization], at: datetime.datetime) -> list[Partnership]:
    if not groups:
        return []
    rows = Partnership.objects.filter(group__in=groups).select_related("practice")
    return [p for p in rows if p.is_active_on(p.practice.local_date(at))]


def visible_patients(user: User | AnonymousUser | None, at: datetime.datetime | None = None) -> QuerySet[Patient]:
    """Every patient this user may see now. Lists and searches start here."""
    st = standing(user)
    if not st.memberships or not _is_signed_in(user):
        return Patient.objects.none()
    at = at or timezone.now()
    condition = Q(pk__in=[])

    practices = st.orgs_with(PRACTICE_STAFF_ROLES, OrganizationKind.PRACTICE)
    if practices:
        condition |= Q(practice__in=practices)

    prescriber_groups = st.orgs_with({Role.PRESCRIBER}, OrganizationKind.GROUP)
    for partnership in _active_partnerships(prescriber_groups, at):
        day = partnership.practice.local_date(at)
        on_team = CareTeamMember.objects.filter(
            active_on(day),
            patient=OuterRef("pk"),
            user=user,
            organization_id=partnership.group_id,
        )
        condition |= Q(practice_id=partnership.practice_id) & Q(Exists(on_team))

    oversight_groups = st.orgs_with(GROUP_OVERSIGHT_ROLES, OrganizationKind.GROUP)
    for partnership in _active_partnerships(oversight_groups, at):
        day = partnership.practice.local_date(at)
        group_on_team = CareTeamMember.objects.filter(
            active_on(day), patient=OuterRef("pk"), organization_id=partnership.group_id
        )
        condition |= Q(practice_id=partnership.practice_id) & Q(Exists(group_on_team))

    return Patient.objects.filter(condition)


def get_patient_for(user: User | AnonymousUser | None, public_id: object) -> Patient:
    """The patient, if this user may see them; otherwise 404, as if absent."""
    pid = parse_public_id(public_id)
    try:
        return visible_patients(user).select_related("practice", "payer").get(public_id=pid)
    except Patient.DoesNotExist:
        raise Http404("Not found") from None


def can_view_chart(user: User | AnonymousUser | None, patient: Patient) -> bool:
    return visible_patients(user).filter(pk=patient.pk).exists()


def can_edit_patient(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """Demographics and coverage belong to the patient's practice."""
    return bool(standing(user).roles_in(patient.practice_id) & PRACTICE_STAFF_ROLES)


def can_manage_care_team(user: User | AnonymousUser | None, patient: Patient) -> bool:
    return can_edit_patient(user, patient)


def get_care_team_member_for(user: User | AnonymousUser | None, patient: Patient, public_id: object) -> CareTeamMember:
    """A care-team row the user may change; 404 otherwise."""
    if not can_manage_care_team(user, patient):
        raise Http404("Not found")
    try:
        return CareTeamMember.objects.select_related("user", "patient").get(
            patient=patient, public_id=parse_public_id(public_id)
        )
    except CareTeamMember.DoesNotExist:
        raise Http404("Not found") from None


def practices_for_new_patients(user: User | AnonymousUser | None) -> list[Organization]:
    return standing(user).orgs_with(PRACTICE_STAFF_ROLES, OrganizationKind.PRACTICE)


def administered_organizations(user: User | AnonymousUser | None) -> list[Organization]:
    return standing(user).orgs_with(ADMIN_ROLES)


def get_administered_organization(user: User | AnonymousUser | None, public_id: object) -> Organization:
    pid = parse_public_id(public_id)
    for org in administered_organizations(user):
        if org.public_id == pid:
            return org
    raise Http404("Not found")


def get_membership_for_admin(
    user: User | AnonymousUser | None, organization: Organization, public_id: object
) -> Membership:
    """A membership of an organization the user administers; 404 otherwise."""
    pid = parse_public_id(public_id)
    if organization not in administered_organizations(user):
        raise Http404("Not found")
    try:
        return Membership.objects.select_related("user", "organization").get(organization=organization, public_id=pid)
    except Membership.DoesNotExist:
        raise Http404("Not found") from None


def eligible_care_team_members(patient: Patient, at: datetime.datetime | None = None) -> QuerySet[Membership]:
    """Who could join this patient's care team: the practice's clinicians and
    coordinators, and prescribers and coordinators of actively partnered groups."""
    at = at or timezone.now()
    day = patient.practice.local_date(at)
    groups = [p.group_id for p in Partnership.objects.filter(practice=patient.practice) if p.is_active_on(day)]
    return (
        Membership.objects.filter(is_active=True, user__is_active=True)
        .filter(
            Q(organization=patient.practice, role__in=[Role.THERAPIST, Role.COORDINATOR])
            | Q(organization_id__in=groups, role__in=[Role.PRESCRIBER, Role.COORDINATOR])
        )
        .select_related("user", "organization")
        .order_by("organization__name", "user__full_name")
    )


CREDENTIAL_OVERSIGHT_ROLES = {Role.PRACTICE_ADMIN, Role.GROUP_ADMIN, Role.COORDINATOR}


def credential_overseen_organizations(user: User | AnonymousUser | None) -> list[Organization]:
    """Organizations whose clinicians' credentials this user looks after."""
    return standing(user).orgs_with(CREDENTIAL_OVERSIGHT_ROLES)


def _overseen_clinician_ids(user: User | AnonymousUser | None) -> QuerySet[Membership, Any]:
    """The clinicians (therapists and prescribers) of the organizations the user looks after."""
    return Membership.objects.filter(
        organization__in=credential_overseen_organizations(user),
        is_active=True,
        role__in=[Role.THERAPIST, Role.PRESCRIBER],
    ).values("user_id")


def can_oversee_credentials(user: User | AnonymousUser | None) -> bool:
    return bool(credential_overseen_organizations(user))


def visible_clinicians(user: User | AnonymousUser | None) -> QuerySet[User]:
    """Whose credentials this user may see: their own, and, for the admins and
    coordinators of an organization, those of its clinicians. No one else."""
    from tandem.accounts.models import User as UserModel

    if not _is_signed_in(user):
        return UserModel.objects.none()
    return UserModel.objects.filter(Q(pk=user.pk) | Q(pk__in=_overseen_clinician_ids(user)), is_active=True)


def get_managed_clinician_for(user: User | AnonymousUser | None, public_id: object) -> User:
    """A clinician whose credentials this user may add to and verify: one of the
    organizations the user looks after has them as a clinician. 404 otherwise."""
    from tandem.accounts.models import User as UserModel

    pid = parse_public_id(public_id)
    found = UserModel.objects.filter(pk__in=_overseen_clinician_ids(user), public_id=pid, is_active=True).first()
    if found is None:
        raise Http404("Not found")
    return found


def can_manage_credentials(user: User | AnonymousUser | None, clinician: User) -> bool:
    try:
        get_managed_clinician_for(user, clinician.public_id)
    except Http404:
        return False
    return True


def get_credential_of(clinician: User, kind: str, public_id: object) -> Credential:
    """One credential of a clinician the caller has already been allowed to see; 404 otherwise."""
    from tandem.credentials.models import KIND_MODELS

    model = KIND_MODELS.get(kind)
    found = (
        None
        if model is None
        else model._default_manager.filter(clinician=clinician, public_id=parse_public_id(public_id)).first()
    )
    if found is None:
        raise Http404("Not found")
    return found


def get_clinician_for(user: User | AnonymousUser | None, public_id: object) -> User:
    pid = parse_public_id(public_id)
    found = visible_clinicians(user).filter(public_id=pid).first()
    if found is None:
        raise Http404("Not found")
    return found


def can_view_audit(user: User | AnonymousUser | None) -> bool:
    return standing(user).is_admin


def visible_audit_events(user: User | AnonymousUser | None) -> QuerySet[AuditEvent]:
    """What an admin's audit report covers: events about their practice's
    patients, and events by members of the organizations they administer."""
    orgs = administered_organizations(user)
    if not orgs:
        return AuditEvent.objects.none()
    practice_ids = [o.pk for o in orgs if o.kind == OrganizationKind.PRACTICE]
    patients = Patient.objects.filter(practice_id__in=practice_ids).values("public_id")
    members = Membership.objects.filter(organization__in=orgs).values("user_id")
    return AuditEvent.objects.filter(Q(patient_id__in=patients) | Q(actor_id__in=members))


def can_view_access_history(user: User | AnonymousUser | None, patient: Patient) -> bool:
    return Role.PRACTICE_ADMIN in standing(user).roles_in(patient.practice_id)
