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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from tandem.access.classes import TREATMENT_CLASSES, InfoClass
from tandem.audit.models import AuditEvent
from tandem.consent.models import Authorization, Basis, BreakGlass, SigningLink
from tandem.consent.models import Kind as ConsentKind
from tandem.consent.models import in_force as consent_in_force
from tandem.measures.models import MeasureLink, Response, ResponseStatus
from tandem.medications.models import (
    LabResult,
    MedicationChange,
    Observation,
    PdmpCheck,
    Prescription,
)
from tandem.medications.models import Medication as MedicationModel
from tandem.organizations.models import (
    ADMIN_ROLES,
    CLINICAL_ROLES,
    Membership,
    Organization,
    OrganizationKind,
    Partnership,
    Role,
)
from tandem.patients.models import CareTeamMember, CareTeamRole, Patient, active_on
from tandem.plans.models import Diagnosis, PlanLink, PlanVersion
from tandem.records import note_kinds
from tandem.records.models import Document, NoteStatus, PsychotherapyNote
from tandem.records.note_kinds import NoteKind
from tandem.scheduling.models import Appointment

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tandem.accounts.models import User
    from tandem.credentials.models import Credential
    from tandem.feeds.models import CalendarFeed
    from tandem.medications.models import Medication
    from tandem.referrals.models import Referral
    from tandem.video.models import PatientLink

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


# --- Consent: which classes of information a viewer sees ------------------------------------------------------------
#
# Seeing a patient (above) means knowing who they are: name, date of birth,
# record number, practice and care team. Everything else belongs to an
# information class (tandem.access.classes), and each record to the
# organization whose clinician wrote it. Records of the viewer's own
# organization are theirs to use in treatment; a record of another
# organization crosses over only on a basis: the patient's authorization, the
# practice's choice to share for treatment without one (never psychotherapy
# notes or Part 2), or a clinician's emergency access (never psychotherapy
# notes). Psychotherapy notes are their author's alone unless a
# psychotherapy-notes authorization names the reader.


@dataclass(frozen=True)
class Grant:
    """Why one class of one organization's information is visible to a viewer."""

    basis: str
    authorization_id: int | None = None
    break_glass_id: int | None = None
    purpose: str = ""

    @property
    def crosses(self) -> bool:
        return self.basis not in {OWN_RECORDS, AUTHOR}


OWN_RECORDS = "own"
AUTHOR = "author"
_OWN = Grant(basis=OWN_RECORDS)
_AUTHOR = Grant(basis=AUTHOR)


@dataclass(frozen=True)
class Sharing:
    """What one viewer may see of one patient at one moment."""

    viewer_id: int
    patient: Patient
    at: datetime.datetime
    own_org_ids: frozenset[int]
    treatment_without_authorization: bool
    authorizations: tuple[Authorization, ...]
    break_glass: BreakGlass | None
    team_org_ids: frozenset[int]
    # The viewer's organization in this patient's care: where shared information goes.
    viewer_org_id: int

    def grant(self, info_class: str, source_org_id: int, author_id: int | None = None) -> Grant | None:
        """The basis on which this viewer sees this class of this organization's
        information (for psychotherapy notes, of this author), or None."""
        if info_class == InfoClass.PSYCHOTHERAPY_NOTES:
            if author_id is not None and author_id == self.viewer_id:
                return _AUTHOR
            for a in self.authorizations:
                if (
                    a.kind == ConsentKind.PSYCHOTHERAPY_NOTES
                    and info_class in a.classes
                    and a.recipient_clinician_id == self.viewer_id
                    and a.recipient_id in self.own_org_ids
                    and a.discloser_id == source_org_id
                    and a.source_clinician_id in (None, author_id)
                ):
                    return Grant(basis=Basis.AUTHORIZATION, authorization_id=a.pk, purpose=a.purpose)
            return None
        if source_org_id in self.own_org_ids:
            return _OWN
        for a in self.authorizations:
            if (
                info_class in a.classes
                and a.recipient_clinician_id in (None, self.viewer_id)
                and self._flows(a, source_org_id)
            ):
                return Grant(basis=Basis.AUTHORIZATION, authorization_id=a.pk, purpose=a.purpose)
        if info_class in TREATMENT_CLASSES and self.treatment_without_authorization:
            return Grant(basis=Basis.TREATMENT, purpose="Treatment")
        if self.break_glass is not None:
            return Grant(basis=Basis.EMERGENCY, break_glass_id=self.break_glass.pk, purpose="Emergency treatment")
        return None

    def _flows(self, a: Authorization, source_org_id: int) -> bool:
        if a.discloser_id == source_org_id and a.recipient_id in self.own_org_ids:
            return True
        return a.mutual and a.recipient_id == source_org_id and a.discloser_id in self.own_org_ids

    def sees(self, info_class: str, source_org_id: int, author_id: int | None = None) -> bool:
        return self.grant(info_class, source_org_id, author_id) is not None

    def visible_classes(self, source_org_id: int | None = None) -> frozenset[str]:
        """The classes of one organization's information (the patient's practice
        by default) this viewer sees. Psychotherapy notes count only when an
        authorization covers every note of that organization."""
        source = self.patient.practice_id if source_org_id is None else source_org_id
        return frozenset(c for c in InfoClass.values if self.grant(c, source) is not None)

    @property
    def withheld(self) -> bool:
        """Whether some ordinary treatment information of another organization on
        the care team is not shared with this viewer. It depends on consent
        alone, never on which records exist, so it hints at nothing."""
        sources = ({self.patient.practice_id} | self.team_org_ids) - self.own_org_ids
        return any(self.grant(c, s) is None for s in sources for c in TREATMENT_CLASSES)

    @property
    def names_me_for_psychotherapy_notes(self) -> bool:
        """A psychotherapy-notes authorization in force names this viewer."""
        return any(
            a.kind == ConsentKind.PSYCHOTHERAPY_NOTES and a.recipient_clinician_id == self.viewer_id
            for a in self.authorizations
        )

    @property
    def in_emergency(self) -> bool:
        return self.break_glass is not None


