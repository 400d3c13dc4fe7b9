"""Periodic sweeps the worker runs, driven by database state.

Each sweep is idempotent and works from what the database holds, so a sweep
interrupted by a crash simply runs again next time. Later capabilities
register theirs here (reminders, SLA escalations, expiry alerts).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import SignInThrottle
from tandem.credentials.alerts import sweep_expiring_credentials
from tandem.measures.alerts import escalation_sweep as safety_alert_escalations
from tandem.measures.schedules import sweep as send_scheduled_questionnaires
from tandem.messaging.digest import send_digests
from tandem.operations.models import SweepRun
from tandem.plans.reviews import sweep as plan_review_reminders
from tandem.referrals.services import escalation_sweep, waitlist_sweep
from tandem.reminders.services import send_due_reminders

logger = logging.getLogger("tandem.worker")


@dataclass(frozen=True)
class Sweep:
    name: str
    every: datetime.timedelta
    run: Callable[[datetime.datetime], int]


def prune_sessions(now: datetime.datetime) -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=now).delete()
    return deleted


def prune_throttles(now: datetime.datetime) -> int:
    stale = now - datetime.timedelta(days=1)
    deleted, _ = SignInThrottle.objects.filter(last_failure_at__lt=stale).exclude(locked_until__gt=now).delete()
    return deleted


SWEEPS: list[Sweep] = [
    Sweep("safety_alert_escalations", datetime.timedelta(minutes=1), safety_alert_escalations),
    Sweep("questionnaire_schedules", datetime.timedelta(minutes=15), send_scheduled_questionnaires),
    Sweep("patient_reminders", datetime.timedelta(minutes=1), send_due_reminders),
    Sweep("referral_waitlist", datetime.timedelta(minutes=1), waitlist_sweep),
    Sweep("referral_escalations", datetime.timedelta(minutes=5), escalation_sweep),
    Sweep("appointment_digest", datetime.timedelta(minutes=15), send_digests),
    Sweep("credential_expiry_alerts", datetime.timedelta(hours=1), sweep_expiring_credentials),
    Sweep("plan_review_reminders", datetime.timedelta(hours=1), plan_review_reminders),
    Sweep("prune_sessions", datetime.timedelta(hours=1), prune_sessions),
    Sweep("prune_sign_in_throttles", datetime.timedelta(hours=1), prune_throttles),
]


def run_due_sweeps(now: datetime.datetime | None = None) -> list[str]:
    now = now or timezone.now()
    ran = []
    for sweep in SWEEPS:
        with transaction.atomic():
            row, _ = SweepRun.objects.select_for_update().get_or_create(name=sweep.name)
            if row.last_started_at and now - row.last_started_at < sweep.every:
                continue
            row.last_started_at = now
            row.save(update_fields=["last_started_at"])
        try:
            count = sweep.run(now)
        except Exception as exc:  # a failing sweep must not stop the others
            logger.exception("sweep failed", extra={"sweep": sweep.name})
            SweepRun.objects.filter(name=sweep.name).update(last_error=type(exc).__name__)
            continue
        SweepRun.objects.filter(name=sweep.name).update(last_finished_at=timezone.now(), last_error="")
        logger.info("sweep done", extra={"sweep": sweep.name, "count": count})
        ran.append(sweep.name)
    return ran
