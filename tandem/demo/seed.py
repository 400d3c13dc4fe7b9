"""The demo world: two practices, one psychiatric group, fifty fictional patients.

Every person here is invented. Phone numbers are in the 555-01xx range kept
for fiction, email addresses are on example.com, and member IDs are made up.
So are the chart records and the authorizations: most patients Riverbend
shares with Northstar have signed one, and a few show the other states a
consent can be in (revoked, expired, waiting for signature).
"""

from __future__ import annotations

import datetime
import hashlib
import random
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone

from tandem.access.classes import TREATMENT_CLASSES, InfoClass
from tandem.accounts.models import MfaDevice, User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent import documents
from tandem.consent import services as consent
from tandem.consent.models import (
    Authorization,
    BreakGlass,
    Disclosure,
    SignedVia,
    SignerRole,
    SigningLink,
    Status,
)
from tandem.consent.pdf import render_pdf
from tandem.credentials.models import (
    BoardCertification,
    ClinicianProfile,
    DeaRegistration,
    Discipline,
    LicenseType,
    PayerEnrollment,
    StateLicense,
)
from tandem.demo.care import remove_care, seed_care
from tandem.demo.measures import remove_measures, seed_measures
from tandem.demo.notes import seed_notes
from tandem.demo.referrals import remove_referrals, seed_referrals
from tandem.demo.schedule import schedule_world
from tandem.demo.threads import remove_threads, seed_threads
from tandem.demo.video import seed_video
from tandem.organizations.models import Membership, Organization, OrganizationKind, Partnership, Role
from tandem.patients.models import CareTeamMember, CareTeamRole, Language, Patient, Payer, SexAtBirth
from tandem.records.models import Document, PsychotherapyNote
from tandem.scheduling.models import Appointment, AppointmentType, Participant, SchedulingRules, WeeklyHours

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