def _sharing_inputs(
    user: User, patients: list[Patient], at: datetime.datetime
) -> tuple[dict[int, list[Authorization]], dict[int, BreakGlass], dict[int, set[int]]]:
    by_zone: dict[str, list[int]] = {}
    for p in patients:
        by_zone.setdefault(p.practice.timezone, []).append(p.pk)
    condition = Q(pk__in=[])
    for zone, ids in by_zone.items():
        condition |= Q(patient_id__in=ids) & consent_in_force(at, zone)
    authorizations: dict[int, list[Authorization]] = {}
    for a in (
        Authorization.objects.filter(condition)
        .only(
            "pk",
            "patient_id",
            "kind",
            "classes",
            "discloser_id",
            "recipient_id",
            "mutual",
            "recipient_clinician_id",
            "source_clinician_id",
            "purpose",
        )
        .order_by("signed_at", "pk")
    ):
        authorizations.setdefault(a.patient_id, []).append(a)
    glass = {
        g.patient_id: g
        for g in BreakGlass.objects.filter(
            patient_id__in=[p.pk for p in patients], user=user, started_at__lte=at, expires_at__gt=at
        ).order_by("started_at")
    }
    team_orgs: dict[int, set[int]] = {}
    for patient_id, org_id in CareTeamMember.objects.filter(patient__in=patients).values_list(
        "patient_id", "organization_id"
    ):
        team_orgs.setdefault(patient_id, set()).add(org_id)
    return authorizations, glass, team_orgs


def sharing_for_patients(
    user: User | AnonymousUser | None, patients: Iterable[Patient], at: datetime.datetime | None = None
) -> dict[int, Sharing]:
    """What the viewer sees of each of these (already visible) patients, in three queries."""
    rows = list(patients)
    if not rows or not _is_signed_in(user):
        return {}
    at = at or timezone.now()
    own = frozenset(m.organization_id for m in standing(user).memberships)
    if not own:
        return {}
    authorizations, glass, team_orgs = _sharing_inputs(user, rows, at)
    return {
        p.pk: Sharing(
            viewer_id=user.pk,
            patient=p,
            at=at,
            own_org_ids=own,
            treatment_without_authorization=not p.practice.treatment_sharing_requires_authorization,
            authorizations=tuple(authorizations.get(p.pk, ())),
            break_glass=glass.get(p.pk),
            team_org_ids=frozenset(team_orgs.get(p.pk, ())),
            viewer_org_id=_viewer_org(own, p, team_orgs.get(p.pk, set())),
        )
        for p in rows
    }


def _viewer_org(own: frozenset[int], patient: Patient, team_orgs: set[int]) -> int:
    if patient.practice_id in own:
        return patient.practice_id
    involved = sorted(own & team_orgs)
    return involved[0] if involved else min(own)


def sharing_for(user: User | AnonymousUser | None, patient: Patient, at: datetime.datetime | None = None) -> Sharing:
    """The classes one viewer sees of one patient they may see, now or at ``at``."""
    found = sharing_for_patients(user, [patient], at).get(patient.pk)
    if found is None:
        raise Http404("Not found")
    return found


def current_documents(patient: Patient) -> QuerySet[Document]:
    """The patient's signed records, each note at its newest signed version:
    drafts are their author's alone, and an amended version lives on only in
    its note's history."""
    return (
        Document.objects.filter(patient=patient, status=NoteStatus.SIGNED)
        .exclude(amended_by__status=NoteStatus.SIGNED)
        .select_related("author", "organization")
    )


def visible_documents(sharing: Sharing) -> list[Document]:
    """The patient's chart records this viewer may see, newest first."""
    return [d for d in current_documents(sharing.patient) if sharing.sees(d.effective_class, d.organization_id)]


def get_document_for(sharing: Sharing, public_id: object) -> tuple[Document, Grant]:
    """A signed record, any version of it (the history links to each); 404 for
    a draft, which only its author reaches, through ``get_draft_for``."""
    pid = parse_public_id(public_id)
    document = (
        Document.objects.filter(patient=sharing.patient, public_id=pid, status=NoteStatus.SIGNED)
        .select_related("author", "organization")
        .first()
    )
    grant = None if document is None else sharing.grant(document.effective_class, document.organization_id)
    if document is None or grant is None:
        raise Http404("Not found")
    return document, grant


