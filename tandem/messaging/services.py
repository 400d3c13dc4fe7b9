"""Sending notifications: a row for the page, an email through the worker, a live nudge."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.accounts.sessions import user_group
from tandem.messaging.models import Notification
from tandem.messaging.tasks import send_notification_email


def _push(user_ids: list[int]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id in user_ids:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "live.event", "event": {"kind": "notification"}})


def notify(
    *, recipients: Iterable[User], kind: str, text: str, link: str = "", email_subject: str = ""
) -> list[Notification]:
    """Notify each recipient once. Call inside the transaction that decided to
    notify: the rows and the queued emails commit (or vanish) with it.

    Texts must hold no health information: they go out by email too.
    """
    rows = Notification.objects.bulk_create(
        Notification(recipient=user, kind=kind, text=text, link=link) for user in {u.pk: u for u in recipients}.values()
    )
    if email_subject:
        for row in rows:
            # Queued in the same database transaction, so a crash cannot lose or double it.
            send_notification_email.enqueue(notification_id=row.pk, subject=email_subject)
    ids = [row.recipient_id for row in rows]
    transaction.on_commit(lambda: _push(ids))
    return rows


def unread_for(user: User, limit: int = 10) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, read_at__isnull=True)[:limit])


def notifications_seen(user: User, link: str) -> None:
    """The user opened what these notifications point to: they are read."""
    Notification.objects.filter(recipient=user, link=link, read_at__isnull=True).update(read_at=timezone.now())
