"""Safety alerts: opened by a critical answer, acknowledged with the action
taken, escalated once if nobody acknowledges them in time.

Who is told: the patient's active care-team members who may see the
patient's assessments (the consent gate decides, as everywhere). The
notification, and its email, say only that there is a safety alert for a
patient, with a link: no name, no answer, no score. Escalation goes to the
admins of the organizations on the care team, and the team is told again.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.measures.models import Response, SafetyAlert
from tandem.messaging.services import notify
from tandem.organizations.models import ADMIN_ROLES, Membership

ACTION_MAX = 2000


class AlertError(Exception):
    pass


def _link(alert: SafetyAlert) -> str:
    return reverse("measures:alert", args=[alert.patient.public_id, alert.public_id])


def team_for(alert_or_response: SafetyAlert | Response) -> list[User]:
    """The patient's active care team who may see the patient's assessments."""
    return policy.team_who_sees(alert_or_response.patient, InfoClass.ASSESSMENTS, alert_or_response.organization_id)


def admins_for(alert: SafetyAlert) -> list[User]:
    """Who an alert escalates to: the admins of the organization that measured
    and of the patient's practice (the same one, for a practice's measure)."""
    organizations = {alert.organization_id, alert.patient.practice_id}
    return [
        m.user
        for m in Membership.objects.filter(
            organization_id__in=organizations, role__in=ADMIN_ROLES, is_active=True
        ).select_related("user")
    ]


def may_see(user: User, alert: SafetyAlert) -> bool:
    """The care team, and once it has escalated, the admins it went to."""
    if user in team_for(alert):
        return True
    return alert.escalated_at is not None and user in admins_for(alert) and policy.can_view_chart(user, alert.patient)


def open_for(response: Response) -> SafetyAlert | None:
    """Open the alert for a response with critical answers; call inside the
    transaction that saved it. One alert per response."""
    if not response.critical:
        return None
    alert, created = SafetyAlert.objects.get_or_create(
        response=response,
        defaults={
            "patient": response.patient,
            "organization": response.organization,
            "reasons": [c["label"] for c in response.critical],
            "opened_at": response.completed_at or timezone.now(),
        },
    )
    if created:
        notify(
            recipients=team_for(alert),
            kind="safety_alert",
            text="Safety alert for a patient on your care team: review it now",
            link=_link(alert),
            email_subject="Safety alert in Tandem: review it now",
        )
    return alert


def acknowledge(*, actor: User, alert: SafetyAlert, action: str, meta: audit.RequestMeta) -> SafetyAlert:
    action = action.strip()
    if not action:
        raise AlertError("Say what was done: for example, called the patient and completed a risk assessment.")
    if len(action) > ACTION_MAX:
        raise AlertError(f"At most {ACTION_MAX} characters.")
    if actor not in team_for(alert):
        raise AlertError("Only the patient's care team can acknowledge this alert.")
    with transaction.atomic():
        done = SafetyAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=actor, action_taken=action
        )
        if not done:
            raise AlertError("Someone has already acknowledged this alert.")
        audit.record(
            actor=actor,
            action=Action.REVIEW,
            purpose="treatment",
            meta=meta,
            patient_id=alert.patient.public_id,
            target_type="safety_alert",
            target_id=alert.public_id,
        )
    alert.refresh_from_db()
    return alert


def escalation_sweep(now: datetime.datetime) -> int:
    """Escalate each alert unacknowledged past its time, exactly once: the
    conditional update claims it, so two workers cannot both escalate it."""
    due = now - datetime.timedelta(minutes=settings.SAFETY_ALERT_ESCALATE_MINUTES)
    count = 0
    for alert in SafetyAlert.objects.filter(
        acknowledged_at__isnull=True, escalated_at__isnull=True, opened_at__lte=due
    ).select_related("patient__practice"):
        with transaction.atomic():
            if not SafetyAlert.objects.filter(
                pk=alert.pk, escalated_at__isnull=True, acknowledged_at__isnull=True
            ).update(escalated_at=now):
                continue
            team = team_for(alert)
            admins = admins_for(alert)
            minutes = settings.SAFETY_ALERT_ESCALATE_MINUTES
            notify(
                recipients=[*admins, *team],
                kind="safety_alert_escalated",
                text=f"A safety alert for a patient has not been acknowledged after {minutes} minutes",
                link=_link(alert),
                email_subject="Unacknowledged safety alert in Tandem",
            )
            audit.record(
                actor=None,
                action=Action.SEND,
                purpose="treatment",
                meta=audit.SYSTEM,
                patient_id=alert.patient.public_id,
                target_type="safety_alert_escalation",
                target_id=alert.public_id,
                detail={"notified": len({u.pk for u in [*admins, *team]})},
            )
            count += 1
    return count


def open_alerts_for(user: User) -> list[SafetyAlert]:
    """Open alerts about patients on this clinician's care teams."""
    return [
        a
        for a in SafetyAlert.objects.filter(acknowledged_at__isnull=True, patient__care_team__user=user)
        .select_related("patient")
        .distinct()
        if user in team_for(a)
    ]