def visible_responses(sharing: Sharing) -> list[Response]:
    """The patient's scored questionnaires this viewer may see: assessments
    are their own consent class."""
    rows = Response.objects.filter(patient=sharing.patient, status=ResponseStatus.COMPLETE).select_related(
        "administered_by", "organization"
    )
    return [r for r in rows if sharing.sees(InfoClass.ASSESSMENTS, r.organization_id)]


def get_draft_for(user: User | AnonymousUser | None, patient: Patient, public_id: object) -> Document:
    """A draft note of this patient, for its author while they may still write
    in the chart; 404 for anyone else, and for a note already signed."""
    pid = parse_public_id(public_id)
    if not _is_signed_in(user) or not can_write_records(user, patient):
        raise Http404("Not found")
    draft = (
        Document.objects.filter(patient=patient, public_id=pid, author=user, status=NoteStatus.DRAFT)
        .select_related("patient", "author", "organization", "amends", "encounter")
        .first()
    )
    if draft is None:
        raise Http404("Not found")
    return draft


def own_drafts(user: User | AnonymousUser | None, patient: Patient | None = None) -> QuerySet[Document]:
    """This user's unsigned notes, oldest first (of one patient, or all)."""
    if not _is_signed_in(user):
        return Document.objects.none()
    rows = Document.objects.filter(author=user, status=NoteStatus.DRAFT)
    if patient is not None:
        rows = rows.filter(patient=patient)
    return rows.select_related("patient").order_by("created_at", "pk")


# An unsigned note is due after three days; after a week its organization's admins see it too.
NOTE_SIGN_DUE = datetime.timedelta(hours=72)
NOTE_ESCALATE = datetime.timedelta(days=7)


def overdue_drafts(user: User | AnonymousUser | None, at: datetime.datetime | None = None) -> list[Document]:
    """This clinician's notes left unsigned for more than 72 hours."""
    cutoff = (at or timezone.now()) - NOTE_SIGN_DUE
    return list(own_drafts(user).filter(created_at__lt=cutoff))


def escalated_drafts(user: User | AnonymousUser | None, at: datetime.datetime | None = None) -> list[Document]:
    """For an organization's admins: notes its clinicians have left unsigned
    for more than a week (who, for whom, since when; never the text)."""
    organizations = administered_organizations(user)
    if not organizations:
        return []
    cutoff = (at or timezone.now()) - NOTE_ESCALATE
    return list(
        Document.objects.filter(organization__in=organizations, status=NoteStatus.DRAFT, created_at__lt=cutoff)
        .select_related("author", "patient", "organization")
        .order_by("created_at", "pk")
    )


def visible_psychotherapy_notes(sharing: Sharing) -> list[PsychotherapyNote]:
    rows = PsychotherapyNote.objects.filter(patient=sharing.patient).select_related("author")
    return [n for n in rows if sharing.sees(InfoClass.PSYCHOTHERAPY_NOTES, n.organization_id, n.author_id)]


def get_psychotherapy_note_for(sharing: Sharing, public_id: object) -> tuple[PsychotherapyNote, Grant]:
    pid = parse_public_id(public_id)
    note = PsychotherapyNote.objects.filter(patient=sharing.patient, public_id=pid).select_related("author").first()
    grant = None if note is None else sharing.grant(InfoClass.PSYCHOTHERAPY_NOTES, note.organization_id, note.author_id)
    if note is None or grant is None:
        raise Http404("Not found")
    return note, grant


def _my_team_rows(
    user: User, patient: Patient, organizations: list[Organization], team: Sequence[CareTeamMember] | None
) -> list[CareTeamMember]:
    """The user's care-team rows for this patient, active today, through these
    organizations. A page that already holds the whole team passes it in."""
    day = patient.practice.local_date()
    if team is not None:
        wanted = {o.pk for o in organizations}
        return [m for m in team if m.user_id == user.pk and m.organization_id in wanted and m.is_active_on(day)]
    return list(
        CareTeamMember.objects.filter(
            active_on(day), patient=patient, user=user, organization__in=organizations
        ).select_related("organization")
    )


def can_write_records(
    user: User | AnonymousUser | None, patient: Patient, team: Sequence[CareTeamMember] | None = None
) -> bool:
    """Clinicians write in the chart: the practice's therapists, and prescribers on the care team."""
    if not _is_signed_in(user):
        return False
    st = standing(user)
    if Role.THERAPIST in st.roles_in(patient.practice_id):
        return True
    return bool(_my_team_rows(user, patient, st.orgs_with(CLINICAL_ROLES), team))


def writable_note_kinds(user: User | AnonymousUser | None, patient: Patient) -> list[NoteKind]:
    """The note templates this clinician may start for this patient: by their
    role in the organization they write for."""
    if not _is_signed_in(user) or not can_write_records(user, patient):
        return []
    organization = record_organization(user, patient)
    if organization is None:
        return []
    return note_kinds.kinds_for(standing(user).roles_in(organization.pk) & CLINICAL_ROLES)


