"""Eligibility checks per second, against a bare primary-key lookup in the same run.

    python bench/eligibility.py [--clinicians 500] [--seconds 3] [--database-url postgres://.../tandem_bench]

It builds a fresh database of prescribers with licences in two to five states,
DEA registrations and payer enrollments, then measures, one after another in
one process:

* baseline: ``User.objects.get(pk=...)``, the cheapest query Django makes;
* a whole check: load one clinician's credentials (seven queries) and decide;
* the engine alone, on credentials already loaded;
* the coverage grid: every clinician by 56 jurisdictions, twice per cell.

Each figure is reported as operations per second and as a ratio to the
baseline, with the process's peak memory. Loops are bounded by count and time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database
from bench.generate import _peak_rss_mib, _setup_django
from bench.manifest import RESULTS_DIR, tandem_env

STATES = ["OR", "WA", "ID", "CA", "CO", "NY", "TX", "AZ", "NV", "UT"]
MAX_OPERATIONS = 2_000_000


def build(clinicians: int, seed: int) -> list[int]:
    from django.db import transaction

    from tandem.accounts.models import User
    from tandem.credentials import models as m
    from tandem.patients.models import Payer

    rng = random.Random(seed)
    today = datetime.date.today()
    with transaction.atomic():
        payers = [Payer.objects.create(name=f"Payer {i}", code=f"payer-{i}") for i in range(4)]
        users = User.objects.bulk_create(
            User(email=f"rx{i}@bench.test", full_name=f"Prescriber {i}", password="!") for i in range(clinicians)
        )
        m.ClinicianProfile.objects.bulk_create(
            m.ClinicianProfile(user=u, discipline=rng.choice([m.Discipline.PSYCHIATRIST, m.Discipline.PMHNP]))
            for u in users
        )
        licences, deas, enrollments = [], [], []
        for u in users:
            states = rng.sample(STATES, rng.randint(2, 5))
            for state in states:
                expires = today + datetime.timedelta(days=rng.randint(-30, 700))
                licences.append(
                    m.StateLicense(
                        clinician=u, state=state, license_type="MD", number=f"{state}-{u.pk}", expires_on=expires
                    )
                )
            deas.append(
                m.DeaRegistration(
                    clinician=u,
                    state=states[0],
                    number="FR1234563",
                    schedules=["II", "III", "IV", "V"],
                    expires_on=today + datetime.timedelta(days=500),
                )
            )
            for payer in rng.sample(payers, 2):
                enrollments.append(m.PayerEnrollment(clinician=u, payer=payer, state=states[0]))
        m.StateLicense.objects.bulk_create(licences)
        m.DeaRegistration.objects.bulk_create(deas)
        m.PayerEnrollment.objects.bulk_create(enrollments)
    return [u.pk for u in users]


def measure(name: str, operation: Callable[[int], object], seconds: float) -> dict[str, float]:
    """Run ``operation(i)`` until the time is up (or the count cap), after a short warm-up."""
    for i in range(200):
        operation(i)
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and count < MAX_OPERATIONS:
        for _ in range(50):
            operation(count)
            count += 1
    elapsed = time.perf_counter() - started
    return {"name": name, "operations": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clinicians", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL database to create afresh (name contains 'bench')"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tandem-eligibility-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        if database.vendor(url) == "postgresql":
            database.recreate_postgres(url)
        _setup_django(tandem_env(database_url=url, secret_key=secrets.token_urlsafe(50), data_dir=tmp))
        from django.core.management import call_command
        from django.utils import timezone

        from tandem.accounts.models import User
        from tandem.credentials.eligibility import Action, decide, load_credentials
        from tandem.credentials.selectors import COVERAGE_CONTROLLED_DRUG
        from tandem.lib.us_states import US_STATES

        call_command("migrate", verbosity=0, interactive=False)
        ids = build(args.clinicians, seed=20261127)
        now = timezone.now()
        loaded = load_credentials(ids)
        rng = random.Random(7)
        picks = [rng.choice(ids) for _ in range(4096)]
        states = [code for code, _ in US_STATES]

        def baseline(i: int) -> object:
            return User.objects.get(pk=picks[i % 4096])

        def whole_check(i: int) -> object:
            pk = picks[i % 4096]
            return decide(
                load_credentials([pk])[pk],
                state=STATES[i % len(STATES)],
                at=now,
                action=Action.PRESCRIBE,
                drug="clonazepam",
            )

        def engine_only(i: int) -> object:
            return decide(
                loaded[picks[i % 4096]],
                state=states[i % len(states)],
                at=now,
                action=Action.PRESCRIBE,
                drug=COVERAGE_CONTROLLED_DRUG,
            )

        results = [
            measure("baseline: User.objects.get(pk=...)", baseline, args.seconds),
            measure("whole check: load credentials + decide", whole_check, args.seconds),
            measure("engine only: decide on loaded credentials", engine_only, args.seconds),
        ]
        grid_started = time.perf_counter()
        grid = load_credentials(ids)
        for pk in ids:
            for state in states:
                decide(grid[pk], state=state, at=now, action=Action.SEE)
                decide(grid[pk], state=state, at=now, action=Action.PRESCRIBE, drug=COVERAGE_CONTROLLED_DRUG)
        grid_seconds = time.perf_counter() - grid_started
        vendor = database.vendor(url)
        if vendor == "postgresql":
            from django.db import connections

            connections.close_all()
            database.drop_postgres(url)

    base = results[0]["per_second"]
    for row in results:
        row["ratio_to_baseline"] = round(row["per_second"] / base, 3)
    report = {
        "vendor": vendor,
        "clinicians": args.clinicians,
        "results": results,
        "coverage_grid": {"cells": args.clinicians * len(states), "seconds": round(grid_seconds, 3)},
        "peak_rss_mib": _peak_rss_mib(),
    }
    print(f"Eligibility bench: {vendor}, {args.clinicians} clinicians")
    print(f"{'measure':45} {'per second':>12} {'× baseline':>11}")
    for row in results:
        print(f"{row['name']:45} {row['per_second']:>12,.0f} {row['ratio_to_baseline']:>11.3f}")
    print(f"coverage grid: {report['coverage_grid']['cells']:,} cells in {grid_seconds:.2f} s")
    print(f"peak RSS: {report['peak_rss_mib']} MiB")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"{stamp}-eligibility-{vendor}-{args.clinicians}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
