"""Real worker processes on a real database of the suite's own kind: two
workers (and two bare sweeps) running together, plus a worker killed with
SIGKILL in the middle of handing an email over and the one that replaces it,
send each reminder exactly once.

Emails go to the file backend (through a test backend that waits before
writing each one, so the kill lands inside a hand-over) and texts to the
console backend, read from each process's output: the in-memory outbox would
vanish with its process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

SEED = """
import datetime
from django.utils import timezone
from tandem.reminders.models import ReminderPreference
from tandem.scheduling.models import Appointment, Kind, Modality, Status
from tandem.scheduling.services import ensure_types
from tandem.test import build_cast, make_patient

cast = build_cast()
kind = next(t for t in ensure_types(cast.northstar) if t.kind == Kind.PSYCH_EVAL)
now = timezone.now()

def book(patient, minutes, status=Status.BOOKED):
    start = now + datetime.timedelta(minutes=minutes)
    Appointment.objects.create(
        organization=cast.northstar, appointment_type=kind, patient=patient, starts_at=start,
        ends_at=start + datetime.timedelta(hours=1), modality=Modality.VIDEO_HOME, status=status,
        created_by=cast.prescriber,
    )

def patient(name, mrn, **extra):
    return make_patient(cast.riverbend, "Pat", name, mrn, **extra)

for i in range(8):
    # Even: 47 hours ahead, the 48-hour reminder is due. Odd: 90 minutes ahead, the 2-hour one.
    p = patient(f"N{i}", f"RB-10{i}", email=f"p{i}@example.test", phone=f"+1503555010{i}")
    book(p, 47 * 60 + 3 * i if i % 2 == 0 else 90 + 3 * i)
