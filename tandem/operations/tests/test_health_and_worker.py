from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tandem.accounts.models import SignInThrottle
from tandem.operations.models import SweepRun, WorkerHeartbeat
from tandem.operations.sweeps import run_due_sweeps


@pytest.mark.django_db
def test_healthz_reports_each_part() -> None:
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


# The worker closes and reopens database connections between rounds, as a
# long-running process must, so it runs against committed data here.
@pytest.mark.django_db(transaction=True)
def test_a_worker_run_makes_healthz_ok_until_it_goes_quiet() -> None:
    call_command("worker", "--once")
    # --once removes its heartbeat on exit, like a clean stop; put one back as a running worker would.
    assert not WorkerHeartbeat.objects.exists()
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w1", hostname="h", pid=1, started_at=now, beat_at=now)
    assert Client().get("/healthz").json()["status"] == "ok"
    with time_machine.travel(now + datetime.timedelta(minutes=5), tick=False):
        body = Client().get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["last_beat_seconds_ago"] >= 300


@pytest.mark.django_db
def test_sweeps_run_when_due_and_not_before() -> None:
    old = timezone.now() - datetime.timedelta(days=3)
    SignInThrottle.objects.create(key="email:gone@example.com", failures=2, last_failure_at=old)
    first = run_due_sweeps()
    assert "prune_sign_in_throttles" in first
    assert not SignInThrottle.objects.exists()
    assert run_due_sweeps() == []
    later = timezone.now() + datetime.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        assert set(run_due_sweeps()) == {
            "safety_alert_escalations",
            "questionnaire_schedules",
            "patient_reminders",
            "referral_waitlist",
            "referral_escalations",
            "appointment_digest",
            "credential_expiry_alerts",
            "plan_review_reminders",
            "prune_sessions",
            "prune_sign_in_throttles",
        }
    assert SweepRun.objects.filter(last_error="").count() == 10


@pytest.mark.django_db
def test_a_locked_key_survives_the_sweep() -> None:
    now = timezone.now()
    SignInThrottle.objects.create(
        key="email:x@example.com",
        failures=0,
        last_failure_at=now - datetime.timedelta(days=2),
        locked_until=now + datetime.timedelta(minutes=10),
    )
    run_due_sweeps()
    assert SignInThrottle.objects.filter(key="email:x@example.com").exists()