def note_encounters(user: User, patient: Patient, at: datetime.datetime | None = None) -> list[Appointment]:
    """The visits of this patient a note of this clinician may belong to: those
    they took part in, from 30 days back to today, newest first."""
    now = at or timezone.now()
    return list(
        Appointment.objects.filter(
            patient=patient,
            participants__user=user,
            starts_at__gte=now - datetime.timedelta(days=30),
            starts_at__lte=now + datetime.timedelta(hours=12),
        )
        .exclude(status="cancelled")
        .select_related("appointment_type")
        .order_by("-starts_at")
        .distinct()
    )


def can_use_thread(user: User | AnonymousUser | None, patient: Patient, at: datetime.datetime | None = None) -> bool:
    """The care team's thread about a patient: for its active members, while
    the patient's consent lets clinical notes travel between every
    organization on the team (a thread carries the same kind of information).
    A revoked authorization closes the thread to the other side."""
    if not _is_signed_in(user):
        return False
    team = list(CareTeamMember.objects.filter(active_on(patient.practice.local_date()), patient=patient))
    if not any(m.user_id == user.pk for m in team) or not can_view_chart(user, patient):
        return False
    return thread_open_to(user, sharing_for(user, patient, at), team)


def thread_open_to(user: User, sharing: Sharing, team: Sequence[CareTeamMember]) -> bool:
    """``can_use_thread`` for a page that already holds the viewer's sharing
    and the patient's whole care team (a chart)."""
    day = sharing.patient.practice.local_date()
    active = [m for m in team if m.is_active_on(day)]
    if not any(m.user_id == user.pk for m in active):
        return False
    others = {m.organization_id for m in active} - sharing.own_org_ids
    return all(sharing.sees(InfoClass.PROGRESS_NOTES, org_id) for org_id in others)


def active_team_users(patient: Patient) -> list[User]:
    """The patient's active care-team members, in one query."""
    members = CareTeamMember.objects.filter(active_on(patient.practice.local_date()), patient=patient).select_related(
        "user"
    )
    return list({m.user_id: m.user for m in members if m.user.is_active}.values())


def team_who_sees(patient: Patient, info_class: str, source_org_id: int) -> list[User]:
    """The patient's active care-team members who may see this class of this
    organization's information now: who is told of a note, an alert, a review."""
    return [
        u
        for u in active_team_users(patient)
        if can_view_chart(u, patient) and sharing_for(u, patient).sees(info_class, source_org_id)
    ]


def thread_members(patient: Patient) -> list[User]:
    """Who is in the patient's thread now: active care-team members who may use it."""
    return [u for u in active_team_users(patient) if can_use_thread(u, patient)]


def get_thread_patient_for(user: User | AnonymousUser | None, public_id: object) -> Patient:
    patient = get_patient_for(user, public_id)
    if not can_use_thread(user, patient):
        raise Http404("Not found")
    return patient


