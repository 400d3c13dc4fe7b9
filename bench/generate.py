"""Build a fresh database holding a believable practice, and sign a therapist in.

    python bench/generate.py [--patients 2000] [--database-url URL] [--run-dir DIR]

The world: Riverbend Counseling (the measured practice) with ``--patients``
patients, a dozen therapists, coordinators and an admin; Lakeside Therapy, a
second practice with a quarter as many patients, none of them visible to the
signed-in therapist, so the list query really filters; and Northstar
Psychiatry, a psychiatric group partnered with Riverbend whose prescribers sit
on about a third of its care teams. Some care teams also carry a therapist who
left, so charts show past members. Every patient's registration is in the audit
chain, as if registered through the app.

Riverbend's charts hold filed records (``records.Document``), a few per
patient, written by the primary therapist and, where Northstar is on the care
team, by its prescriber; a few are Part 2 records. Most of the patients Northstar
shares have a signed coordination authorization in force (some also an older,
expired one), so a Northstar prescriber's reads cross the consent gate and
leave disclosure rows. Records and authorizations are bulk-created, not
audited: filing them through the app would only lengthen the chain.

The database is SQLite in a new run directory unless ``--database-url`` (or
``TANDEM_DATABASE_URL``) names a PostgreSQL database, which is dropped and
created afresh; its name must contain "bench". The run's manifest (database,
secret key, the therapist's and the prescriber's session cookies, the patient
whose chart is loaded, the shared record) is written to the run directory for
``bench/load.py``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import random
import resource
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database
from bench.manifest import RUNS_DIR, Manifest, tandem_env

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.consent.models import Authorization
    from tandem.organizations.models import Organization
    from tandem.patients.models import CareTeamMember, Patient, Payer
    from tandem.records.models import Document

DEFAULT_PATIENTS = 2000
BENCH_DOMAIN = "bench.example"


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words(
    """
    Avery Jordan Taylor Morgan Riley Casey Jamie Quinn Skyler Rowan Emerson Hayden Maria Jose Ana Luis
    Sofia Mateo Camila Diego Lucia Linh Minh Thao Bao Wei Mei Jun Hana Min-jun Seo-yeon Olga Dmitri
    Irina Nikolai Aisha Omar Fatima Yusuf Amara Kwame Zainab Tariq Priya Arjun Ananya Rohan Grace Henry
    Eleanor Samuel Ruth Walter Hazel Arthur June Felix Iris Theo Nora Silas Ada Miles Tessa Caleb Wren
    Jasper
    """
)
LAST_NAMES = _words(
    """
    Nguyen Garcia Smith Johnson Williams Brown Jones Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark
    Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Hill Flores Green Adams Nelson
    Baker Hall Rivera Campbell Mitchell Carter Roberts Tran Pham Le Kim Park Choi Chen Wang Li Zhang Liu
    Ivanov Petrov Okafor Mensah Haddad Khan Patel Shah Singh Olsen Larsen Lindqvist Whitaker Calloway
    Fairbanks Holloway Quintero
    """
)
STREETS = _words(
    """
    Alder Birch Cedar Division Everett Flanders Glisan Hawthorne Irving Johnson Killingsworth Lovejoy
    """
)
CITIES = {
    "OR": [("Portland", "972"), ("Salem", "973"), ("Eugene", "974"), ("Bend", "977")],
    "WA": [("Vancouver", "986"), ("Seattle", "981"), ("Tacoma", "984"), ("Spokane", "992")],
    "CA": [("Oakland", "946"), ("Sacramento", "958"), ("Fresno", "937")],
}
ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "name": "Riverbend Counseling",
        "slug": "riverbend-counseling",
        "kind": "practice",
        "timezone": "America/Los_Angeles",
        "states": ["OR", "WA"],
    },
    {
        "name": "Lakeside Therapy",
        "slug": "lakeside-therapy",
        "kind": "practice",
        "timezone": "America/Los_Angeles",
        "states": ["CA"],
    },
    {
        "name": "Northstar Psychiatry",
        "slug": "northstar-psychiatry",
        "kind": "group",
        "timezone": "America/Denver",
        "states": ["OR", "WA", "CA"],
    },
]
PAYERS = [
    ("Cascadia Health Plan", "cascadia"),
    ("Evergreen Mutual", "evergreen"),
    ("Pacific Crest Insurance", "pacific-crest"),
    ("Columbia Care Alliance", "columbia"),
    ("Willamette Community Health", "willamette"),
    ("Sierra Shield", "sierra-shield"),
]
PRONOUNS = ["she/her", "he/him", "they/them", "she/they", "he/they"]
LANGUAGES = ["en"] * 17 + ["es", "es", "vi", "zh", "ru", "ko", "tl"]
# Filed chart records: (information class, title), each listed as often as it is
# filed. Part 2 records are the substance-use program's own.
THERAPIST_RECORDS = [
    *[("progress_notes", "Progress note")] * 6,
    ("assessments", "PHQ-9 and GAD-7 screening"),
    ("assessments", "PCL-5 screening"),
    ("care_plan", "Treatment plan review"),
    ("care_plan", "Safety plan"),
    ("diagnoses", "Diagnostic summary"),
    ("appointments", "Attendance summary"),
]
PRESCRIBER_RECORDS = [
    *[("progress_notes", "Medication management visit")] * 4,
    *[("medications", "Medication list")] * 3,
    ("diagnoses", "Psychiatric evaluation"),
    ("diagnoses", "Psychiatric evaluation"),
    ("assessments", "AIMS and metabolic monitoring"),
]
PART2_RECORDS = {
    "riverbend": ("progress_notes", "Substance-use program progress note"),
    "northstar": ("medications", "Buprenorphine treatment record"),
}
PART2_SHARE = 0.06
RECORD_SENTENCES = [
    "Patient attended on time and engaged throughout the session.",
    "Reports sleeping six to seven hours most nights, up from four last month.",
    "Mood described as 'steadier'; affect congruent, range somewhat restricted.",
    "Reviewed coping plan; patient practiced paced breathing in session.",
    "Denies suicidal or homicidal ideation, intent or plan; safety plan reviewed.",
    "Work stress remains the main trigger; discussed boundaries with a supervisor.",
    "Homework: daily mood log and two behavioural-activation tasks.",
    "Tolerating current regimen; mild morning nausea, resolving.",
    "No missed doses reported; refills sent to the usual pharmacy.",
    "Scores improved since intake; continue the current plan and reassess in six weeks.",
    "Coordinated with the partner clinician about timing of the next visit.",
    "Family support is good; partner attends every other session.",
]
# The chart under load, filed as fixed records so every run's chart page is
# the same. (therapist's organization?, class, Part 2?, title)
CHART_RECORDS = [
    (True, "progress_notes", False, "Progress note"),
    (True, "care_plan", False, "Treatment plan review"),
    (True, "assessments", False, "PHQ-9 and GAD-7 screening"),
    (True, "progress_notes", True, "Substance-use program progress note"),
    (False, "diagnoses", False, "Psychiatric evaluation"),
    (False, "medications", False, "Medication list"),
]
# Shares of the patients Northstar treats with a signed coordination
# authorization, and of those (treated for over 400 days) with an earlier one that has expired.
AUTHORIZED_SHARE = 0.85
EXPIRED_EARLIER_SHARE = 0.2
# No signed PDF is stored for the bench's authorizations. A signed row must
# carry a PDF fingerprint (the authorization_signed_complete constraint), so
# they carry the SHA-256 of empty bytes: fine for rows no one downloads, never
# for production data, where the fingerprint is that of the stored PDF. The
# bench never fetches an authorization's PDF (that read would fail its check).
UNSTORED_PDF_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class World:
    """The generated people the load is about."""

    therapist: User
    prescriber: User
    chart_patient: Patient
    shared_document: Document
    withheld_document: Document
    patients: int
    other_patients: int
    documents: int
    authorizations: int


@dataclass(frozen=True)
class Staff:
    therapists: list[User]
    coordinators: list[User]
    admin: User


def _setup_django(env: dict[str, str]) -> None:
    # Tandem reads its settings from the environment once, at import: set it first.
    os.environ.update(env)
    import django

    django.setup()


def _people(count: int, rng: random.Random, domain: str, credentials: list[str]) -> list[tuple[str, str, str]]:
    names: set[str] = set()
    while len(names) < count:
        names.add(f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")
    people = []
    for i, name in enumerate(sorted(names)):
        email = f"{name.lower().replace(' ', '.')}{i}@{domain}"
        people.append((email, name, credentials[i % len(credentials)] if credentials else ""))
    return people


def _make_users(people: list[tuple[str, str, str]], tz: str) -> list[User]:
    from tandem.accounts.models import MfaDevice, User

    # Passwords are set at the end, in one go (see _set_passwords).
    users = User.objects.bulk_create(
        User(email=email, full_name=name, credentials=cred, timezone=tz) for email, name, cred in people
    )
    # Every clinician has an authenticator; the session already carries the second step.
    MfaDevice.objects.bulk_create(MfaDevice(user=u, secret="JBSWY3DPEHPK3PXP") for u in users)
    return users


def _patient(
    rng: random.Random, practice: Organization, mrn: str, payers: list[Payer], today: datetime.date
) -> Patient:
    from tandem.patients.models import Patient, SexAtBirth

    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    state = rng.choice(practice.states)
    city, zip_prefix = rng.choice(CITIES[state])
    payer = rng.choice(payers) if rng.random() < 0.85 else None
    created = datetime.datetime.combine(
        today - datetime.timedelta(days=rng.randint(30, 5 * 365)), datetime.time(17), tzinfo=datetime.UTC
    )
    has_contact = rng.random() < 0.7
    return Patient(
        practice=practice,
        mrn=mrn,
        first_name=first,
        last_name=last,
        preferred_name=rng.choice(FIRST_NAMES) if rng.random() < 0.1 else "",
        date_of_birth=datetime.date(rng.randint(1948, 2008), rng.randint(1, 12), rng.randint(1, 28)),
        sex_at_birth=rng.choice([SexAtBirth.FEMALE, SexAtBirth.MALE, SexAtBirth.FEMALE, SexAtBirth.UNKNOWN]),
        pronouns=rng.choice(PRONOUNS) if rng.random() < 0.4 else "",
        preferred_language=rng.choice(LANGUAGES),
        timezone=practice.timezone,
        email=f"{first}.{last}.{mrn}@example.com".lower(),
        # 555-0100 to 555-0199 are kept for fiction.
        phone=f"503-555-01{rng.randrange(100):02d}",
        address_line1=f"{rng.randint(100, 9999)} {rng.choice(STREETS)} St",
        city=city,
        state=state,
        postal_code=f"{zip_prefix}{rng.randrange(100):02d}",
        payer=payer,
        member_id=f"{payer.code[:3].upper()}{rng.randrange(10**8):08d}" if payer else "",
        emergency_contact_name=f"{rng.choice(FIRST_NAMES)} {last}" if has_contact else "",
        emergency_contact_relationship=rng.choice(["Partner", "Parent", "Sibling", "Friend"]) if has_contact else "",
        emergency_contact_phone=f"503-555-01{rng.randrange(100):02d}" if has_contact else "",
        created_at=created,
        updated_at=created,
    )


def _register(
    rng: random.Random,
    practice: Organization,
    count: int,
    payers: list[Payer],
    today: datetime.date,
    registrar: User,
) -> list[Patient]:
    """Patients as if registered through the app: rows plus one audit event each."""
    from tandem.audit import services as audit
    from tandem.audit.models import Action
    from tandem.patients.models import Patient

    prefix = "".join(word[0] for word in practice.slug.split("-")[:2]).upper()
    patients = Patient.objects.bulk_create(
        (_patient(rng, practice, f"{prefix}-{i + 1:06d}", payers, today) for i in range(count)), batch_size=500
    )
    meta = audit.RequestMeta(ip_address="10.20.0.15", user_agent="Mozilla/5.0 (bench generator)")
    for p in patients:
        audit.record(
            actor=registrar,
            action=Action.CREATE,
            purpose="treatment",
            meta=meta,
            patient_id=p.public_id,
            target_type="patient",
            target_id=p.public_id,
        )
    return patients


def _care_teams(
    rng: random.Random,
    patients: list[Patient],
    staff: Staff,
    practice: Organization,
    group: Organization | None,
    prescribers: list[User],
    today: datetime.date,
    full_team_first: bool,
) -> list[CareTeamMember]:
    """A primary therapist for everyone; some also have a prescriber from the
    partner group, a coordinator, or an earlier therapist who left."""
    from tandem.patients.models import CareTeamMember, CareTeamRole

    rows: list[CareTeamMember] = []
    for index, patient in enumerate(patients):
        full = full_team_first and index == 0
        start = patient.created_at.date()
        therapist = staff.therapists[0] if full else rng.choice(staff.therapists)
        if full or rng.random() < 0.15:
            former = rng.choice([t for t in staff.therapists if t != therapist])
            left = min(start + datetime.timedelta(days=rng.randint(60, 400)), today - datetime.timedelta(days=2))
            rows.append(
                CareTeamMember(
                    patient=patient,
                    user=former,
                    organization=practice,
                    role=CareTeamRole.PRIMARY_THERAPIST,
                    starts_on=start,
                    ends_on=left,
                )
            )
            start = left + datetime.timedelta(days=1)
        rows.append(
            CareTeamMember(
                patient=patient,
                user=therapist,
                organization=practice,
                role=CareTeamRole.PRIMARY_THERAPIST,
                starts_on=start,
            )
        )
        if group is not None and prescribers and (full or rng.random() < 0.35):
            rows.append(
                CareTeamMember(
                    patient=patient,
                    user=rng.choice(prescribers),
                    organization=group,
                    role=CareTeamRole.PRESCRIBER,
                    starts_on=min(start + datetime.timedelta(days=rng.randint(7, 90)), today),
                )
            )
        if staff.coordinators and (full or rng.random() < 0.08):
            rows.append(
                CareTeamMember(
                    patient=patient,
                    user=rng.choice(staff.coordinators),
                    organization=practice,
                    role=CareTeamRole.COORDINATOR,
                    starts_on=start,
                )
            )
    return CareTeamMember.objects.bulk_create(rows, batch_size=1000)


def _record_body(rng: random.Random) -> str:
    return " ".join(rng.sample(RECORD_SENTENCES, rng.randint(3, 6)))


def _day_between(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _document(
    rng: random.Random,
    patient: Patient,
    organization: Organization,
    author: User,
    info_class: str,
    part2: bool,
    title: str,
    day: datetime.date,
) -> Document:
    from tandem.records.models import Document

    filed = datetime.datetime.combine(day, datetime.time(18), tzinfo=datetime.UTC)
    return Document(
        patient=patient,
        organization=organization,
        author=author,
        info_class=info_class,
        part2=part2,
        title=title,
        body=_record_body(rng),
        occurred_on=day,
        created_at=filed + datetime.timedelta(minutes=rng.randint(0, 300)),
    )


def _records(
    rng: random.Random,
    patients: list[Patient],
    team_rows: list[CareTeamMember],
    practice: Organization,
    group: Organization,
    today: datetime.date,
) -> tuple[list[Document], dict[int, CareTeamMember]]:
    """Filed chart records: one to four by the current primary therapist, and
    up to three by the Northstar prescriber on the team (about 3 a patient).
    The first patient, whose chart is loaded, gets the fixed CHART_RECORDS.
    Returns the records and each patient's current prescriber row."""
    from tandem.patients.models import CareTeamRole
    from tandem.records.models import Document

    therapist_of: dict[int, CareTeamMember] = {}
    prescriber_of: dict[int, CareTeamMember] = {}
    for row in team_rows:
        if row.ends_on is None and row.role == CareTeamRole.PRIMARY_THERAPIST:
            therapist_of[row.patient_id] = row
        elif row.role == CareTeamRole.PRESCRIBER:
            prescriber_of[row.patient_id] = row
    documents: list[Document] = []
    for index, patient in enumerate(patients):
        therapist, prescriber = therapist_of[patient.pk], prescriber_of.get(patient.pk)
        if index == 0:
            assert prescriber is not None, "the chart under load has a full care team"
            for ours, info_class, part2, title in CHART_RECORDS:
                member = therapist if ours else prescriber
                day = _day_between(rng, member.starts_on, today)
                documents.append(
                    _document(rng, patient, practice if ours else group, member.user, info_class, part2, title, day)
                )
            continue
        sources = [(therapist, practice, THERAPIST_RECORDS, "riverbend", rng.randint(1, 4))]
        if prescriber is not None and prescriber.starts_on <= today:
            sources.append((prescriber, group, PRESCRIBER_RECORDS, "northstar", rng.randint(0, 3)))
        for member, org, kinds, part2_key, count in sources:
            for _ in range(count):
                part2 = rng.random() < PART2_SHARE
                info_class, title = PART2_RECORDS[part2_key] if part2 else rng.choice(kinds)
                day = _day_between(rng, member.starts_on, today)
                documents.append(_document(rng, patient, org, member.user, info_class, part2, title, day))
    return Document.objects.bulk_create(documents, batch_size=1000), prescriber_of