quiet = patient("Quiet", "RB-200", email="quiet@example.test", phone="+15035550190")
ReminderPreference.objects.create(patient=quiet, email_opt_out=True, sms_opt_out=True)
book(quiet, 100)
book(patient("Nophone", "RB-201", email="nophone@example.test"), 105)
book(patient("Gone", "RB-202", email="gone@example.test", phone="+15035550191"), 110, Status.CANCELLED)
book(patient("Later", "RB-203", email="later@example.test", phone="+15035550192"), 10 * 60)
print("seeded")
"""
SWEEP = (
    "from django.utils import timezone\n"
    "from tandem.reminders.services import send_due_reminders\n"
    "print('sent', send_due_reminders(timezone.now()))"
)
# "A minute later": let the next worker's run_due_sweeps find the reminder sweep due again.
NEXT_MINUTE = (
    "from tandem.operations.models import SweepRun\n"
    "SweepRun.objects.filter(name='patient_reminders').update(last_started_at=None)"
)
STATE = """
import json
from tandem.audit.models import AuditEvent
from tandem.audit.services import verify_chain
from tandem.reminders.models import Reminder
rows = [
    [r.appointment.patient.email, r.lead, r.channel, r.status, r.detail, r.attempts, r.claimed_by]
    for r in Reminder.objects.select_related("appointment__patient")
]
audits = AuditEvent.objects.filter(action="send", target_type="reminder").count()
print(json.dumps({"rows": rows, "audits": audits, "chain": verify_chain().ok}))
"""
PATIENTS = [f"p{i}@example.test" for i in range(8)]


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tandem.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(processes: list[subprocess.Popen[str]]) -> list[str]:
    outputs = [p.communicate(timeout=180)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    return outputs


def _state(env: dict[str, str]) -> dict[str, Any]:
    out = _finish([_run(["shell", "-v", "0", "-c", STATE], env)])[0]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_two_workers_together_and_a_killed_and_restarted_one_send_each_reminder_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tandem.reminders.tests.process_settings",
            "TANDEM_DEBUG": "true",
            "TANDEM_DATA_DIR": str(tmp_path),
            "TANDEM_SMS_BACKEND": "console",
            "TANDEM_LOG_LEVEL": "ERROR",
            "PYTHONUNBUFFERED": "1",
        }
    )
    database_url = os.environ.get("TANDEM_DATABASE_URL", "")
    dropper = None
    if connection.vendor == "postgresql":
        import psycopg

        name = f"tandem_reminders_{uuid.uuid4().hex[:8]}"
        admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["TANDEM_DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + name

        def dropper() -> None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    markers = tmp_path / "markers"
    markers.mkdir()
    outputs: list[str] = []
    try:
        _finish([_run(["migrate", "-v0"], env)])
        assert "seeded" in _finish([_run(["shell", "-v", "0", "-c", SEED], env)])[0]

        # 1. A worker whose every email takes 3 seconds to hand over is killed
        # (SIGKILL: no clean-up at all) while it hands over its second email.
        victim = _run(
            ["worker", "--once"], env | {"REMINDERS_TEST_MAIL_DELAY": "3", "REMINDERS_TEST_MARKERS": str(markers)}
        )
        deadline = time.monotonic() + 90
        while len(list(markers.iterdir())) < 2:
            assert victim.poll() is None, victim.communicate()[0]
            assert time.monotonic() < deadline, "the worker never began its second email"
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        outputs.append(victim.communicate(timeout=30)[0])
        assert victim.returncode == -signal.SIGKILL
        state = _state(env)
        held = [r for r in state["rows"] if r[3] == "pending" and r[6]]
        assert len(held) == 1, state  # the email it was handing over, still claimed by the dead worker
        assert held[0][2] == "email"
        assert sum(r[3] == "sent" for r in state["rows"]) >= 1

        # 2. A minute later, inside the reclaim window: two workers and two bare
        # sweeps at once. They share out everything else and leave the dead
        # worker's claim alone.
        _finish([_run(["shell", "-v", "0", "-c", NEXT_MINUTE], env)])
        quick = env | {"REMINDERS_TEST_MAIL_DELAY": "0.05"}
        racers = [_run(["worker", "--once"], quick) for _ in range(2)]
        racers += [_run(["shell", "-v", "0", "-c", SWEEP], quick) for _ in range(2)]
        outputs += _finish(racers)
        state = _state(env)
        still = [r for r in state["rows"] if r[3] == "pending"]
        assert still == held, state

        # 3. Past the reclaim window (0 seconds here), a fresh worker takes over the claim and sends it.
        _finish([_run(["shell", "-v", "0", "-c", NEXT_MINUTE], env)])
        outputs += _finish([_run(["worker", "--once"], env | {"REMINDERS_TEST_RECLAIM_SECONDS": "0"})])
        state = _state(env)
    finally:
        if dropper is not None:
            dropper()

    rows = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in state["rows"]}
    expected_sent = {(p, "48h" if i % 2 == 0 else "2h", c) for i, p in enumerate(PATIENTS) for c in ("email", "sms")}
    expected_sent.add(("nophone@example.test", "2h", "email"))
    assert {k for k, v in rows.items() if v[0] == "sent"} == expected_sent
    assert {k: v[:2] for k, v in rows.items() if v[0] != "sent"} == {
        ("nophone@example.test", "2h", "sms"): ("skipped", "no_phone"),
        ("quiet@example.test", "2h", "email"): ("skipped", "opted_out"),
        ("quiet@example.test", "2h", "sms"): ("skipped", "opted_out"),
    }
    # Only the email the killed worker was handing over took a second attempt.
    assert sorted(v[2] for v in rows.values() if v[0] == "sent") == [1] * (len(expected_sent) - 1) + [2]
    assert state["audits"] == len(expected_sent)
    assert state["chain"] is True

    # What actually went out: each reminder once.
    mails = "".join(p.read_text() for p in (tmp_path / "mail").glob("*.log"))
    emails = Counter(re.findall(r"^To: (\S+)$", mails, flags=re.MULTILINE))
    assert emails == Counter(dict.fromkeys([*PATIENTS, "nophone@example.test"], 1))
    ids = re.findall(r"^Message-ID: (<reminder-[^>]+>)$", mails, flags=re.MULTILINE)
    assert len(ids) == len(set(ids)) == 9
    texts = Counter(re.findall(r"^SMS to (\+1\d{10}): ", "".join(outputs), flags=re.MULTILINE))
    assert texts == Counter({f"+1503555010{i}": 1 for i in range(8)})
    assert "Psychiatric" not in mails + "".join(outputs)
