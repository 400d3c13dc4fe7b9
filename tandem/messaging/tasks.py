from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task

from tandem.messaging.models import Notification


@task()
def send_notification_email(notification_id: int, subject: str) -> str:
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if notification is None:
        return "gone"
    body = notification.text
    if notification.link:
        body += f"\n\nOpen Tandem: {settings.SITE_URL.rstrip('/')}{notification.link}"
    send_mail(subject, body, None, [notification.recipient.email])
    return "sent"
