"""A clinician keeps their own availability: weekly hours, time off and rules."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.organizations.models import Organization
from tandem.scheduling.models import SchedulingRules, TimeOff, WeeklyHours

OPERATIONS = "operations"


def _opening_may_have_appeared() -> None:
    """More hours, less time off or looser rules may give a waiting referral its opening."""
    from tandem.referrals.services import enqueue_waitlist

    transaction.on_commit(enqueue_waitlist)


def _audit(actor: User, action: Action, target_type: str, target_id: object, meta: audit.RequestMeta) -> None:
    audit.record(
        actor=actor, action=action, purpose=OPERATIONS, meta=meta, target_type=target_type, target_id=str(target_id)
    )


@transaction.atomic
def add_hours(
    *,
    actor: User,
    organization: Organization,
    weekday: int,
    start: datetime.time,
    end: datetime.time,
    valid_from: datetime.date,
    valid_until: datetime.date | None,
    meta: audit.RequestMeta,
) -> WeeklyHours:
    if end <= start:
        raise ValidationError("The hours must end after they start.")
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError("The last day comes before the first.")
    clash = WeeklyHours.objects.filter(clinician=actor, weekday=weekday, start__lt=end, end__gt=start).exclude(
        valid_until__lt=valid_from
    )
    if valid_until is not None:
        clash = clash.exclude(valid_from__gt=valid_until)
    if clash.exists():
        raise ValidationError("These hours overlap hours you already have on that day.")
    hours = WeeklyHours.objects.create(
        clinician=actor,
        organization=organization,
        weekday=weekday,
        start=start,
        end=end,
        timezone=actor.timezone,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    _audit(actor, Action.CREATE, "weekly_hours", hours.public_id, meta)
    _opening_may_have_appeared()
    return hours


@transaction.atomic
def remove_hours(*, actor: User, hours: WeeklyHours, meta: audit.RequestMeta) -> None:
    _audit(actor, Action.DELETE, "weekly_hours", hours.public_id, meta)
    hours.delete()


@transaction.atomic
def add_time_off(
    *, actor: User, starts_at: datetime.datetime, ends_at: datetime.datetime, reason: str, meta: audit.RequestMeta
) -> TimeOff:
    if ends_at <= starts_at:
        raise ValidationError("Time off must end after it starts.")
    if ends_at - starts_at > datetime.timedelta(days=366):
        raise ValidationError("Enter time off of at most a year at once.")
    off = TimeOff.objects.create(clinician=actor, starts_at=starts_at, ends_at=ends_at, reason=reason.strip()[:200])
    _audit(actor, Action.CREATE, "time_off", off.public_id, meta)
    return off


@transaction.atomic
def remove_time_off(*, actor: User, time_off: TimeOff, meta: audit.RequestMeta) -> None:
    _audit(actor, Action.DELETE, "time_off", time_off.public_id, meta)
    time_off.delete()
    _opening_may_have_appeared()


@transaction.atomic
def set_rules(
    *, actor: User, buffer_minutes: int, max_per_day: int, new_patient_per_week: int, meta: audit.RequestMeta
) -> SchedulingRules:
    rules, _ = SchedulingRules.objects.update_or_create(
        clinician=actor,
        defaults={
            "buffer_minutes": buffer_minutes,
            "max_per_day": max_per_day,
            "new_patient_per_week": new_patient_per_week,
        },
    )
    _audit(actor, Action.UPDATE, "scheduling_rules", actor.public_id, meta)
    _opening_may_have_appeared()
    return rules
