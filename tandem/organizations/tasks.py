"""Background tasks of organizations, run by ``tandem worker``."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task

from tandem.accounts.models import User
from tandem.organizations.models import Organization


@task()
def send_invitation(user_id: int, organization_id: int, base_url: str) -> str:
    """Email a one-time link to choose a password (Django's reset token: single use, expiring)."""
    user = User.objects.get(pk=user_id)
    organization = Organization.objects.get(pk=organization_id)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = base_url.rstrip("/") + reverse("accounts:password_reset_confirm", args=[uid, token])
    body = render_to_string(
        "organizations/email/invitation.txt", {"user": user, "organization": organization, "link": link}
    )
    send_mail(f"You're invited to {organization.name} on Tandem", body, None, [user.email])
    return "sent"
