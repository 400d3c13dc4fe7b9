"""The expiry sweep: alerts 90, 60, 30 and 7 days before a credential lapses.

Each alert goes to the clinician and to the admins of their organizations,
in the app and by email. A credential first seen inside a window gets only
that window's alert (a licence added with 20 days left gets the 30-day one).
A renewed credential (a new expiry date) starts afresh.
"""

from __future__ import annotations

import datetime
import logging

from django.db import IntegrityError, transaction

from tandem.accounts.models import User
from tandem.credentials import models as m
from tandem.messaging.services import notify
from tandem.organizations.models import ADMIN_ROLES, Membership

logger = logging.getLogger("tandem.worker")
THRESHOLDS = (7, 30, 60, 90)
KINDS: list[tuple[type[m.Credential], str]] = [(m.KIND_MODELS[k], m.KIND_LABELS[k]) for k in m.KIND_MODELS]


def _threshold(days_left: int) -> int | None:
    return next((t for t in THRESHOLDS if days_left <= t), None)


def _admins_of(user_ids: set[int]) -> dict[int, list[User]]:
    """Each clinician's organization admins, in two queries for everyone."""
    memberships = Membership.objects.filter(user_id__in=user_ids, is_active=True).values_list(
        "user_id", "organization_id"
    )
    orgs_of: dict[int, set[int]] = {}
    for user_id, org_id in memberships:
        orgs_of.setdefault(user_id, set()).add(org_id)
    admins = Membership.objects.filter(
        organization_id__in={o for orgs in orgs_of.values() for o in orgs},
        role__in=ADMIN_ROLES,
        is_active=True,
        user__is_active=True,
    ).select_related("user")
    by_org: dict[int, list[User]] = {}
    for membership in admins:
        by_org.setdefault(membership.organization_id, []).append(membership.user)
    return {uid: [a for org in orgs for a in by_org.get(org, [])] for uid, orgs in orgs_of.items()}


def sweep_expiring_credentials(now: datetime.datetime) -> int:
    today = now.date()
    horizon = today + datetime.timedelta(days=max(THRESHOLDS))
    due: list[tuple[m.Credential, datetime.date, str, int]] = []
    for model, label in KINDS:
        rows = model._default_manager.filter(status=m.Status.ACTIVE, expires_on__gte=today, expires_on__lte=horizon)
        for row in rows.select_related("clinician"):
            expires_on = row.expires_on
            assert expires_on is not None  # the filter above
            threshold = _threshold((expires_on - today).days)
            if threshold is not None:
                due.append((row, expires_on, label, threshold))
    if not due:
        return 0
    admins = _admins_of({row.clinician_id for row, _, _, _ in due})
    sent = 0
    for row, expires_on, label, threshold in due:
        clinician: User = row.clinician
        try:
            with transaction.atomic():
                m.ExpiryAlert.objects.create(
                    credential_kind=type(row).__name__,
                    credential_id=row.public_id,
                    expires_on=expires_on,
                    days_before=threshold,
                )
                days = (expires_on - today).days
                text = (
                    f"{clinician.display_name}'s {label} ({row}) expires on "
                    f"{expires_on.isoformat()}, in {days} day{'s' if days != 1 else ''}. Renew it before then."
                )
                notify(
                    recipients=[clinician, *admins.get(clinician.pk, [])],
                    kind="credential_expiry",
                    text=text,
                    link="/today/",
                    email_subject=f"Tandem: a {label} expires in {days} days",
                )
        except IntegrityError:
            # Another worker sent this one first.
            continue
        sent += 1
    return sent
