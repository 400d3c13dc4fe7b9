from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from tandem.lib.env import ConfigError, env_bool, env_int
from tandem.test import Cast, sign_in

PRODUCTION = {
    "TANDEM_DEBUG": "false",
    "TANDEM_SECRET_KEY": "p" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz!@#$%",
    "TANDEM_ALLOWED_HOSTS": "tandem.example.org",
    "TANDEM_STATIC_MANIFEST": "true",
    "TANDEM_SSL_REDIRECT": "true",
    "TANDEM_SECURE_COOKIES": "true",
    "TANDEM_HSTS_SECONDS": "31536000",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    return subprocess.run(
        [sys.executable, "-m", "tandem.cli", *args], env=clean, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_deploy_passes_with_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TANDEM_SECRET_KEY", "short", "TANDEM_SECRET_KEY must be a random value"),
        ("TANDEM_DEBUG", "maybe", "TANDEM_DEBUG must be true or false"),
        ("TANDEM_IDLE_TIMEOUT_MINUTES", "0", "TANDEM_IDLE_TIMEOUT_MINUTES must be at least 1"),
        ("TANDEM_DATABASE_URL", "mysql://x@y/z", "TANDEM_DATABASE_URL must point at SQLite or PostgreSQL"),
        ("TANDEM_REDIS_URL", "http://redis", "TANDEM_REDIS_URL must start with"),
        ("TANDEM_EMAIL_BACKEND", "pigeon", "TANDEM_EMAIL_BACKEND must be one of"),
    ],
)
def test_a_bad_setting_stops_start_up_and_names_itself(name: str, value: str, message: str) -> None:
    result = manage("check", env={**PRODUCTION, name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_env_helpers_parse_and_refuse() -> None:
    assert env_bool("X", False, {"X": "yes"}) is True
    assert env_int("X", 3, environ={}) == 3
    with pytest.raises(ConfigError, match="X must be a whole number"):
        env_int("X", 3, environ={"X": "three"})


@pytest.mark.django_db
def test_request_logs_hold_no_health_information(cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    from tandem.lib.request_log import JsonFormatter

    client = sign_in(Client(), cast.therapist)
    with caplog.at_level(logging.INFO, logger="tandem.request"):
        client.get(reverse("patients:chart", args=[cast.patient.public_id]))
        client.get(reverse("patients:list") + "?q=Quintero")
    lines = [JsonFormatter().format(record) for record in caplog.records if record.name == "tandem.request"]
    assert len(lines) == 2
    parsed = [json.loads(line) for line in lines]
    assert parsed[0]["route"] == "patients:chart" and parsed[0]["status"] == 200
    text = "\n".join(lines)
    for secret in ["Quintero", "Avery", str(cast.patient.public_id), "1988-04-02", cast.patient.mrn]:
        assert secret not in text


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(cast: Cast) -> None:
    response = sign_in(Client(), cast.therapist).get(reverse("home:today"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["Cache-Control"] == "no-store"
    assert b"<script>" not in response.content


def test_templates_hold_no_inline_script_or_style() -> None:
    """The CSP forbids them; one would break silently in the browser."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for template in root.rglob("templates/**/*.html"):
        if "pdf" in template.parent.parts:
            continue  # drawn into PDFs by WeasyPrint, never served to a browser
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\sstyle=\"", text) or "<style" in text:
            offenders.append(str(template.relative_to(root)))
        if re.search(r"\son[a-z]+=\"", text):
            offenders.append(str(template.relative_to(root)) + " (inline event handler)")
    assert not offenders
