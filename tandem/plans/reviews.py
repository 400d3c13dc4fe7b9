"""Review dates: the care team is reminded two weeks before the plan in force
is due for review, and again once it is overdue. Each reminder goes once per
version, whatever the worker's timing."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse

from tandem.access import policy
from tandem.messaging.services import notify
from tandem.plans.models import PlanVersion, ReviewReminder, VersionStatus

DUE_SOON_DAYS = 14
REVIEW_DUE = "plan_review"


def reminder_due(version: PlanVersion, today: datetime.date) -> str | None:
    """Which reminder this version's review date calls for today, if any."""
    if today > version.review_on:
        return ReviewReminder.Kind.OVERDUE
    if today >= version.review_on - datetime.timedelta(days=DUE_SOON_DAYS):
        return ReviewReminder.Kind.DUE_SOON
    return None


def sweep(now: datetime.datetime) -> int:
    sent = 0
    versions = PlanVersion.objects.filter(status=VersionStatus.IN_FORCE).select_related("plan__patient__practice")
    for version in versions:
        patient = version.plan.patient
        today = patient.practice.local_date(now)
        kind = reminder_due(version, today)
        if kind is None or ReviewReminder.objects.filter(version=version, kind=kind).exists():
            continue
        try:
            with transaction.atomic():
                ReviewReminder.objects.create(version=version, kind=kind)
                team = policy.team_who_sees(patient, version.effective_class, version.organization_id)
                word = "is overdue for review" if kind == ReviewReminder.Kind.OVERDUE else "is due for review soon"
                notify(
                    recipients=team,
                    kind=REVIEW_DUE,
                    text=f"A treatment plan of a patient on your care team {word} ({version.review_on:%b} "
                    f"{version.review_on.day})",
                    link=reverse("plans:plan", args=[patient.public_id]),
                    email_subject="A treatment plan is due for review in Tandem",
                )
        except IntegrityError:
            continue  # another worker sent it
        sent += 1
    return sent
