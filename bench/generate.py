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

The database is SQLite in a new run directory unless ``--database-url`` (or
``TANDEM_DATABASE_URL``) names a PostgreSQL database, which is dropped and
created afresh; its name must contain "bench". The run's manifest (database,
secret key, session cookie, the patient whose chart is loaded) is written to
the run directory for ``bench/load.py``.
"""

from __future__ import annotations

import argparse
import datetime
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
    from tandem.organizations.models import Organization
    from tandem.patients.models import Patient, Payer

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


@dataclass(frozen=True)
class World:
    """The generated people the load is about."""

    therapist: User
    chart_patient: Patient
    patients: int
    other_patients: int


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
) -> None:
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
    CareTeamMember.objects.bulk_create(rows, batch_size=1000)


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
    today = timezone.now().date()
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
        _care_teams(rng, ours, riverbend_staff, riverbend, northstar, prescribers, today, full_team_first=True)
        _care_teams(rng, theirs, lakeside_staff, lakeside, None, [], today, full_team_first=False)

    return World(
        therapist=riverbend_staff.therapists[0], chart_patient=ours[0], patients=patients, other_patients=other_patients
    )


def describe(world: World) -> dict[str, Any]:
    """Sign the therapist in and note what the load will ask for (the
    run-specific fields of the Manifest)."""
    from django.conf import settings
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

    from tandem.audit.models import AuditEvent
    from tandem.patients.selectors import search_patients

    therapist, chart_patient = world.therapist, world.chart_patient
    therapist.refresh_from_db()  # the session's auth hash is derived from the password
    # The chart under load is the therapist's own patient with a full team
    # (prescriber, coordinator, a therapist who left); the search looks for
    # that patient's last name, as a clinician would.
    query = chart_patient.last_name
    return {
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        "session_key": _signed_in_session(therapist),
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "csrf_secret": "".join(secrets.choice(CSRF_ALLOWED_CHARS) for _ in range(CSRF_SECRET_LENGTH)),
        "therapist_display_name": therapist.display_name,
        "patients": world.patients,
        "other_patients": world.other_patients,
        "search_query": query,
        "search_matches": search_patients(therapist, query=query).count(),
        "chart_patient": str(chart_patient.public_id),
        "chart_patient_mrn": chart_patient.mrn,
        "audit_seq_after_generate": AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0,
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
        f"Generated {manifest.patients:,} + {manifest.other_patients:,} patients on {manifest.database_vendor} "
        f"(migrate {gen['migrate_seconds']} s, data {gen['populate_seconds']} s, peak RSS {gen['peak_rss_mib']} MiB, "
        f"{gen['peak_rss_before_password_hash_mib']} MiB before the one argon2 hash)"
    )
    print(manifest.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
