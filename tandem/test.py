"""The shared cast of test users, and helpers to sign them in.

The cast (for every access test):

* ``therapist``   — Riverbend therapist, primary therapist of ``patient``
* ``colleague``   — another Riverbend therapist, not on the team
* ``prescriber``  — Northstar prescriber on ``patient``'s care team
* ``unrelated``   — Northstar prescriber *not* on ``patient``'s team
* ``outsider``    — a therapist at Lakeside, another practice
* ``admin``       — Riverbend's practice admin
* ``group_admin`` — Northstar's group admin
* ``patient_user``— the patient's own sign-in (the portal comes later)
* ``patient``     — the Riverbend patient they share
* ``other_patient``  — a Riverbend patient nobody from Northstar treats
* ``foreign_patient`` — a Lakeside patient
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, replace

from django.contrib.auth.hashers import make_password
from django.http import HttpResponse
from django.test import Client

from tandem.accounts import services as account_services
from tandem.accounts.models import MfaDevice, User
from tandem.consent.models import Authorization
from tandem.medications.models import Medication
from tandem.organizations.models import Membership, Organization, OrganizationKind, Partnership, Role
from tandem.patients.models import CareTeamMember, CareTeamRole, Patient, Payer

PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"
_HASH: dict[str, str] = {}


def password_hash() -> str:
    # One real argon2 hash, shared by every cast member: hashing per user
    # would spend seconds per test for nothing.
    if "value" not in _HASH:
        _HASH["value"] = make_password(PASSWORD)
    return _HASH["value"]


@dataclass
class Cast:
    riverbend: Organization
    lakeside: Organization
    northstar: Organization
    partnership: Partnership
    payer: Payer
    therapist: User
    colleague: User
    prescriber: User
    unrelated: User
    outsider: User
    admin: User
    group_admin: User
    patient_user: User
    patient: Patient
    other_patient: Patient
    foreign_patient: Patient

    def everyone(self) -> dict[str, User]:
        return {
            "therapist": self.therapist,
            "colleague": self.colleague,
            "prescriber": self.prescriber,
            "unrelated": self.unrelated,
            "outsider": self.outsider,
            "admin": self.admin,
            "group_admin": self.group_admin,
            "patient_user": self.patient_user,
        }


def make_user(email: str, name: str, credentials: str = "", *, mfa: bool = True) -> User:
    user = User.objects.create(email=email, full_name=name, credentials=credentials, password=password_hash())
    if mfa:
        MfaDevice.objects.create(user=user, secret=TOTP_SECRET)
    return user


def make_patient(
    practice: Organization, first: str, last: str, mrn: str, payer: Payer | None = None, **extra: object
) -> Patient:
    fields: dict[str, object] = {
        "date_of_birth": datetime.date(1988, 4, 2),
        "timezone": practice.timezone,
        "state": "OR",
    }
    fields.update(extra)
    return Patient.objects.create(practice=practice, first_name=first, last_name=last, mrn=mrn, payer=payer, **fields)


def build_cast() -> Cast:
    riverbend = Organization.objects.create(
        name="Riverbend Counseling",
        slug="riverbend",
        kind=OrganizationKind.PRACTICE,
        timezone="America/Los_Angeles",
        states=["OR", "WA"],
    )
    lakeside = Organization.objects.create(
        name="Lakeside Therapy",
        slug="lakeside",
        kind=OrganizationKind.PRACTICE,
        timezone="America/Los_Angeles",
        states=["CA"],
    )
    northstar = Organization.objects.create(
        name="Northstar Psychiatry",
        slug="northstar",
        kind=OrganizationKind.GROUP,
        timezone="America/Denver",
        states=["OR", "WA"],
    )
    partnership = Partnership.objects.create(practice=riverbend, group=northstar, starts_on=datetime.date(2020, 1, 1))
    payer = Payer.objects.create(name="Aetna", code="aetna")

    therapist = make_user("therapist@riverbend.test", "Maya Ortiz", "LPC")
    colleague = make_user("colleague@riverbend.test", "Sam Okafor", "LCSW")
    prescriber = make_user("prescriber@northstar.test", "Priya Raman", "MD")
    unrelated = make_user("unrelated@northstar.test", "Lee Park", "PMHNP")
    outsider = make_user("outsider@lakeside.test", "Chris Delgado", "LMFT")
    admin = make_user("admin@riverbend.test", "Dana Whitfield")
    group_admin = make_user("groupadmin@northstar.test", "Morgan Reyes")
    patient_user = make_user("patient@example.test", "Avery Quintero", mfa=False)

    for user, org, role in [
        (therapist, riverbend, Role.THERAPIST),
        (colleague, riverbend, Role.THERAPIST),
        (prescriber, northstar, Role.PRESCRIBER),
        (unrelated, northstar, Role.PRESCRIBER),
        (outsider, lakeside, Role.THERAPIST),
        (admin, riverbend, Role.PRACTICE_ADMIN),
        (group_admin, northstar, Role.GROUP_ADMIN),
    ]:
        Membership.objects.create(user=user, organization=org, role=role)

    patient = make_patient(riverbend, "Avery", "Quintero", "RB-000001", payer, user=patient_user)
    other_patient = make_patient(riverbend, "Tobias", "Wexford", "RB-000002")
    foreign_patient = make_patient(lakeside, "Greta", "Halvorsen", "LT-000001", state="CA")

    start = datetime.date(2020, 2, 1)
    CareTeamMember.objects.create(
        patient=patient, user=therapist, organization=riverbend, role=CareTeamRole.PRIMARY_THERAPIST, starts_on=start
    )
    CareTeamMember.objects.create(
        patient=patient, user=prescriber, organization=northstar, role=CareTeamRole.PRESCRIBER, starts_on=start
    )
    CareTeamMember.objects.create(
        patient=foreign_patient,
        user=outsider,
        organization=lakeside,
        role=CareTeamRole.PRIMARY_THERAPIST,
        starts_on=start,
    )
    return Cast(
        riverbend,
        lakeside,
        northstar,
        partnership,
        payer,
        therapist,
        colleague,
        prescriber,
        unrelated,
        outsider,
        admin,
        group_admin,
        patient_user,
        patient,
        other_patient,
        foreign_patient,
    )


def sign_in(client: Client, user: User, *, sudo: bool = False) -> Client:
    """Sign in as if password and code were both given."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    account_services.start_session_clock(session)
    if sudo:
        account_services.grant_sudo(session)
    session.save()
    return client


