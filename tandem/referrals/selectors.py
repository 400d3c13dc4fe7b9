"""What the "today" page says about referrals: counts only, no patients."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.referrals.models import WAITING, State


@dataclass(frozen=True)
class Tasks:
    to_triage: int
    waiting: int
    overdue: int
    drafts: int

    @property
    def any(self) -> bool:
        return bool(self.to_triage or self.waiting or self.drafts)


def tasks(user: User | AnonymousUser, now: datetime.datetime | None = None) -> Tasks:
    """One query: referrals waiting on the viewer's side and the viewer's own drafts."""
    now = now or timezone.now()
    overdue = Q(status=State.SUBMITTED, triage_due_at__lt=now) | Q(status__in=WAITING, visit_due_at__lt=now)
    counts = policy.visible_referrals(user, now).aggregate(
        to_triage=Count("pk", filter=Q(status=State.SUBMITTED)),
        waiting=Count("pk", filter=Q(status__in=WAITING)),
        overdue=Count("pk", filter=overdue),
        drafts=Count("pk", filter=Q(status=State.DRAFT, referred_by_id=getattr(user, "pk", None))),
    )
    return Tasks(**{k: int(v or 0) for k, v in counts.items()})