def _authorizations(
    rng: random.Random,
    patients: list[Patient],
    prescriber_of: dict[int, CareTeamMember],
    practice: Organization,
    group: Organization,
    preparer: User,
    now: datetime.datetime,
) -> list[Authorization]:
    """Signed coordination authorizations, shaped like ``tandem.test.grant_authorization``
    but with the real template's version and fingerprint: the practice to the
    group, mostly both ways, for most patients the group treats. Each is in
    force (signed in the last 300 days, a year's expiry, the template's
    default); some patients also have an earlier one that expired. The chart
    under load has one covering every treatment class."""
    from tandem.access.classes import TREATMENT_CLASSES
    from tandem.consent import documents as templates
    from tandem.consent.models import Authorization, Kind, SignedVia, SignerRole, Status

    template = templates.load("coordination")
    lifetime = datetime.timedelta(days=template.expiry_default_days or 365)
    today = now.date()

    def signed(patient: Patient, at: datetime.datetime, classes: list[str], mutual: bool) -> Authorization:
        return Authorization(
            patient=patient,
            kind=Kind.COORDINATION,
            template_key=template.key,
            template_version=template.version,
            template_sha256=template.sha256,
            discloser=practice,
            recipient=group,
            mutual=mutual,
            classes=classes,
            purpose=template.purpose_default,
            expires_on=at.date() + lifetime,
            status=Status.SIGNED,
            created_by=preparer,
            created_at=at - datetime.timedelta(days=rng.randint(0, 7), hours=1),
            signed_at=at,
            signed_via=rng.choice([SignedVia.OFFICE, SignedVia.LINK]),
            signer_name=patient.full_name,
            signer_role=SignerRole.PATIENT,
            pdf_sha256=UNSTORED_PDF_SHA256,
        )

    rows: list[Authorization] = []
    for index, patient in enumerate(patients):
        prescriber = prescriber_of.get(patient.pk)
        if prescriber is None or prescriber.starts_on > today:
            continue
        if index == 0:
            rows.append(signed(patient, now - datetime.timedelta(days=30), list(TREATMENT_CLASSES), True))
            continue
        if rng.random() >= AUTHORIZED_SHARE:
            continue
        start = prescriber.starts_on
        if (today - start).days > 400 and rng.random() < EXPIRED_EARLIER_SHARE:
            earlier = datetime.datetime.combine(start, datetime.time(16), tzinfo=datetime.UTC)
            rows.append(signed(patient, earlier, list(template.classes_default), True))
        day = _day_between(rng, max(start, today - datetime.timedelta(days=300)), today - datetime.timedelta(days=1))
        # Most cover every treatment class; some keep the template's default,
        # which leaves progress notes out.
        classes = list(TREATMENT_CLASSES) if rng.random() < 0.7 else list(template.classes_default)
        at = datetime.datetime.combine(day, datetime.time(rng.randint(15, 23)), tzinfo=datetime.UTC)
        rows.append(signed(patient, at, classes, rng.random() < 0.9))
    return Authorization.objects.bulk_create(rows, batch_size=500)


