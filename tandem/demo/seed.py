"""The demo world: two practices, one psychiatric group, fifty fictional patients.

Every person here is invented. Phone numbers are in the 555-01xx range kept
for fiction, email addresses are on example.com, and member IDs are made up.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import MfaDevice, User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.credentials.models import (
    BoardCertification,
    ClinicianProfile,
    DeaRegistration,
    Discipline,
    LicenseType,
    PayerEnrollment,
    StateLicense,
)
from tandem.organizations.models import Membership, Organization, OrganizationKind, Partnership, Role
from tandem.patients.models import CareTeamMember, CareTeamRole, Language, Patient, Payer, SexAtBirth

PASSWORD = "tandem-demo"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"
DEMO_DOMAIN_SUFFIX = ".demo"


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    credentials: str
    org: str
    role: str
    who: str
    timezone: str = "America/Los_Angeles"


ORGS = {
    "riverbend": {
        "name": "Riverbend Counseling",
        "slug": "riverbend-counseling",
        "kind": OrganizationKind.PRACTICE,
        "timezone": "America/Los_Angeles",
        "states": ["OR", "WA"],
    },
    "lakeside": {
        "name": "Lakeside Therapy",
        "slug": "lakeside-therapy",
        "kind": OrganizationKind.PRACTICE,
        "timezone": "America/Los_Angeles",
        "states": ["CA"],
    },
    "northstar": {
        "name": "Northstar Psychiatry",
        "slug": "northstar-psychiatry",
        "kind": OrganizationKind.GROUP,
        "timezone": "America/Denver",
        "states": ["OR", "WA", "ID", "CO", "CA"],
    },
}

USERS = [
    DemoUser("admin@riverbend.demo", "Dana Whitfield", "", "riverbend", Role.PRACTICE_ADMIN, "practice admin"),
    DemoUser("therapist@riverbend.demo", "Maya Ortiz", "LPC", "riverbend", Role.THERAPIST, "therapist (LPC)"),
    DemoUser("therapist2@riverbend.demo", "Samuel Okafor", "LCSW", "riverbend", Role.THERAPIST, "therapist colleague"),
    DemoUser(
        "prescriber@northstar.demo",
        "Priya Raman",
        "MD",
        "northstar",
        Role.PRESCRIBER,
        "psychiatrist, on the care team of 25 Riverbend patients",
        "America/Denver",
    ),
    DemoUser(
        "np@northstar.demo",
        "Jordan Ellis",
        "PMHNP-BC",
        "northstar",
        Role.PRESCRIBER,
        "psychiatric NP, on the care team of 10 other Riverbend patients",
        "America/Boise",
    ),
    DemoUser(
        "coordinator@northstar.demo", "Alex Kim", "", "northstar", Role.COORDINATOR, "coordinator", "America/Denver"
    ),
    DemoUser(
        "groupadmin@northstar.demo", "Morgan Reyes", "", "northstar", Role.GROUP_ADMIN, "group admin", "America/Denver"
    ),
    DemoUser(
        "therapist@lakeside.demo",
        "Chris Delgado",
        "LMFT",
        "lakeside",
        Role.THERAPIST,
        "therapist at the other practice",
    ),
]

PAYERS = [
    ("Aetna", "aetna"),
    ("Kaiser Permanente", "kaiser"),
    ("Medicare", "medicare"),
    ("Oregon Health Plan", "ohp"),
    ("Providence Health Plan", "providence"),
    ("Regence BlueCross BlueShield", "regence"),
    ("Molina Healthcare", "molina"),
    ("Blue Shield of California", "blue-shield-ca"),
]

FIRST = {
    SexAtBirth.FEMALE: [
        "Avery",
        "Lena",
        "Marisol",
        "Hannah",
        "Imani",
        "Rosa",
        "Talia",
        "Greta",
        "Noor",
        "Celeste",
        "Brooke",
        "Yesenia",
        "Wren",
        "Dahlia",
        "Mei",
        "Paloma",
        "Ingrid",
        "Sadie",
        "Leticia",
        "Opal",
        "Jada",
        "Farrah",
        "Elena",
        "Kiana",
        "Ruth",
    ],
    SexAtBirth.MALE: [
        "Tobias",
        "Marcus",
        "Diego",
        "Felix",
        "Andre",
        "Gideon",
        "Rafael",
        "Owen",
        "Desmond",
        "Hugo",
        "Mateo",
        "Silas",
        "Kenji",
        "Luca",
        "Ezra",
        "Cyrus",
        "Dominic",
        "Reuben",
        "Tomas",
        "Wesley",
        "Nikolai",
        "Bennett",
        "Caleb",
        "Ansel",
        "Julian",
    ],
}
LAST = [
    "Abernathy",
    "Bellweather",
    "Castellanos",
    "Drummond",
    "Esparza",
    "Fairbanks",
    "Galloway",
    "Halvorsen",
    "Ibarra",
    "Jankowski",
    "Kettering",
    "Lindqvist",
    "Marchetti",
    "Nakamura",
    "Oyelaran",
    "Pellegrino",
    "Quintero",
    "Rasmussen",
    "Saltonstall",
    "Thibodeaux",
    "Underhill",
    "Valdivia",
    "Wexford",
    "Yarborough",
    "Zelinski",
    "Ashcombe",
    "Birchfield",
    "Coldwater",
    "Dunmore",
    "Everhart",
    "Fenwick",
    "Greenlaw",
    "Hollister",
    "Ivers",
    "Juniper",
    "Kingsley",
    "Larkspur",
    "Merriweather",
    "Northcott",
    "Osgood",
    "Pemberton",
    "Ravensworth",
    "Stillwater",
    "Trevino",
    "Umberger",
    "Vanterpool",
    "Whitlock",
    "Yardley",
    "Zamora",
    "Alderidge",
]
PLACES = {
    "OR": [("Portland", "972"), ("Salem", "973"), ("Eugene", "974"), ("Bend", "977"), ("Beaverton", "970")],
    "WA": [("Vancouver", "986"), ("Longview", "986"), ("Camas", "986")],
    "CA": [("Sacramento", "958"), ("Oakland", "946"), ("Davis", "956"), ("Berkeley", "947")],
}
STREETS = [
    "Alder St",
    "Birch Ave",
    "Cedar Ln",
    "Dogwood Ct",
    "Elm St",
    "Fir Rd",
    "Hawthorne Blvd",
    "Juniper Way",
    "Laurel St",
    "Madrona Ave",
    "Oak Grove Rd",
    "Pine St",
    "Riverside Dr",
    "Spruce Ct",
    "Willow Ln",
]
RELATIONS = ["Spouse", "Partner", "Mother", "Father", "Sister", "Brother", "Friend", "Adult child"]


def is_seeded() -> bool:
    return Organization.objects.filter(slug=ORGS["riverbend"]["slug"]).exists()


def reset() -> None:
    """Remove the demo world. The audit trail stays: history is never rewritten."""
    slugs = [o["slug"] for o in ORGS.values()]
    with transaction.atomic():
        orgs = Organization.objects.filter(slug__in=slugs)
        CareTeamMember.objects.filter(patient__practice__in=orgs).delete()
        Patient.objects.filter(practice__in=orgs).delete()
        Partnership.objects.filter(practice__in=orgs).delete()
        Membership.objects.filter(organization__in=orgs).delete()
        User.objects.filter(email__endswith=DEMO_DOMAIN_SUFFIX).delete()
        orgs.delete()


def _user(spec: DemoUser, orgs: dict[str, Organization]) -> User:
    user = User.objects.create_user(
        spec.email, PASSWORD, full_name=spec.full_name, credentials=spec.credentials, timezone=spec.timezone
    )
    MfaDevice.objects.create(user=user, secret=TOTP_SECRET)
    Membership.objects.create(user=user, organization=orgs[spec.org], role=spec.role)
    return user


def _patient(
    rng: random.Random,
    index: int,
    practice: Organization,
    state: str,
    payers: list[Payer],
    prefix: str,
    used: set[tuple[str, str]],
) -> Patient:
    sex = rng.choice([SexAtBirth.FEMALE, SexAtBirth.MALE])
    while True:
        first, last = rng.choice(FIRST[sex]), rng.choice(LAST)
        if (first, last) not in used:
            used.add((first, last))
            break
    city, zip3 = rng.choice(PLACES[state])
    age_days = rng.randint(19 * 365, 71 * 365)
    dob = datetime.date(2026, 11, 1) - datetime.timedelta(days=age_days)
    pronouns = {SexAtBirth.FEMALE: "she/her", SexAtBirth.MALE: "he/him"}[sex]
    gender = ""
    if index % 13 == 5:
        pronouns, gender = "they/them", "Nonbinary"
    language = Language.SPANISH if index % 7 == 3 else Language.ENGLISH
    payer = rng.choice(payers) if index % 9 else None
    return Patient(
        practice=practice,
        mrn=f"{prefix}-{index + 1:06d}",
        first_name=first,
        last_name=last,
        preferred_name=(first[:3] if index % 11 == 4 else ""),
        date_of_birth=dob,
        sex_at_birth=sex,
        gender_identity=gender,
        pronouns=pronouns,
        preferred_language=language,
        timezone=practice.timezone,
        email=f"{first.lower()}.{last.lower()}@example.com",
        phone=f"(503) 555-01{index % 100:02d}"
        if state == "OR"
        else f"(360) 555-01{index % 100:02d}"
        if state == "WA"
        else f"(916) 555-01{index % 100:02d}",
        address_line1=f"{rng.randint(100, 9899)} {rng.choice(STREETS)}",
        city=city,
        state=state,
        postal_code=f"{zip3}{rng.randint(0, 99):02d}",
        payer=payer,
        member_id=f"{(payer.code[:3].upper() if payer else 'NA')}{rng.randint(10_000_000, 99_999_999)}"
        if payer
        else "",
        emergency_contact_name=f"{rng.choice(FIRST[rng.choice(list(FIRST))])} {last}",
        emergency_contact_relationship=rng.choice(RELATIONS),
        emergency_contact_phone=f"(541) 555-01{(index * 7) % 100:02d}",
    )


DISCIPLINES = {
    "therapist@riverbend.demo": (Discipline.COUNSELOR, "1928374655"),
    "therapist2@riverbend.demo": (Discipline.SOCIAL_WORKER, "1746554322"),
    "prescriber@northstar.demo": (Discipline.PSYCHIATRIST, "1503987657"),
    "np@northstar.demo": (Discipline.PMHNP, "1612349872"),
    "therapist@lakeside.demo": (Discipline.MFT, "1432109878"),
}


def _credentials(users: dict[str, User], payers: dict[str, Payer], today: datetime.date) -> None:
    """Licences, DEA registrations and enrollments, with one WA licence close to expiry."""
    for email, (discipline, npi) in DISCIPLINES.items():
        ClinicianProfile.objects.create(user=users[email], discipline=discipline, npi=npi)
    verified = {"verification_source": "State board primary-source lookup", "verified_at": timezone.now()}
    priya, jordan = users["prescriber@northstar.demo"], users["np@northstar.demo"]
    licences = [
        (priya, "OR", LicenseType.MD, "MD-201944", datetime.date(2028, 6, 30)),
        # Renewal due: inside the 30-day alert window whenever the demo is built.
        (priya, "WA", LicenseType.MD, "MD60871234", today + datetime.timedelta(days=21)),
        (jordan, "OR", LicenseType.NP, "NP-208815", datetime.date(2027, 9, 30)),
        (jordan, "ID", LicenseType.NP, "NP-5521", datetime.date(2027, 12, 31)),
        (users["therapist@riverbend.demo"], "OR", LicenseType.LPC, "C-7431", datetime.date(2027, 6, 30)),
        (users["therapist2@riverbend.demo"], "OR", LicenseType.LCSW, "L-11209", datetime.date(2027, 10, 31)),
        (users["therapist2@riverbend.demo"], "WA", LicenseType.LCSW, "LW60990211", datetime.date(2027, 4, 30)),
        (users["therapist@lakeside.demo"], "CA", LicenseType.LMFT, "LMFT-118342", datetime.date(2027, 8, 31)),
    ]
    StateLicense.objects.bulk_create(
        StateLicense(
            clinician=who,
            state=state,
            license_type=kind,
            number=number,
            issued_on=datetime.date(2019, 7, 1),
            expires_on=expires,
            **verified,
        )
        for who, state, kind, number, expires in licences
    )
    DeaRegistration.objects.bulk_create(
        [
            DeaRegistration(
                clinician=priya,
                state="OR",
                number="FR1234563",
                schedules=["II", "III", "IV", "V"],
                issued_on=datetime.date(2024, 4, 1),
                expires_on=datetime.date(2027, 3, 31),
                **verified,
            ),
            DeaRegistration(
                clinician=jordan,
                state="OR",
                number="MJ7654329",
                schedules=["II", "III", "IV", "V"],
                issued_on=datetime.date(2024, 9, 1),
                expires_on=datetime.date(2027, 8, 31),
                **verified,
            ),
        ]
    )
    BoardCertification.objects.create(
        clinician=priya,
        board="American Board of Psychiatry and Neurology",
        specialty="Psychiatry",
        issued_on=datetime.date(2016, 9, 1),
        expires_on=datetime.date(2028, 12, 31),
        **verified,
    )
    enrollments = [
        (priya, "regence", "OR"),
        (priya, "regence", "WA"),
        (priya, "aetna", "OR"),
        (priya, "aetna", "WA"),
        (jordan, "providence", "OR"),
        (jordan, "ohp", "OR"),
    ]
    PayerEnrollment.objects.bulk_create(
        PayerEnrollment(clinician=who, payer=payers[code], state=state, issued_on=datetime.date(2025, 1, 1), **verified)
        for who, code, state in enrollments
    )


def seed() -> dict[str, User]:
    rng = random.Random(20261127)
    with transaction.atomic():
        orgs = {key: Organization.objects.create(**spec) for key, spec in ORGS.items()}
        Partnership.objects.create(
            practice=orgs["riverbend"], group=orgs["northstar"], starts_on=datetime.date(2026, 1, 5)
        )
        payers = [Payer.objects.get_or_create(code=code, defaults={"name": name})[0] for name, code in PAYERS]
        users = {spec.email: _user(spec, orgs) for spec in USERS}
        _credentials(users, {p.code: p for p in payers}, orgs["riverbend"].local_date())

        used: set[tuple[str, str]] = set()
        riverbend = [
            _patient(
                rng,
                i,
                orgs["riverbend"],
                "WA" if i % 5 == 2 else "OR",
                [p for p in payers if p.code not in {"blue-shield-ca"}],
                "RC",
                used,
            )
            for i in range(40)
        ]
        lakeside = [
            _patient(
                rng,
                i,
                orgs["lakeside"],
                "CA",
                [p for p in payers if p.code in {"aetna", "kaiser", "medicare", "blue-shield-ca"}],
                "LT",
                used,
            )
            for i in range(10)
        ]
        Patient.objects.bulk_create(riverbend + lakeside)

        team: list[CareTeamMember] = []
        start = datetime.date(2026, 1, 12)

        def add(patient: Patient, email: str, role: str, org: str, offset: int) -> None:
            team.append(
                CareTeamMember(
                    patient=patient,
                    user=users[email],
                    organization=orgs[org],
                    role=role,
                    starts_on=start + datetime.timedelta(days=offset),
                )
            )

        # Registered a few days before their first session, not on the day the demo was built.
        first_evening = timezone.make_aware(datetime.datetime.combine(start, datetime.time(17)))
        for step, group in ((5, riverbend), (9, lakeside)):
            for i, patient in enumerate(group):
                patient.created_at = first_evening + datetime.timedelta(days=i * step - 3)
        Patient.objects.bulk_update(riverbend + lakeside, ["created_at"])

        for i, patient in enumerate(riverbend):
            therapist = "therapist@riverbend.demo" if i < 20 else "therapist2@riverbend.demo"
            add(patient, therapist, CareTeamRole.PRIMARY_THERAPIST, "riverbend", i * 5)
            if i < 25:
                add(patient, "prescriber@northstar.demo", CareTeamRole.PRESCRIBER, "northstar", i * 5 + 14)
            elif i < 35:
                add(patient, "np@northstar.demo", CareTeamRole.PRESCRIBER, "northstar", i * 5 + 10)
            if i % 6 == 0:
                add(patient, "coordinator@northstar.demo", CareTeamRole.COORDINATOR, "northstar", i * 5 + 12)
        for i, patient in enumerate(lakeside):
            add(patient, "therapist@lakeside.demo", CareTeamRole.PRIMARY_THERAPIST, "lakeside", i * 9)
        CareTeamMember.objects.bulk_create(team)

        audit.record(
            actor=None,
            action=Action.CREATE,
            purpose="operations",
            meta=audit.SYSTEM,
            target_type="demo",
            detail={"patients": len(riverbend) + len(lakeside)},
        )
    return users


def sign_in_table() -> str:
    width = max(len(u.email) for u in USERS)
    lines = [f"  {'Sign-in'.ljust(width)}  Who", f"  {'-' * width}  ---"]
    lines += [f"  {u.email.ljust(width)}  {u.who}" for u in USERS]
    lines.append(f"\n  Password for all: {PASSWORD}")
    lines.append(f"  TOTP secret for all: {TOTP_SECRET}  (add it to an authenticator app,")
    lines.append("  or print the current code with: .venv/bin/tandem demo --code)")
    return "\n".join(lines)