_VOLATILE = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'), 'name="csrfmiddlewaretoken" value="TOKEN"'),
    (re.compile(r'"X-CSRFToken": "[^"]*"'), '"X-CSRFToken": "TOKEN"'),
]


def page_text(response: HttpResponse, *, replace: dict[str, str] | None = None) -> str:
    """The body with per-render CSRF tokens (and any given strings) blanked out."""
    text = response.content.decode()
    for pattern, blank in _VOLATILE:
        text = pattern.sub(blank, text)
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    return text


def grant_authorization(
    patient: Patient,
    discloser: Organization,
    recipient: Organization,
    *,
    kind: str = "coordination",
    classes: list[str] | None = None,
    mutual: bool = True,
    recipient_clinician: User | None = None,
    signed_at: datetime.datetime | None = None,
    expires_on: datetime.date | None = None,
    revoked_at: datetime.datetime | None = None,
) -> Authorization:
    """A signed authorization row for access tests. (Signing itself, with its
    PDF, is tested through the signing services.)"""
    from django.utils import timezone

    from tandem.access.classes import TREATMENT_CLASSES

    creator = User.objects.filter(memberships__organization=patient.practice).first()
    assert creator is not None, "the practice needs a member to prepare authorizations"
    defaults = {
        "coordination": list(TREATMENT_CLASSES),
        "psychotherapy_notes": ["psychotherapy_notes"],
        "part2": ["part2"],
    }
    return Authorization.objects.create(
        patient=patient,
        kind=kind,
        template_key=kind,
        template_version=1,
        template_sha256="0" * 64,
        discloser=discloser,
        recipient=recipient,
        mutual=mutual and kind == "coordination",
        recipient_clinician=recipient_clinician,
        classes=classes if classes is not None else defaults.get(kind, []),
        purpose="Coordination of care",
        expires_on=expires_on or datetime.date(2099, 1, 1),
        status="signed",
        signed_at=signed_at or timezone.now() - datetime.timedelta(days=1),
        signed_via="office",
        signer_name=patient.full_name,
        signer_role="patient",
        pdf_sha256="0" * 64,
        revoked_at=revoked_at,
        created_by=creator,
    )


def start_medication(
    patient: Patient,
    prescriber: User,
    organization: Organization,
    *,
    drug: str = "sertraline",
    dose: str = "50",
    started_on: datetime.date | None = None,
    sig: str = "1 tablet by mouth once daily",
) -> Medication:
    """A medication started through the service, as the prescriber would."""
    import uuid
    from decimal import Decimal

    from tandem.audit.services import SYSTEM
    from tandem.medications import services as medication_services

    medication, _ = medication_services.start(
        actor=prescriber,
        patient=patient,
        organization=organization,
        drug=drug,
        form="tablet",
        dose=Decimal(dose),
        sig=sig,
        indication="",
        started_on=started_on or patient.practice.local_date(),
        reason="Depression, moderate",
        part2=False,
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    return medication


def with_second_patient(cast: Cast, *, signed_at: datetime.datetime | None = None) -> Cast:
    """The same cast around a second Riverbend patient, with the same care team
    and the same authorization for Northstar: for tests of ids from elsewhere."""
    patient = make_patient(cast.riverbend, "Jordan", "Ellery", "RB-000042")
    start = datetime.date(2020, 2, 1)
    for user, organization, role in (
        (cast.therapist, cast.riverbend, CareTeamRole.PRIMARY_THERAPIST),
        (cast.prescriber, cast.northstar, CareTeamRole.PRESCRIBER),
    ):
        CareTeamMember.objects.create(patient=patient, user=user, organization=organization, role=role, starts_on=start)
    grant_authorization(patient, cast.riverbend, cast.northstar, signed_at=signed_at)
    return replace(cast, patient=patient)
