"""Generate, load, check: the whole benchmark in one command (``make bench``).

    python bench/run.py [--patients 2000] [--database-url postgres://.../tandem_bench] [--seconds 5]

1. ``generate.py`` builds a fresh database and a signed-in session, in its own
   process so its peak memory is its own;
2. ``load.py`` serves it with gunicorn and measures each endpoint with wrk;
3. ``check.py`` walks the audit chain the load appended to and counts the
   audit and disclosure rows the load added.

Results go to bench/results/ as JSON and are printed as a table. The run
directory (and a PostgreSQL database) is removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, generate, load
from bench.manifest import BENCH_DIR, REPO, Manifest


def _python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The generator and the check set up Django with the run's settings;
    # separate processes keep those (and their memory) out of this one.
    # Inherited TANDEM_* settings are dropped inside each script.
    return subprocess.run(
        [sys.executable, str(BENCH_DIR / script), *args], cwd=REPO, text=True, capture_output=True, check=False
    )


def _clean_up(run_dir: Path, postgres_url: str) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
    if postgres_url:
        try:
            database.drop_postgres(postgres_url)
        except Exception as exc:  # psycopg raises several types; the run's own error matters more
            print(f"Could not drop the bench database: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    load.unwind_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=generate.DEFAULT_PATIENTS)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TANDEM_DATABASE_URL", ""),
        help="PostgreSQL database to create afresh (its name must contain 'bench'); default SQLite",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory and database")
    load.add_load_arguments(parser)
    args = parser.parse_args(argv)
    options = load.options_from(args)
    load.wrk_path()  # fail before generating anything

    vendor = database.vendor(args.database_url) if args.database_url else "sqlite"
    if vendor == "postgresql":
        database.postgres_name(args.database_url)  # refuse a non-bench database before touching anything
    run_dir = generate.default_run_dir(vendor, args.patients)
    try:
        print(f"Generating {args.patients:,} patients on {vendor} in {run_dir.relative_to(REPO)} ...", flush=True)
        gen_args = ["--patients", str(args.patients), "--run-dir", str(run_dir)]
        if args.database_url:
            gen_args += ["--database-url", args.database_url]
        generated = _python("generate.py", *gen_args)
        if generated.returncode != 0:
            print(generated.stdout + generated.stderr, file=sys.stderr)
            return 1
        print("  " + generated.stdout.splitlines()[0], flush=True)

        print("Load:", flush=True)
        results = load.run_load(Manifest.load(run_dir), options)
        checked = _python("check.py", str(run_dir))
        if checked.returncode not in (0, 1):
            print(checked.stdout + checked.stderr, file=sys.stderr)
            return 1
        audit = json.loads(checked.stdout)
        results["audit"] = audit
        if not audit["chain_ok"]:
            results["problems"].append(f"audit chain: {audit['chain']}")
        path = load.write_results(results, args.results_dir)
    finally:
        if not args.keep:
            _clean_up(run_dir, args.database_url if vendor == "postgresql" else "")

    print()
    print(load.format_table(results))
    rows = ", ".join(f"{n:,} {what}" for what, n in audit["rows_appended_by_load"].items())
    print(f"Audit: the load appended {rows}; {audit['chain']}")
    disclosed = audit.get("disclosures_added_by_load", {})
    print(
        "Disclosures: the load added "
        + (", ".join(f"{n:,} {what}" for what, n in disclosed.items()) if disclosed else "none")
    )
    print(f"\nResults: {path}" + (f"\nRun directory kept: {run_dir}" if args.keep else ""))
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
