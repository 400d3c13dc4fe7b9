"""The daily digest: one email a day to each clinician whose shared patients'
appointments changed, counting the changes and linking to Tandem. No health
information: no names, times or kinds of visit.

Sent once a day, after 07:00 in the clinician's zone. The day is claimed (the
preference row locked and stamped) in the same transaction that finds the
changes, before the email goes; a crash after the claim loses that day's
digest rather than sending it twice.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from tandem.accounts.models import User
from tandem.messaging.models import DigestPreference, Notification

SEND_AFTER = datetime.time(7)
KIND = "appointment"


def _local_today(user: User, now: datetime.datetime) -> tuple[datetime.date, datetime.time]:
    local = now.astimezone(zoneinfo.ZoneInfo(user.timezone))
    return local.date(), local.time()


def send_digests(now: datetime.datetime) -> int:
    since = now - datetime.timedelta(days=1)
    candidates = (
        Notification.objects.filter(kind=KIND, created_at__gte=since, created_at__lt=now)
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    sent = 0
    for user in User.objects.filter(pk__in=candidates, is_active=True):
        day, clock = _local_today(user, now)
        if clock < SEND_AFTER:
            continue
        with transaction.atomic():
            pref, _ = DigestPreference.objects.get_or_create(user=user)
            pref = DigestPreference.objects.select_for_update().get(pk=pref.pk)
            if not pref.appointment_digest or pref.last_sent_on == day:
                continue
            count = Notification.objects.filter(
                recipient=user, kind=KIND, created_at__gte=since, created_at__lt=now
            ).count()
            pref.last_sent_on = day
            pref.save(update_fields=["last_sent_on"])
        link = settings.SITE_URL.rstrip("/") + reverse("scheduling:week")
        body = (
            f"{count} appointment change{'s' if count != 1 else ''} on patients you share in the last day.\n\n"
            f"See your calendar: {link}\n\n"
            "You can turn this daily email off on your notification settings page in Tandem."
        )
        send_mail("Tandem: appointment changes", body, None, [user.email])
        sent += 1
    return sent
