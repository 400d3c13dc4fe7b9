"""Expiry alerts: the right windows, to the right people, each exactly once."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client

from tandem.credentials.alerts import sweep_expiring_credentials
from tandem.credentials.models import ExpiryAlert, LicenseType, StateLicense
from tandem.messaging.models import Notification
from tandem.test import Cast, sign_in

TODAY = datetime.date(2026, 11, 27)
NOW = datetime.datetime(2026, 11, 27, 18, 0, tzinfo=datetime.UTC)


def licence(cast: Cast, expires: datetime.date, state: str = "WA") -> StateLicense:
    return StateLicense.objects.create(
        clinician=cast.prescriber,
        state=state,
        license_type=LicenseType.MD,
        number=f"MD-{uuid.uuid4().hex[:6]}",
        expires_on=expires,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days_left", "window"), [(95, None), (90, 90), (61, 90), (45, 60), (30, 30), (8, 30), (7, 7), (0, 7), (-1, None)]
)
def test_the_tightest_window_reached_is_the_one_sent(cast: Cast, days_left: int, window: int | None) -> None:
    licence(cast, TODAY + datetime.timedelta(days=days_left))
    sent = sweep_expiring_credentials(NOW)
    assert sent == (0 if window is None else 1)
    assert list(ExpiryAlert.objects.values_list("days_before", flat=True)) == ([] if window is None else [window])


# The worker reconnects to the database between rounds, so this runs on committed data.
@pytest.mark.django_db(transaction=True)
def test_it_goes_to_the_clinician_and_their_group_admin_in_the_app_and_by_email(cast: Cast) -> None:
    licence(cast, TODAY + datetime.timedelta(days=21))
    sweep_expiring_credentials(NOW)
    recipients = set(Notification.objects.values_list("recipient__email", flat=True))
    assert recipients == {cast.prescriber.email, cast.group_admin.email}
    call_command("worker", "--once")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(recipients)
    assert all("expires in 21 days" in m.subject for m in mail.outbox)
    page = sign_in(Client(), cast.prescriber).get("/today/").content.decode()
    assert "expires on 2026-12-18, in 21 days" in page


@pytest.mark.django_db
def test_sweeping_again_sends_nothing_new_and_the_next_window_sends_again(cast: Cast) -> None:
    licence(cast, TODAY + datetime.timedelta(days=35))
    assert sweep_expiring_credentials(NOW) == 1
    assert sweep_expiring_credentials(NOW) == 0
    assert sweep_expiring_credentials(NOW + datetime.timedelta(days=5)) == 1
    assert sorted(ExpiryAlert.objects.values_list("days_before", flat=True)) == [30, 60]


@pytest.mark.django_db
def test_a_renewal_rearms_the_alerts(cast: Cast) -> None:
    row = licence(cast, TODAY + datetime.timedelta(days=20))
    sweep_expiring_credentials(NOW)
    row.expires_on = TODAY + datetime.timedelta(days=80)
    row.save()
    assert sweep_expiring_credentials(NOW) == 1


SWEEP = (
    "from django.utils import timezone\n"
    "from tandem.credentials.alerts import sweep_expiring_credentials\n"
    "print('sent', sweep_expiring_credentials(timezone.now()))"
)
COUNT = (
    "from tandem.credentials.models import ExpiryAlert as A\n"
    "from tandem.messaging.models import Notification as N\n"
    "wa = A.objects.filter(credential_kind='StateLicense', days_before=30).count()\n"
    "print(A.objects.count(), N.objects.filter(kind='credential_expiry').count(), wa)"
)


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tandem.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_workers_at_once_send_each_alert_once(tmp_path: Path) -> None:
    """Real processes on a real database of the suite's own kind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "TANDEM_DEBUG": "true",
            "TANDEM_DATA_DIR": str(tmp_path),
            "TANDEM_EMAIL_BACKEND": "file",
            "TANDEM_LOG_LEVEL": "WARNING",
        }
    )
    database_url = os.environ.get("TANDEM_DATABASE_URL", "")
    dropper = None
    if connection.vendor == "postgresql":
        import psycopg

        name = f"tandem_alerts_{uuid.uuid4().hex[:8]}"
        admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["TANDEM_DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + name

        def dropper() -> None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        for step in (["migrate", "-v0"], ["demo"]):
            assert _run(step, env).wait(timeout=120) == 0
        racers = [_run(["shell", "-v", "0", "-c", SWEEP], env) for _ in range(2)]
        outputs = [p.communicate(timeout=120)[0] for p in racers]
        assert all(p.returncode == 0 for p in racers), outputs
        workers = [_run(["worker", "--once"], env) for _ in range(2)]
        assert all(p.wait(timeout=120) == 0 for p in workers)
        out = (
            subprocess.run(
                [sys.executable, "-m", "tandem.cli", "shell", "-v", "0", "-c", COUNT],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        alerts, notifications, wa_licence = (int(x) for x in out.split())
    finally:
        if dropper is not None:
            dropper()
    sent_counts = sorted(int(o.strip().splitlines()[-1].split("sent")[-1]) for o in outputs)
    assert wa_licence == 1
    assert sum(sent_counts) == alerts >= 1
    # The clinician and the group admin, once each per alert.
    assert notifications == 2 * alerts
    mails = "".join(p.read_text() for p in (tmp_path / "mail").glob("*.log"))
    assert mails.count("Subject: Tandem: a ") == notifications
