"""What one benchmark run is: its database, its secret, its signed-in sessions.

The generator writes a manifest; the load script, the audit check and the
server all read it, so every process of a run talks to the same database with
the same secret key (the session cookie is only valid under that key).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
RUNS_DIR = REPO / "var" / "bench"
RESULTS_DIR = BENCH_DIR / "results"
MANIFEST_NAME = "manifest.json"

# Sessions end after 15 idle minutes by default; the generator signs the
# session in up front, so give it the longest idle limit Tandem accepts.
IDLE_TIMEOUT_MINUTES = 240
# Tandem's settings, and the bench's own what-ifs (see bench/settings.py).
SETTING_PREFIXES = ("TANDEM_", "BENCH_")


@dataclass
class Manifest:
    run_dir: str
    database_url: str
    database_vendor: str  # "sqlite" or "postgresql"
    secret_key: str
    session_cookie_name: str
    session_key: str
    csrf_cookie_name: str
    csrf_secret: str
    therapist_display_name: str
    patients: int
    other_patients: int
    search_query: str
    search_matches: int
    chart_patient: str
    chart_patient_mrn: str
    audit_seq_after_generate: int
    # The partner group's prescriber on the chart patient's care team, and
    # what crosses the consent gate to them.
    prescriber_session_key: str = ""
    prescriber_csrf_secret: str = ""
    prescriber_display_name: str = ""
    prescriber_patients: int = 0
    shared_document: str = ""  # a Riverbend record of the chart patient the authorization covers
    shared_document_title: str = ""
    withheld_document_title: str = ""  # the chart patient's Part 2 record: never shown to the prescriber
    chart_documents: dict[str, int] = field(default_factory=dict)  # records each one's chart shows
    documents: int = 0
    authorizations: int = 0
    disclosure_id_after_generate: int = 0
    generator: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.run_dir) / MANIFEST_NAME

    def cookie_header(self, session: str = "therapist") -> str:
        """The Cookie header of the therapist's (or the prescriber's) browser tab."""
        # A browser tab sends its CSRF cookie back too; without it every page
        # would mint a new one and answer with an extra Set-Cookie.
        if session == "therapist":
            key, csrf = self.session_key, self.csrf_secret
        elif session == "prescriber":
            key, csrf = self.prescriber_session_key, self.prescriber_csrf_secret
        else:
            raise ValueError(f"no {session!r} session in the manifest")
        return f"{self.session_cookie_name}={key}; {self.csrf_cookie_name}={csrf}"

    def save(self) -> Path:
        path = self.path
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        # It holds the run's secret key and a live session: only for this user.
        path.chmod(0o600)
        return path

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if path.is_dir():
            path = path / MANIFEST_NAME
        return cls(**json.loads(path.read_text()))


def tandem_env(
    *, database_url: str, secret_key: str, data_dir: str, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment for every Django process of a run (generator, server, check).

    Inherited ``TANDEM_*`` (and ``BENCH_*``) variables are dropped, so a
    developer's shell (a Redis URL, a debug flag) cannot quietly change what
    is measured; pass ``overrides`` to vary a setting on purpose.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "TANDEM_DATABASE_URL": database_url,
            "TANDEM_SECRET_KEY": secret_key,
            "TANDEM_DATA_DIR": data_dir,
            # Production behaviour (no debug, JSON request log at INFO)...
            "TANDEM_DEBUG": "false",
            "TANDEM_LOG_LEVEL": "INFO",
            # ...over plain HTTP on loopback, with no collectstatic step.
            "TANDEM_SSL_REDIRECT": "false",
            "TANDEM_SECURE_COOKIES": "false",
            "TANDEM_HSTS_SECONDS": "0",
            "TANDEM_STATIC_MANIFEST": "false",
            "TANDEM_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TANDEM_IDLE_TIMEOUT_MINUTES": str(IDLE_TIMEOUT_MINUTES),
        }
    )
    env.update(overrides or {})
    # The repository must be importable for ``bench.settings``.
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), env.get("PYTHONPATH", "")] if p)
    return env


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``--server-env KEY=VALUE`` options, limited to Tandem's settings and the bench's what-ifs."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith(SETTING_PREFIXES):
            raise SystemExit(f"--server-env wants TANDEM_NAME=value or BENCH_NAME=value, not {pair!r}")
        overrides[key] = value
    return overrides