ORGS: dict[str, dict[str, Any]] = {
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
        # For contrast with Riverbend: this practice shares for treatment without asking first.
        "treatment_sharing_requires_authorization": False,
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
        mine = {"patient__practice__in": orgs}
        remove_referrals(orgs)  # they hold on to patients, people and appointments
        authorizations = Authorization.objects.filter(**mine)
        pdfs = [name for name in authorizations.exclude(pdf="").values_list("pdf", flat=True) if name]
        # The accounting of disclosures, emergency access and chart records hold
        # on to patients and people: they go first.
        Disclosure.objects.filter(**mine).delete()
        BreakGlass.objects.filter(**mine).delete()
        authorizations.delete()  # with their signing links
        remove_threads(orgs)
        remove_measures(orgs)
        remove_care(orgs)
        documents = Document.objects.filter(**mine)
        # Newest versions first: each version holds on to the one it amends.
        for version in sorted(set(documents.values_list("version", flat=True)), reverse=True):
            documents.filter(version=version).delete()
        Participant.objects.filter(appointment__organization__in=orgs).delete()
        Appointment.objects.filter(organization__in=orgs).delete()
        AppointmentType.objects.filter(organization__in=orgs).delete()
        WeeklyHours.objects.filter(organization__in=orgs).delete()
        SchedulingRules.objects.filter(clinician__email__endswith=DEMO_DOMAIN_SUFFIX).delete()
        PsychotherapyNote.objects.filter(**mine).delete()
        CareTeamMember.objects.filter(patient__practice__in=orgs).delete()
        Patient.objects.filter(practice__in=orgs).delete()
        Partnership.objects.filter(practice__in=orgs).delete()
        Membership.objects.filter(organization__in=orgs).delete()
        User.objects.filter(email__endswith=DEMO_DOMAIN_SUFFIX).delete()
        orgs.delete()
        transaction.on_commit(lambda: _delete_files(pdfs))


def _delete_files(names: list[str]) -> None:
    """The signed PDFs of the removed authorizations, once their rows are gone for good."""
    field = Authorization._meta.get_field("pdf")
    if isinstance(field, models.FileField):
        for name in names:
            field.storage.delete(name)


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
# The languages each prescriber sees patients in: referrals are matched on them.
LANGUAGES = {"prescriber@northstar.demo": ["en", "es"], "np@northstar.demo": ["en"]}


def _credentials(users: dict[str, User], payers: dict[str, Payer], today: datetime.date) -> None:
    """Licences, DEA registrations and enrollments, with one WA licence close to expiry."""
    for email, (discipline, npi) in DISCIPLINES.items():
        ClinicianProfile.objects.create(
            user=users[email], discipline=discipline, npi=npi, languages=LANGUAGES.get(email, [])
        )
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


# --- Consent and the chart ------------------------------------------------------------------
#
# Riverbend patients 0-34 have a Northstar prescriber; the shared ones below are
# picked by that index. Most have signed a coordination authorization; these
# show the other states, and patients 22, 33 and 34 have not been asked yet.
SHOWCASE = 0  # full chart from both sides, and a psychotherapy note
REVOKED = 4  # revoked in writing; the prescriber then used emergency access
PART2 = 6  # coordination plus a Part 2 consent, and a Part 2 record
EXPIRED = 9  # a six-month authorization that ran out
PENDING = 13  # a form waiting for signature, its link sent by email
NP_SHOWCASE = 26  # a patient of the psychiatric NP, with records from both sides
NOT_ASKED = frozenset({22, 33, 34})
SIGNED_TODAY = 31  # signed through the signing service at the moment the demo is built

PART2_EXPIRY_EVENT = "When I stop treatment at Northstar Psychiatry"


@dataclass(frozen=True)
class DemoRecord:
    patient: int
    author: str
    org: str
    info_class: str
    title: str
    body: str
    # Days before the demo is built, or days after the author joined the care team.
    days_ago: int | None = None
    after_start: int | None = None
    part2: bool = False


def _records(today: datetime.date) -> list[DemoRecord]:
    """Short, invented chart records. Nothing here is psychotherapy-note content."""

    def day(days: int) -> str:
        d = today + datetime.timedelta(days=days)
        return f"{d:%a %b} {d.day}"

    maya, samuel = "therapist@riverbend.demo", "therapist2@riverbend.demo"
    priya, jordan = "prescriber@northstar.demo", "np@northstar.demo"
    return [
        DemoRecord(
            SHOWCASE,
            maya,
            "riverbend",
            InfoClass.ASSESSMENTS,
            "Intake PHQ-9 and GAD-7 scores",
            "PHQ-9: 17 (moderately severe); item 9 scored 0.\n"
            "GAD-7: 12 (moderate).\n"
            "Sleep onset 60-90 minutes most nights; appetite reduced for about two months.\n"
            "No prior psychiatric hospitalization. Re-screen every six sessions.",
            after_start=1,
        ),
        DemoRecord(
            SHOWCASE,
            maya,
            "riverbend",
            InfoClass.DIAGNOSES,
            "Working diagnoses",
            "F33.1 Major depressive disorder, recurrent, moderate.\n"
            "Rule out F41.1 Generalized anxiety disorder; revisit after the next GAD-7.\n"
            "AUDIT-C 1: no substance use disorder identified at intake.",
            after_start=1,
        ),
        DemoRecord(
            SHOWCASE,
            maya,
            "riverbend",
            InfoClass.CARE_PLAN,
            "Treatment plan draft",
            "Goal 1: back to three days a week at her part-time library job.\n"
            "Goal 2: PHQ-9 below 10 within twelve weeks.\n"
            "Weekly CBT with behavioral activation; review the plan at session 12.\n"
            "Referred to Northstar Psychiatry for a medication evaluation.",
            after_start=8,
        ),
        DemoRecord(
            SHOWCASE,
            maya,
            "riverbend",
            InfoClass.PROGRESS_NOTES,
            "Session 38 — DAP note",
            "D: On time. Sleeping about six hours most nights since the sertraline went up; walked three "
            "mornings this week, as planned.\n"
            "A: Mood brighter, affect full range. PHQ-9 today 8 (17 at intake). No safety concerns.\n"
            "P: Continue weekly sessions and the activity log. Share the PHQ-9 trend with Dr. Raman before "
            "her next medication visit.",
            9,
        ),
        DemoRecord(
            SHOWCASE,
            priya,
            "northstar",
            InfoClass.PROGRESS_NOTES,
            "Psychiatric evaluation summary",
            "Referred by Maya Ortiz, LPC, for recurrent depression.\n"
            "Two prior episodes; partial response to fluoxetine in 2019, stopped for stomach upset.\n"
            "Mental status: cooperative, mood 'flat', thought process linear; denies suicidal or homicidal "
            "ideation.\n"
            "Plan: sertraline 25 mg daily for one week, then 50 mg. TSH and CMP ordered. Follow-up in four weeks.",
            after_start=0,
        ),
        DemoRecord(
            SHOWCASE,
            priya,
            "northstar",
            InfoClass.MEDICATIONS,
            "Medication list from primary care",
            "Received from her primary care clinic and reconciled at the evaluation:\n"
            "Lisinopril 10 mg once daily\n"
            "Atorvastatin 20 mg at bedtime\n"
            "Vitamin D3 2,000 IU daily\n"
            "No known drug allergies.",
            after_start=0,
        ),
        DemoRecord(
            SHOWCASE,
            priya,
            "northstar",
            InfoClass.APPOINTMENTS,
            "Upcoming visits",
            f"{day(12)}, 10:30 — medication follow-up with Dr. Raman (video).\n"
            f"{day(5)} and weekly after, 16:00 — therapy with Maya Ortiz, LPC.\n"
            "Labs (TSH, CMP) due before the medication follow-up.",
            2,
        ),
        DemoRecord(
            REVOKED,
            maya,
            "riverbend",
            InfoClass.DIAGNOSES,
            "Working diagnoses",
            "F32.1 Major depressive disorder, single episode, moderate.\n"
            "G47.00 Insomnia, unspecified; likely related to rotating night shifts.",
            after_start=2,
        ),
        DemoRecord(
            REVOKED,
            maya,
            "riverbend",
            InfoClass.PROGRESS_NOTES,
            "Session 31 — DAP note",
            "D: Missed last week's session. Back on rotating night shifts; sleeping in two blocks.\n"
            "A: Low energy, mood 'okay'. PHQ-9 today 13. Denies suicidal ideation.\n"
            "P: Sleep-schedule worksheet; talk with his supervisor about fixed shifts. Next session in one week.",
            30,
        ),
        DemoRecord(
            REVOKED,
            priya,
            "northstar",
            InfoClass.PROGRESS_NOTES,
            "Psychiatric evaluation summary",
            "Referred by Maya Ortiz, LPC, for depression with insomnia.\n"
            "No prior medication trials. Drinks 1-2 energy drinks per shift.\n"
            "Plan: bupropion XL 150 mg each morning; sleep hygiene handout; follow-up in six weeks.",
            after_start=0,
        ),
        DemoRecord(
            PART2,
            maya,
            "riverbend",
            InfoClass.PROGRESS_NOTES,
            "Alcohol use follow-up",
            "D: Reports 4 drinking days in the past two weeks, down from daily; none in the last five days. "
            "Attending a peer support group weekly.\n"
            "A: AUDIT-C 6 (10 at intake). Cravings mostly in the early evening.\n"
            "P: Continue the relapse-prevention plan; ask Dr. Raman about naltrexone.",
            7,
            part2=True,
        ),
        DemoRecord(
            PENDING,
            maya,
            "riverbend",
            InfoClass.ASSESSMENTS,
            "Intake PHQ-9 and GAD-7 scores",
            "PHQ-9: 9 (mild).\nGAD-7: 15 (severe); panic symptoms on workday mornings.\nRe-screen at session 6.",
            after_start=1,
        ),
        DemoRecord(
            NP_SHOWCASE,
            samuel,
            "riverbend",
            InfoClass.PROGRESS_NOTES,
            "Session 13 — DAP note",
            "D: Started a new job two weeks ago. Using the breathing exercise before meetings.\n"
            "A: GAD-7 today 8 (14 at intake). Sleep improved; still wakes around 4 a.m. twice a week.\n"
            "P: Continue every other week; exposure hierarchy for presentations.",
            6,
        ),
        DemoRecord(
            NP_SHOWCASE,
            jordan,
            "northstar",
            InfoClass.MEDICATIONS,
            "Medication list",
            "Escitalopram 10 mg once daily (since the first visit)\n"
            "Hydroxyzine 25 mg at bedtime as needed for sleep\n"
            "Albuterol inhaler as needed (prescribed by primary care)",
            20,
        ),
        DemoRecord(
            NP_SHOWCASE,
            jordan,
            "northstar",
            InfoClass.APPOINTMENTS,
            "Upcoming visits",
            f"{day(9)}, 09:00 — medication check with Jordan Ellis, PMHNP-BC (video).\n"
            f"{day(3)}, 17:00 — therapy with Samuel Okafor, LCSW.",
            1,
        ),
    ]


PSYCHOTHERAPY_NOTE = (
    "Talked about her sister for the first time without changing the subject; a long pause first.\n"
    "I noticed a pull to reassure her and held back.\n"
    "Working idea: grief about the move is still unspoken. Listen for it as the holidays come up."
)

BREAK_GLASS_REASON = (
    "Paged overnight by an emergency department: the patient came in drowsy and confused after a possible "
    "medication interaction. I need his recent notes and diagnoses to advise the ED physician."
)


def _local(day: datetime.date, hour: int, minute: int, zone: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(zone))


def _coordination(
    patient: Patient, orgs: dict[str, Organization], actor: User, expires_on: datetime.date
) -> Authorization:
    return consent.prepare(
        actor=actor,
        patient=patient,
        template_key="coordination",
        discloser=orgs["riverbend"],
        recipient=orgs["northstar"],
        mutual=True,
        classes=list(TREATMENT_CLASSES),
        purpose=documents.load("coordination").purpose_default,
        expires_on=expires_on,
        expiry_event="",
        meta=audit.SYSTEM,
    )


def _signed_in_office(
    authorization: Authorization,
    witness: User,
    signed_at: datetime.datetime,
    expires_on: datetime.date | None = None,
) -> None:
    """Signed in the office on a past day: the fields and the real PDF ``consent.sign``
    would have made then. (The service stamps the present moment, and its PDF shows it.)
    An expiry date already past when the demo is built is set here, the text with it,
    since preparing refuses one."""
    a = authorization
    template = documents.load(a.template_key, a.template_version)
    if expires_on is not None and expires_on != a.expires_on:
        a.expires_on = expires_on
        a.text = documents.render(template, consent._fields_for(a, a.patient))
    a.created_at = signed_at - datetime.timedelta(minutes=12)
    a.status = Status.SIGNED
    a.signed_at = signed_at
    a.signed_via = SignedVia.OFFICE
    a.signer_name = a.patient.full_name
    a.signer_role = SignerRole.PATIENT
    a.witnessed_by = witness
    content = render_pdf(
        "consent/pdf/authorization.html", {"authorization": a, "template": template, "patient": a.patient}
    )
    a.pdf_sha256 = hashlib.sha256(content).hexdigest()
    a.pdf.save("signed.pdf", ContentFile(content), save=False)
    a.save()


def _consent_world(
    orgs: dict[str, Organization],
    users: dict[str, User],
    riverbend: list[Patient],
    team: list[CareTeamMember],
) -> None:
    rng = random.Random(20261128)
    now = timezone.now()
    zone = orgs["riverbend"].timezone
    today = orgs["riverbend"].local_date(now)
    admin = users["admin@riverbend.demo"]
    members: dict[int, dict[str, CareTeamMember]] = {}
    for m in team:
        members.setdefault(m.patient.pk, {})[m.role] = m

    def therapist(p: Patient) -> User:
        return members[p.pk][CareTeamRole.PRIMARY_THERAPIST].user

    def both_since(p: Patient) -> datetime.date:
        roles = members[p.pk]
        return max(roles[CareTeamRole.PRIMARY_THERAPIST].starts_on, roles[CareTeamRole.PRESCRIBER].starts_on)

    def office_time(day: datetime.date) -> datetime.datetime:
        return _local(day, rng.randint(9, 16), rng.choice([0, 10, 20, 30, 40, 50]), zone)

    shared = [p for p in riverbend if CareTeamRole.PRESCRIBER in members.get(p.pk, {})]
    signed: dict[int, Authorization] = {}
    for i, patient in enumerate(shared):
        if i in NOT_ASKED or i == PENDING:
            continue
        if i == SIGNED_TODAY:
            a = _coordination(patient, orgs, therapist(patient), today + datetime.timedelta(days=365))
            signed[i] = consent.sign(
                authorization=a,
                signature=consent.Signature(name=patient.full_name, agreed=True, role=SignerRole.PATIENT),
                via=SignedVia.OFFICE,
                ip_address=None,
                meta=audit.SYSTEM,
                witness=therapist(patient),
            )
            continue
        if i == EXPIRED:
            # Asked for six months only; it ran out some weeks ago.
            expires_on = today - datetime.timedelta(days=40)
            signed_on = max(expires_on - datetime.timedelta(days=182), both_since(patient) + datetime.timedelta(days=3))
        else:
            signed_on = max(
                today - datetime.timedelta(days=rng.randint(60, 180)),
                both_since(patient) + datetime.timedelta(days=rng.randint(2, 10)),
            )
            signed_on = min(signed_on, today - datetime.timedelta(days=7))
            expires_on = signed_on + datetime.timedelta(days=365)
        a = _coordination(patient, orgs, therapist(patient), max(expires_on, today))
        _signed_in_office(a, therapist(patient), office_time(signed_on), expires_on)
        signed[i] = a

    # Revoked: the patient wrote to the practice; the admin recorded it two days later.
    letter = today - datetime.timedelta(days=21)
    revoked = consent.revoke(
        actor=admin,
        authorization=signed[REVOKED],
        note=f"Patient asked in writing on {letter:%B} {letter.day}, {letter.year} to stop sharing with "
        "Northstar Psychiatry.",
        meta=audit.SYSTEM,
    )
    Authorization.objects.filter(pk=revoked.pk).update(
        revoked_at=_local(letter + datetime.timedelta(days=2), 10, 15, zone)
    )

    # Part 2: consented today, on top of the coordination authorization.
    part2_patient = shared[PART2]
    part2 = consent.prepare(
        actor=therapist(part2_patient),
        patient=part2_patient,
        template_key="part2",
        discloser=orgs["riverbend"],
        recipient=orgs["northstar"],
        mutual=False,
        classes=[InfoClass.PART2],
        purpose=documents.load("part2").purpose_default,
        expires_on=None,
        expiry_event=PART2_EXPIRY_EVENT,
        meta=audit.SYSTEM,
    )
    consent.sign(
        authorization=part2,
        signature=consent.Signature(name=part2_patient.full_name, agreed=True, role=SignerRole.PATIENT),
        via=SignedVia.OFFICE,
        ip_address=None,
        meta=audit.SYSTEM,
        witness=therapist(part2_patient),
    )

    # Waiting for signature: the link went out by email (the token lives only in the message).
    pending_patient = shared[PENDING]
    pending = _coordination(pending_patient, orgs, therapist(pending_patient), today + datetime.timedelta(days=365))
    consent.send_link(
        actor=therapist(pending_patient), authorization=pending, channel=SigningLink.Channel.EMAIL, meta=audit.SYSTEM
    )

    # Chart records, and one therapist's private process note.
    documents_ = []
    for spec in _records(today):
        patient = shared[spec.patient]
        author = users[spec.author]
        since = next(m.starts_on for m in members[patient.pk].values() if m.user == author)
        if spec.after_start is not None:
            occurred_on = since + datetime.timedelta(days=spec.after_start)
        else:
            occurred_on = max(today - datetime.timedelta(days=spec.days_ago or 0), since)
        documents_.append(
            Document(
                patient=patient,
                organization=orgs[spec.org],
                author=author,
                info_class=spec.info_class,
                part2=spec.part2,
                title=spec.title,
                body=spec.body,
                occurred_on=occurred_on,
                created_at=min(_local(occurred_on, 17, 40, zone), now),
            )
        )
    Document.objects.bulk_create(documents_)
    showcase = shared[SHOWCASE]
    session = today - datetime.timedelta(days=9)
    PsychotherapyNote.objects.create(
        patient=showcase,
        organization=orgs["riverbend"],
        author=therapist(showcase),
        body=PSYCHOTHERAPY_NOTE,
        occurred_on=session,
        created_at=min(_local(session, 17, 55, zone), now),
    )

    # Emergency access after the revocation, over and waiting for the privacy review.
    revoked_patient = shared[REVOKED]
    prescriber = members[revoked_patient.pk][CareTeamRole.PRESCRIBER].user
    grant = consent.break_glass(actor=prescriber, patient=revoked_patient, reason=BREAK_GLASS_REASON, meta=audit.SYSTEM)
    started = _local(today - datetime.timedelta(days=6), 2, 35, prescriber.timezone)
    BreakGlass.objects.filter(pk=grant.pk).update(
        started_at=started, expires_at=started + datetime.timedelta(minutes=settings.BREAK_GLASS_MINUTES)
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
        _consent_world(orgs, users, riverbend, team)
        schedule_world(orgs, users, riverbend, lakeside)
        seed_referrals(orgs, users)
        seed_video(orgs, users)
        seed_notes(orgs, users, riverbend)
        seed_threads(orgs, users, riverbend)
        seed_measures(orgs, users, riverbend)
        seed_care(orgs, users, riverbend)

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