def _signed_in_session(user: User) -> str:
    """A session exactly as Tandem's sign-in leaves it after the second step."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from tandem.accounts.services import start_session_clock

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    start_session_clock(store)
    store.create()
    assert store.session_key is not None
    return store.session_key


def _set_passwords() -> None:
    """One real argon2 hash, shared by every account.

    Hashing a few dozen passwords would cost seconds and measure nothing. It
    comes last because Django's argon2 settings take 100 MiB for each hash,
    which would otherwise hide what the data itself costs in memory.
    """
    from django.contrib.auth.hashers import make_password

    from tandem.accounts.models import User

    User.objects.update(password=make_password(secrets.token_urlsafe(16)))


def _analyze() -> None:
    """Give PostgreSQL's planner the statistics a live database has.

    In production autovacuum analyzes a table within about a minute of a big
    change. Right after a bulk load there are none: the planner then guesses a
    handful of patients per practice and sorts all of them for the first page
    of the list (31 ms instead of 0.2 ms at 20,000 patients). SQLite is left
    alone: it keeps no statistics unless someone runs ANALYZE, and Tandem does not.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux: the peak of this whole process so far.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def populate(*, patients: int, seed: int) -> World:
    """Fill the migrated database."""
    from django.db import transaction
    from django.utils import timezone

    from tandem.organizations.models import Membership, Organization, Partnership, Role
    from tandem.patients.models import Payer

    rng = random.Random(seed)
    now = timezone.now()
    today = now.date()
    other_patients = patients // 4

    with transaction.atomic():
        riverbend, lakeside, northstar = (Organization.objects.create(**fields) for fields in ORGANIZATIONS)
        Partnership.objects.create(
            practice=riverbend, group=northstar, starts_on=today - datetime.timedelta(days=4 * 365)
        )
        payers = Payer.objects.bulk_create(Payer(name=name, code=code) for name, code in PAYERS)

        # The signed-in therapist comes first, so their name and caseload are fixed.
        colleagues = _people(max(3, patients // 170), rng, f"riverbend.{BENCH_DOMAIN}", ["LPC", "LCSW", "LMFT", "PsyD"])
        riverbend_staff = Staff(
            therapists=_make_users(
                [(f"maya.ortiz@{BENCH_DOMAIN}", "Maya Ortiz", "LPC"), *colleagues], riverbend.timezone
            ),
            coordinators=_make_users(
                _people(max(1, patients // 1000), rng, f"coord.riverbend.{BENCH_DOMAIN}", []), riverbend.timezone
            ),
            admin=_make_users([(f"admin@riverbend.{BENCH_DOMAIN}", "Dana Whitfield", "")], riverbend.timezone)[0],
        )
        lakeside_staff = Staff(
            therapists=_make_users(
                _people(max(2, other_patients // 170), rng, f"lakeside.{BENCH_DOMAIN}", ["LMFT", "LCSW"]),
                lakeside.timezone,
            ),
            coordinators=[],
            admin=_make_users([(f"admin@lakeside.{BENCH_DOMAIN}", "Rae Lindqvist", "")], lakeside.timezone)[0],
        )
        prescribers = _make_users(
            _people(max(2, patients // 500), rng, f"northstar.{BENCH_DOMAIN}", ["MD", "PMHNP-BC", "DO"]),
            northstar.timezone,
        )
        group_admin = _make_users([(f"admin@northstar.{BENCH_DOMAIN}", "Morgan Reyes", "")], northstar.timezone)[0]

        roles: list[tuple[Organization, str, list[User]]] = [
            (riverbend, Role.THERAPIST, riverbend_staff.therapists),
            (riverbend, Role.COORDINATOR, riverbend_staff.coordinators),
            (riverbend, Role.PRACTICE_ADMIN, [riverbend_staff.admin]),
            (lakeside, Role.THERAPIST, lakeside_staff.therapists),
            (lakeside, Role.PRACTICE_ADMIN, [lakeside_staff.admin]),
            (northstar, Role.PRESCRIBER, prescribers),
            (northstar, Role.GROUP_ADMIN, [group_admin]),
        ]
        Membership.objects.bulk_create(
            Membership(user=user, organization=org, role=role) for org, role, users in roles for user in users
        )

        ours = _register(rng, riverbend, patients, payers, today, riverbend_staff.admin)
        theirs = _register(rng, lakeside, other_patients, payers, today, lakeside_staff.admin)
        team = _care_teams(rng, ours, riverbend_staff, riverbend, northstar, prescribers, today, full_team_first=True)
        _care_teams(rng, theirs, lakeside_staff, lakeside, None, [], today, full_team_first=False)
        # After everything above, so the same seed still gives the same people and teams.
        documents, prescriber_of = _records(rng, ours, team, riverbend, northstar, today)
        authorizations = _authorizations(rng, ours, prescriber_of, riverbend, northstar, riverbend_staff.admin, now)
        _responses(rng, team, riverbend, riverbend_staff.therapists[0], now)
        _medications(rng, ours, prescriber_of, northstar, today)

    chart_records = dict(zip([r[3] for r in CHART_RECORDS], documents[: len(CHART_RECORDS)], strict=True))
    return World(
        therapist=riverbend_staff.therapists[0],
        prescriber=prescriber_of[ours[0].pk].user,
        chart_patient=ours[0],
        # The record page loads a Riverbend record the authorization covers;
        # the Part 2 record must stay out of the prescriber's chart.
        shared_document=chart_records["Treatment plan review"],
        withheld_document=chart_records["Substance-use program progress note"],
        patients=patients,
        other_patients=other_patients,
        documents=len(documents),
        authorizations=len(authorizations),
    )


RESPONSES_PER_PATIENT = 20


def _responses(rng: random.Random, team: list[Any], practice: Any, therapist: Any, now: datetime.datetime) -> int:
    """Questionnaire histories for the therapist's caseload (the registry under
    load): a PHQ-9 and a GAD-7 in turn, a week apart, drifting down or not."""
    from tandem.measures.models import Response, ResponseStatus, Source

    mine = {m.patient_id for m in team if m.user_id == therapist.pk and m.ends_on is None}
    rows = []
    for patient_id in sorted(mine):
        start, drift = rng.randint(8, 24), rng.choice([-1, -1, 0, 1])
        for n in range(RESPONSES_PER_PATIENT):
            phq9 = n % 2 == 0
            top = 27 if phq9 else 21
            total = max(0, min(top, start + drift * (n // 2) + rng.randint(-2, 2)))
            rows.append(
                Response(
                    patient_id=patient_id,
                    organization=practice,
                    instrument="phq9" if phq9 else "gad7",
                    instrument_version="1",
                    source=Source.IN_SESSION,
                    administered_by=therapist,
                    answers={},
                    status=ResponseStatus.COMPLETE,
                    total=total,
                    completed_at=now - datetime.timedelta(weeks=RESPONSES_PER_PATIENT - n),
                )
            )
    Response.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


MEDICATION_CHANGES = 6


def _medications(
    rng: random.Random, patients: list[Any], prescriber_of: dict[int, Any], group: Any, today: datetime.date
) -> int:
    """A medication list for every shared patient (the chart's treatment card
    and the medication page under load): two or three drugs, each titrated a
    few times, with monitoring results on file."""
    from decimal import Decimal

    from tandem.medications.models import LabResult, Medication, MedicationChange

    drugs = ["sertraline", "bupropion", "lithium", "aripiprazole", "escitalopram", "lamotrigine"]
    medications, changes, labs = [], [], []
    for patient in patients:
        member = prescriber_of.get(patient.pk)
        if member is None:
            continue
        for drug in rng.sample(drugs, rng.randint(2, 3)):
            started = today - datetime.timedelta(days=rng.randint(60, 400))
            medication = Medication(
                patient=patient,
                organization=group,
                prescriber=member.user,
                drug=drug,
                display=drug.capitalize(),
                drug_class="bench",
                form="tablet",
                dose=Decimal(25 * MEDICATION_CHANGES),
                sig="Once daily",
                started_on=started,
            )
            medications.append(medication)
            for n in range(MEDICATION_CHANGES):
                changes.append(
                    MedicationChange(
                        medication=medication,
                        kind="start" if n == 0 else "dose",
                        dose_before=None if n == 0 else Decimal(25 * n),
                        dose_after=Decimal(25 * (n + 1)),
                        reason="Titration",
                        effective_on=started + datetime.timedelta(days=14 * n),
                        made_by=member.user,
                    )
                )
        labs += [
            LabResult(
                patient=patient,
                organization=group,
                test=test,
                value="1",
                collected_on=today - datetime.timedelta(days=rng.randint(1, 120)),
                entered_by=member.user,
            )
            for test in ("weight", "blood_pressure", "lithium_level", "tsh")
        ]
    Medication.objects.bulk_create(medications, batch_size=1000)
    MedicationChange.objects.bulk_create(changes, batch_size=1000)
    LabResult.objects.bulk_create(labs, batch_size=1000)
    return len(medications)


def _csrf_secret() -> str:
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

    return "".join(secrets.choice(CSRF_ALLOWED_CHARS) for _ in range(CSRF_SECRET_LENGTH))


def describe(world: World) -> dict[str, Any]:
    """Sign the therapist and the prescriber in and note what the load will
    ask for (the run-specific fields of the Manifest)."""
    from django.conf import settings
    from django.db.models import Max

    from tandem.access import policy
    from tandem.audit.models import AuditEvent
    from tandem.consent.models import Disclosure
    from tandem.patients.selectors import search_patients

    therapist, prescriber, chart_patient = world.therapist, world.prescriber, world.chart_patient
    # The sessions' auth hashes are derived from the passwords, set last.
    therapist.refresh_from_db()
    prescriber.refresh_from_db()
    therapist_sharing = policy.sharing_for(therapist, chart_patient)
    prescriber_sharing = policy.sharing_for(prescriber, chart_patient)
    shared, withheld = world.shared_document, world.withheld_document
    # What the pages will show, asked of the policy itself: the prescriber's
    # chart must show the shared record and not the Part 2 one.
    assert prescriber_sharing.sees(shared.effective_class, shared.organization_id), "the shared record is not shared"
    assert not prescriber_sharing.sees(withheld.effective_class, withheld.organization_id), "Part 2 crossed over"
    # The chart under load is the therapist's own patient with a full team
    # (prescriber, coordinator, a therapist who left); the search looks for
    # that patient's last name, as a clinician would.
    query = chart_patient.last_name
    return {
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        "session_key": _signed_in_session(therapist),
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "csrf_secret": _csrf_secret(),
        "therapist_display_name": therapist.display_name,
        "patients": world.patients,
        "other_patients": world.other_patients,
        "search_query": query,
        "search_matches": search_patients(therapist, query=query).count(),
        "chart_patient": str(chart_patient.public_id),
        "chart_patient_mrn": chart_patient.mrn,
        "audit_seq_after_generate": AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0,
        # The Northstar prescriber on the chart patient's team, signed in the same way.
        "prescriber_session_key": _signed_in_session(prescriber),
        "prescriber_csrf_secret": _csrf_secret(),
        "prescriber_display_name": prescriber.display_name,
        "prescriber_patients": search_patients(prescriber).count(),
        "shared_document": str(shared.public_id),
        "shared_document_title": shared.title,
        "withheld_document_title": withheld.title,
        "chart_documents": {
            "therapist": len(policy.visible_documents(therapist_sharing)),
            "prescriber": len(policy.visible_documents(prescriber_sharing)),
        },
        "documents": world.documents,
        "authorizations": world.authorizations,
        "disclosure_id_after_generate": Disclosure.objects.aggregate(last=Max("id"))["last"] or 0,
    }


def generate(*, run_dir: Path, patients: int, database_url: str, seed: int) -> Manifest:
    run_dir.mkdir(parents=True, exist_ok=False)
    if not database_url:
        database_url = f"sqlite:///{run_dir / 'bench.sqlite3'}"
    vendor = database.vendor(database_url)
    if vendor == "postgresql":
        database.recreate_postgres(database_url)
    secret_key = secrets.token_urlsafe(50)
    _setup_django(tandem_env(database_url=database_url, secret_key=secret_key, data_dir=str(run_dir)))

    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    world = populate(patients=patients, seed=seed)
    _analyze()
    data_peak = _peak_rss_mib()
    _set_passwords()
    dataset = describe(world)
    finished = time.perf_counter()
    manifest = Manifest(
        run_dir=str(run_dir),
        database_url=database_url,
        database_vendor=vendor,
        secret_key=secret_key,
        generator={
            "migrate_seconds": round(migrated - started, 2),
            "populate_seconds": round(finished - migrated, 2),
            "peak_rss_mib": _peak_rss_mib(),
            "peak_rss_before_password_hash_mib": data_peak,
        },
        **dataset,
    )
    manifest.save()
    return manifest


def default_run_dir(vendor: str, patients: int) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return RUNS_DIR / f"{stamp}-{vendor}-{patients}p-{secrets.token_hex(2)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS, help="patients at the measured practice")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TANDEM_DATABASE_URL", ""),
        help="a PostgreSQL URL whose database name contains 'bench' (default: SQLite in the run directory)",
    )
    parser.add_argument("--run-dir", type=Path, help="a new directory for this run (default: var/bench/<stamp>)")
    parser.add_argument("--seed", type=int, default=20240601, help="the same seed gives the same people")
    args = parser.parse_args(argv)
    if args.patients < 1:
        parser.error("--patients must be at least 1")
    if args.database_url:
        database.vendor(args.database_url)
        if database.vendor(args.database_url) == "postgresql":
            database.postgres_name(args.database_url)  # refuse before touching anything
    run_dir = args.run_dir or default_run_dir(
        database.vendor(args.database_url) if args.database_url else "sqlite", args.patients
    )
    manifest = generate(run_dir=run_dir, patients=args.patients, database_url=args.database_url, seed=args.seed)
    gen = manifest.generator
    print(
        f"Generated {manifest.patients:,} + {manifest.other_patients:,} patients, {manifest.documents:,} records and "
        f"{manifest.authorizations:,} authorizations on {manifest.database_vendor} "
        f"(migrate {gen['migrate_seconds']} s, data {gen['populate_seconds']} s, peak RSS {gen['peak_rss_mib']} MiB, "
        f"{gen['peak_rss_before_password_hash_mib']} MiB before the one argon2 hash)"
    )
    print(manifest.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