def can_write_psychotherapy_notes(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """The practice's therapists keep psychotherapy notes on its patients."""
    return Role.THERAPIST in standing(user).roles_in(patient.practice_id)


def record_organization(user: User, patient: Patient) -> Organization | None:
    """The organization a clinician writes for, for this patient."""
    st = standing(user)
    if Role.THERAPIST in st.roles_in(patient.practice_id):
        return patient.practice
    member = (
        CareTeamMember.objects.filter(active_on(patient.practice.local_date()), patient=patient, user=user)
        .select_related("organization")
        .first()
    )
    return None if member is None else member.organization


def can_manage_consent(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """The patient's practice prepares, collects and revokes authorizations."""
    return can_edit_patient(user, patient)


def get_authorization_for(user: User | AnonymousUser | None, patient: Patient, public_id: object) -> Authorization:
    if not can_manage_consent(user, patient):
        raise Http404("Not found")
    found = (
        Authorization.objects.filter(patient=patient, public_id=parse_public_id(public_id))
        .select_related("discloser", "recipient", "recipient_clinician", "source_clinician", "patient__practice")
        .first()
    )
    if found is None:
        raise Http404("Not found")
    return found


def can_break_glass(
    user: User | AnonymousUser | None, sharing: Sharing, team: Sequence[CareTeamMember] | None = None
) -> bool:
    """A clinician on the care team today, missing consent, not already in an emergency grant."""
    if not _is_signed_in(user) or sharing.in_emergency or not sharing.withheld:
        return False
    return bool(_my_team_rows(user, sharing.patient, standing(user).orgs_with(CLINICAL_ROLES), team))


def can_view_disclosures(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """The accounting of disclosures is the practice's to give the patient."""
    return can_edit_patient(user, patient)


def privacy_review_organizations(user: User | AnonymousUser | None) -> list[Organization]:
    """Practices whose emergency-access uses this admin reviews."""
    return standing(user).orgs_with({Role.PRACTICE_ADMIN}, OrganizationKind.PRACTICE)


def signing_link_for(token: str) -> SigningLink:
    """The patient's signing link: the token alone is the permission, and only
    while the link is unused, unexpired and not withdrawn (else LinkRefused)."""
    from tandem.consent.services import open_link

    return open_link(token)


def signed_copy_for(token: str) -> SigningLink:
    """The signer's own copy, through the link they signed with, for a short while."""
    from tandem.consent.services import copy_link

    return copy_link(token)


def get_break_glass_for_review(user: User | AnonymousUser | None, public_id: object) -> BreakGlass:
    found = (
        BreakGlass.objects.filter(
            public_id=parse_public_id(public_id), patient__practice__in=privacy_review_organizations(user)
        )
        .select_related("patient", "user", "organization")
        .first()
    )
    if found is None:
        raise Http404("Not found")
    return found


# --- Appointments ---------------------------------------------------------------------------------
#
# An appointment belongs to the organization whose appointment type it uses.
# Its participants always see it. Other viewers of the patient see it when
# they may see that organization's appointments (consent class
# "appointments"); a provider consult, which has no patient, only its
# participants see.


def visible_appointments(sharing: Sharing) -> list[Appointment]:
    rows = (
        Appointment.objects.filter(patient=sharing.patient)
        .select_related("appointment_type", "organization", "patient")
        .prefetch_related("participants__user")
        .order_by("starts_at", "id")
    )
    return [
        a
        for a in rows
        if any(p.user_id == sharing.viewer_id for p in a.participants.all())
        or sharing.sees(InfoClass.APPOINTMENTS, a.organization_id)
    ]


def get_appointment_for(user: User | AnonymousUser | None, public_id: object) -> tuple[Appointment, Grant | None]:
    """The appointment and, for a non-participant, the basis they see it on; 404 otherwise."""
    if not _is_signed_in(user):
        raise Http404("Not found")
    appointment = (
        Appointment.objects.filter(public_id=parse_public_id(public_id))
        .select_related("appointment_type", "organization", "patient__practice", "patient__payer", "created_by")
        .first()
    )
    if appointment is None:
        raise Http404("Not found")
    if appointment.participants.filter(user=user).exists():
        return appointment, None
    patient = appointment.patient
    if patient is None or not visible_patients(user).filter(pk=patient.pk).exists():
        raise Http404("Not found")
    grant = sharing_for(user, patient).grant(InfoClass.APPOINTMENTS, appointment.organization_id)
    if grant is None:
        raise Http404("Not found")
    return appointment, grant


def booking_organization(
    user: User | AnonymousUser | None, patient: Patient, team: Sequence[CareTeamMember] | None = None
) -> Organization | None:
    """The organization a user books this patient's appointments for: the
    practice for its staff, or the group of a care-team member."""
    if not _is_signed_in(user):
        return None
    if can_edit_patient(user, patient):
        return patient.practice
    rows = _my_team_rows(user, patient, standing(user).orgs_with({Role.PRESCRIBER, Role.COORDINATOR}), team)
    return rows[0].organization if rows else None


def can_change_appointment(user: User | AnonymousUser | None, appointment: Appointment) -> bool:
    """Its participants, and the staff of its organization who keep the schedule."""
    if not _is_signed_in(user):
        return False
    if appointment.participants.filter(user=user).exists():
        return True
    return bool(
        standing(user).roles_in(appointment.organization_id)
        & {Role.PRACTICE_ADMIN, Role.GROUP_ADMIN, Role.COORDINATOR, Role.THERAPIST}
    )


def schedulable_clinicians(patient: Patient) -> QuerySet[User]:
    """Who can be booked for this patient: clinicians on the care team today,
    and the practice's therapists."""
    from tandem.accounts.models import User as UserModel

    day = patient.practice.local_date()
    team = CareTeamMember.objects.filter(active_on(day), patient=patient).values("user_id")
    practice_therapists = Membership.objects.filter(
        organization=patient.practice, role=Role.THERAPIST, is_active=True
    ).values("user_id")
    clinical = Membership.objects.filter(role__in=list(CLINICAL_ROLES), is_active=True).values("user_id")
    return UserModel.objects.filter(
        Q(pk__in=team) | Q(pk__in=practice_therapists), pk__in=clinical, is_active=True
    ).order_by("full_name")


# --- Calendar feeds -----------------------------------------------------------------------------


def can_have_calendar_feed(user: User | AnonymousUser | None) -> bool:
    """Clinicians (therapists and prescribers with an active membership) keep a feed of their own appointments."""
    return bool(standing(user).orgs_with(CLINICAL_ROLES))


def calendar_feed_for(token: str) -> CalendarFeed:
    """The feed a token opens: the token alone is the permission, and only while
    the feed is not revoked and its owner is still an active clinician. Anything
    else is a 404, alike for unknown, revoked and former clinicians' links."""
    from tandem.feeds.models import CalendarFeed as FeedModel
    from tandem.lib import tokens

    if not token or len(token) > tokens.MAX_LENGTH:
        raise Http404("Not found")
    feed = (
        FeedModel.objects.filter(token_hash=tokens.token_hash(token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if feed is None or not feed.user.is_active or not can_have_calendar_feed(feed.user):
        raise Http404("Not found")
    return feed


# --- Referrals ----------------------------------------------------------------------------------
# A practice refers its patient to all of its active partner groups at once.
# The referring side is the practice's staff; the receiving side is the
# coordinators and admins of those groups, who see a referral once it is
# submitted (never a draft). The prescriber who takes it may read it. Each
# part of a referral crosses to the group only on the basis the consent gate
# gives (``referral_sharing``).

REFERRING = "referring"
RECEIVING = "receiving"
BOOKING_THERAPIST = "booking_therapist"
SYSTEM = "system"


def receiving_groups(practice: Organization, at: datetime.datetime | None = None) -> list[Organization]:
    """The psychiatric groups a practice's referrals go to: its active partners."""
    day = practice.local_date(at)
    rows = Partnership.objects.filter(practice=practice).select_related("group__referral_settings")
    return sorted({p.group.pk: p.group for p in rows if p.is_active_on(day)}.values(), key=lambda g: g.name)


def can_refer(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """The practice's therapists, coordinators and admins refer its patients."""
    return bool(standing(user).roles_in(patient.practice_id) & PRACTICE_STAFF_ROLES)


def _therapists_may_book(group: Organization) -> bool:
    from tandem.referrals.models import settings_of

    return settings_of(group).therapists_may_book


def referral_sides(
    user: User | AnonymousUser | None, referral: Referral, groups: list[Organization] | None = None
) -> frozenset[str]:
    """Which sides of this referral the user acts on (empty: none)."""
    from tandem.referrals.models import State

    if not _is_signed_in(user):
        return frozenset()
    st = standing(user)
    sides: set[str] = set()
    practice_roles = st.roles_in(referral.practice_id)
    if practice_roles & PRACTICE_STAFF_ROLES:
        sides.add(REFERRING)
    if referral.status != State.DRAFT:
        groups = receiving_groups(referral.practice) if groups is None else groups
        oversight = {o.pk for o in st.orgs_with(GROUP_OVERSIGHT_ROLES, OrganizationKind.GROUP)}
        if oversight & {g.pk for g in groups}:
            sides.add(RECEIVING)
        if Role.THERAPIST in practice_roles and any(_therapists_may_book(g) for g in groups):
            sides.add(BOOKING_THERAPIST)
    return frozenset(sides)


def visible_referrals(user: User | AnonymousUser | None, at: datetime.datetime | None = None) -> QuerySet[Referral]:
    """Referrals this user may see: their practice's, those sent to their
    group (not drafts), and those they took as the prescriber."""
    from tandem.referrals.models import Referral, State

    if not _is_signed_in(user):
        return Referral.objects.none()
    st = standing(user)
    at = at or timezone.now()
    condition = Q(practice__in=st.orgs_with(PRACTICE_STAFF_ROLES, OrganizationKind.PRACTICE))
    oversight = st.orgs_with(GROUP_OVERSIGHT_ROLES, OrganizationKind.GROUP)
    partnered = [p.practice_id for p in _active_partnerships(oversight, at)]
    if partnered:
        condition |= Q(practice_id__in=partnered) & ~Q(status=State.DRAFT)
    prescribing = st.orgs_with({Role.PRESCRIBER}, OrganizationKind.GROUP)
    if prescribing:
        condition |= Q(prescriber=user) & ~Q(status=State.DRAFT)
    return Referral.objects.filter(condition)


def get_referral_for(user: User | AnonymousUser | None, public_id: object) -> Referral:
    """The referral, if this user may see it; otherwise 404."""
    found = (
        visible_referrals(user)
        .filter(public_id=parse_public_id(public_id))
        .select_related(
            "patient__practice", "patient__payer", "practice", "referred_by", "payer", "prescriber", "group"
        )
        .first()
    )
    if found is None:
        raise Http404("Not found")
    return found


def referral_sharing(
    patient: Patient, organization_id: int, viewer_id: int = 0, at: datetime.datetime | None = None
) -> Sharing:
    """What the patient's consent lets one organization (and, with
    ``viewer_id``, one of its clinicians) see of the practice's information,
    whether or not anyone there treats the patient yet."""
    at = at or timezone.now()
    authorizations = tuple(
        Authorization.objects.filter(Q(patient=patient) & consent_in_force(at, patient.practice.timezone)).order_by(
            "signed_at", "pk"
        )
    )
    return Sharing(
        viewer_id=viewer_id,
        patient=patient,
        at=at,
        own_org_ids=frozenset({organization_id}),
        treatment_without_authorization=not patient.practice.treatment_sharing_requires_authorization,
        authorizations=authorizations,
        break_glass=None,
        team_org_ids=frozenset(),
        viewer_org_id=organization_id,
    )


# Access measures: a practice's admins see its referrals' figures; a group's
# admins and coordinators those of its partner practices.
METRICS_PRACTICE_ROLES = {Role.PRACTICE_ADMIN}
METRICS_GROUP_ROLES = {Role.GROUP_ADMIN, Role.COORDINATOR}


def can_view_referral_metrics(user: User | AnonymousUser | None) -> bool:
    st = standing(user)
    return bool(
        st.orgs_with(METRICS_PRACTICE_ROLES, OrganizationKind.PRACTICE)
        or st.orgs_with(METRICS_GROUP_ROLES, OrganizationKind.GROUP)
    )


def referral_metrics_scope(
    user: User | AnonymousUser | None, at: datetime.datetime | None = None
) -> QuerySet[Referral]:
    """The referrals the measures cover for this user: those they may see
    (``policy.visible_referrals``) and see as an admin or coordinator, never
    those they see only as a therapist or as the prescriber who took one."""
    st = standing(user)
    practices = st.orgs_with(METRICS_PRACTICE_ROLES, OrganizationKind.PRACTICE)
    groups = st.orgs_with(METRICS_GROUP_ROLES, OrganizationKind.GROUP)
    if not practices and not groups:
        return visible_referrals(None)
    condition = Q(pk__in=[])
    if practices:
        condition |= Q(practice__in=practices)
    if groups:
        # Whether each partnership is active today is visible_referrals' check.
        condition |= Q(practice__in=Partnership.objects.filter(group__in=groups).values("practice"))
    return visible_referrals(user, at).filter(condition)


# --- Video rooms --------------------------------------------------------------------------------
# Only an appointment's participants enter its room, and only while it is open:
# from VIDEO_ROOM_OPENS_MINUTES before the start to VIDEO_ROOM_CLOSES_MINUTES
# after the end. The patient enters through their link, which works for that
# room alone and only until it closes.

VIDEO_MODALITIES = frozenset({"video_home", "video_office"})
ROOM_STATUSES = frozenset({"booked", "checked_in"})


def room_window(appointment: Appointment) -> tuple[datetime.datetime, datetime.datetime]:
    from django.conf import settings

    return (
        appointment.starts_at - datetime.timedelta(minutes=settings.VIDEO_ROOM_OPENS_MINUTES),
        appointment.ends_at + datetime.timedelta(minutes=settings.VIDEO_ROOM_CLOSES_MINUTES),
    )


def room_door(appointment: Appointment, at: datetime.datetime | None = None) -> str:
    """ "early", "open" or "closed": what a rightful participant is told."""
    at = at or timezone.now()
    opens, closes = room_window(appointment)
    if appointment.status not in ROOM_STATUSES or at >= closes:
        return "closed"
    return "early" if at < opens else "open"


def get_video_appointment_for(user: User | AnonymousUser | None, public_id: object) -> Appointment:
    """A video appointment this clinician takes part in; 404 for anyone else,
    and for appointments that are not by video."""
    if not _is_signed_in(user):
        raise Http404("Not found")
    appointment = (
        Appointment.objects.filter(
            public_id=parse_public_id(public_id), modality__in=VIDEO_MODALITIES, participants__user=user
        )
        .select_related("appointment_type", "patient__practice")
        .first()
    )
    if appointment is None:
        raise Http404("Not found")
    return appointment


def measure_link_for(token: str) -> MeasureLink:
    """The questionnaire link a token opens, whatever its state (the page
    says why a used or expired one no longer opens); 404 for anything else."""
    from tandem.lib import tokens

    if not token or len(token) > tokens.MAX_LENGTH:
        raise Http404("Not found")
    link = (
        MeasureLink.objects.filter(token_hash=tokens.token_hash(token))
        .select_related("patient__practice", "organization")
        .first()
    )
    if link is None:
        raise Http404("Not found")
    return link


def patient_link_for(token: str) -> PatientLink:
    """The link a token opens, whatever its state (the caller tells an expired
    link apart, with a clear page); 404 for a token that opens nothing."""
    from tandem.lib import tokens
    from tandem.video.models import PatientLink as LinkModel

    if not token or len(token) > tokens.MAX_LENGTH:
        raise Http404("Not found")
    link = (
        LinkModel.objects.filter(token_hash=tokens.token_hash(token))
        .select_related("room__appointment__patient__practice", "room__appointment__appointment_type")
        .first()
    )
    if link is None or link.room.appointment.modality not in VIDEO_MODALITIES:
        raise Http404("Not found")
    return link


# --- Diagnoses, the treatment plan and medications ---------------------------------------
#
# Each is its own consent class: diagnoses (Part 2 when a Part 2 program made
# them), the care plan, and the medication list (Part 2 for substance-use
# treatment from a Part 2 program). A row belongs to the organization of the
# clinician who wrote it; the other side sees it as the patient's consent allows.

PLAN_SIGNING_ROLES = {
    CareTeamRole.PRIMARY_THERAPIST: "therapy",
    CareTeamRole.THERAPIST: "therapy",
    CareTeamRole.PRESCRIBER: "medication",
}


def _visible(sharing: Sharing, rows: Iterable[Any]) -> list[Any]:
    return [r for r in rows if sharing.sees(r.effective_class, r.organization_id)]


def _one_visible(sharing: Sharing, row: Any) -> tuple[Any, Grant]:
    grant = None if row is None else sharing.grant(row.effective_class, row.organization_id)
    if row is None or grant is None:
        raise Http404("Not found")
    return row, grant


def visible_diagnoses(sharing: Sharing) -> list[Diagnosis]:
    """The patient's problem list as this viewer may see it."""
    return _visible(sharing, Diagnosis.objects.filter(patient=sharing.patient).select_related("diagnosed_by"))


def get_diagnosis_for(sharing: Sharing, public_id: object) -> tuple[Diagnosis, Grant]:
    pid = parse_public_id(public_id)
    return _one_visible(
        sharing,
        Diagnosis.objects.filter(patient=sharing.patient, public_id=pid)
        .select_related("diagnosed_by", "status_changed_by", "criteria_recorded_by")
        .first(),
    )


def can_diagnose(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """Clinicians who write in the chart record diagnoses."""
    return can_write_records(user, patient)


def visible_plan_versions(sharing: Sharing) -> list[PlanVersion]:
    """The versions of the patient's plan this viewer may see, newest first."""
    return _visible(
        sharing,
        PlanVersion.objects.filter(plan__patient=sharing.patient).select_related("created_by").order_by("-number"),
    )


def get_plan_version_for(sharing: Sharing, number: object) -> tuple[PlanVersion, Grant]:
    try:
        wanted = int(str(number))
    except ValueError:
        raise Http404("Not found") from None
    return _one_visible(
        sharing,
        PlanVersion.objects.filter(plan__patient=sharing.patient, number=wanted)
        .select_related("created_by", "plan", "based_on")
        .first(),
    )


def plan_signing_discipline(
    user: User | AnonymousUser | None, patient: Patient, team: Sequence[CareTeamMember] | None = None
) -> str | None:
    """Whose signature this clinician gives on the patient's plan: "therapy"
    for the therapist on the care team, "medication" for the prescriber; None
    for everyone else (a plan is in force only with one of each)."""
    if not _is_signed_in(user):
        return None
    st = standing(user)
    rows = _my_team_rows(user, patient, [m.organization for m in st.memberships], team)
    for member in rows:
        roles = st.roles_in(member.organization_id)
        discipline = PLAN_SIGNING_ROLES.get(CareTeamRole(member.role))
        if discipline == "therapy" and Role.THERAPIST in roles:
            return discipline
        if discipline == "medication" and Role.PRESCRIBER in roles:
            return discipline
    return None


def can_prescribe(
    user: User | AnonymousUser | None, patient: Patient, team: Sequence[CareTeamMember] | None = None
) -> bool:
    """The prescriber on the patient's care team manages the medication list."""
    return plan_signing_discipline(user, patient, team) == "medication"


def visible_medications(sharing: Sharing) -> list[Medication]:
    return _visible(
        sharing, MedicationModel.objects.filter(patient=sharing.patient).select_related("prescriber", "organization")
    )


def get_medication_for(sharing: Sharing, public_id: object) -> tuple[Medication, Grant]:
    pid = parse_public_id(public_id)
    return _one_visible(
        sharing,
        MedicationModel.objects.filter(patient=sharing.patient, public_id=pid)
        .select_related("prescriber", "organization", "patient")
        .first(),
    )


def visible_medication_changes(medications: Sequence[Medication]) -> list[MedicationChange]:
    """The history of medications already judged visible: a change travels with its medication."""
    by_id = {m.pk: m for m in medications}
    if not by_id:
        return []
    rows = list(MedicationChange.objects.filter(medication_id__in=by_id).select_related("made_by"))
    for row in rows:
        row.medication = by_id[row.medication_id]
    return rows


def visible_prescriptions(medications: Sequence[Medication]) -> list[Prescription]:
    by_id = {m.pk: m for m in medications}
    if not by_id:
        return []
    rows = list(Prescription.objects.filter(medication_id__in=by_id).select_related("prescriber", "pdmp_check"))
    for row in rows:
        row.medication = by_id[row.medication_id]
    return rows


def get_prescription_for(sharing: Sharing, public_id: object) -> tuple[Prescription, Grant]:
    pid = parse_public_id(public_id)
    row = (
        Prescription.objects.filter(medication__patient=sharing.patient, public_id=pid)
        .select_related("medication", "prescriber", "organization", "pdmp_check")
        .first()
    )
    medication, grant = _one_visible(sharing, None if row is None else row.medication)
    assert row is not None
    return row, grant


def visible_observations(sharing: Sharing) -> list[Observation]:
    return _visible(
        sharing,
        Observation.objects.filter(patient=sharing.patient).select_related("author", "medication"),
    )


def visible_lab_results(sharing: Sharing) -> list[LabResult]:
    return [
        r
        for r in LabResult.objects.filter(patient=sharing.patient).select_related("entered_by")
        if sharing.sees(InfoClass.MEDICATIONS, r.organization_id)
    ]


def visible_pdmp_checks(sharing: Sharing) -> list[PdmpCheck]:
    """PDMP checks are part of the prescribing record, on the prescriber's side only."""
    return [
        c
        for c in PdmpCheck.objects.filter(patient=sharing.patient).select_related("clinician")
        if c.organization_id in sharing.own_org_ids
    ]


def can_record_observations(user: User | AnonymousUser | None, patient: Patient) -> bool:
    """Clinicians who write in the chart tell the prescriber what they see."""
    return can_write_records(user, patient)


def plan_link_for(token: str) -> PlanLink:
    """The plan link a token opens, whatever its state; 404 for anything else."""
    from tandem.lib import tokens

    if not token or len(token) > tokens.MAX_LENGTH:
        raise Http404("Not found")
    link = (
        PlanLink.objects.filter(token_hash=tokens.token_hash(token))
        .select_related("version__plan__patient__practice")
        .first()
    )
    if link is None:
        raise Http404("Not found")
    return link
