"""Reading the audit trail, always from what the viewer may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditFilters:
    actor_email: str = ""
    patient_id: str = ""
    action: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


def audit_events(user: User | AnonymousUser, filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = policy.visible_audit_events(user)
    if filters.actor_email:
        events = events.filter(actor_email__iexact=filters.actor_email)
    if filters.patient_id:
        events = events.filter(patient_id=filters.patient_id)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.date_from:
        events = events.filter(occurred_at__date__gte=filters.date_from)
    if filters.date_to:
        events = events.filter(occurred_at__date__lte=filters.date_to)
    return events.order_by("-seq")
