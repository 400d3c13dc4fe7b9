"""Managing who works in an organization. Each service is atomic and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.organizations.models import ADMIN_ROLES, ROLES_BY_KIND, Membership, Organization
from tandem.organizations.tasks import send_invitation

OPERATIONS = "operations"


def _check_role(organization: Organization, role: str) -> None:
    if role not in ROLES_BY_KIND[organization.kind]:
        raise ValidationError(f"That role does not exist in a {organization.get_kind_display().lower()}.")


def _keeps_an_admin(membership: Membership, *, new_role: str | None = None, active: bool = True) -> bool:
    if membership.role not in ADMIN_ROLES or (active and new_role in ADMIN_ROLES):
        return True
    others = Membership.objects.filter(
        organization=membership.organization, role__in=ADMIN_ROLES, is_active=True
    ).exclude(pk=membership.pk)
    return others.exists()


def member_invite(
    *,
    actor: User,
    organization: Organization,
    email: str,
    full_name: str,
    credentials: str,
    role: str,
    base_url: str,
    meta: audit.RequestMeta,
) -> Membership:
    _check_role(organization, role)
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            email=email.lower(),
            defaults={"full_name": full_name, "credentials": credentials, "timezone": organization.timezone},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise ValidationError(f"{email} is already a member of {organization.name}.")
        membership = Membership.objects.create(user=user, organization=organization, role=role)
        audit.record(
            actor=actor,
            action=Action.CREATE,
            purpose=OPERATIONS,
            meta=meta,
            target_type="membership",
            target_id=membership.public_id,
            detail={"role": role},
        )
        if created:
            # Sent by the worker, after commit: a slow mail server never holds up the admin's page.
            transaction.on_commit(
                lambda: send_invitation.enqueue(user_id=user.pk, organization_id=organization.pk, base_url=base_url)
            )
    return membership


def membership_change_role(*, actor: User, membership: Membership, role: str, meta: audit.RequestMeta) -> None:
    _check_role(membership.organization, role)
    if not _keeps_an_admin(membership, new_role=role):
        raise ValidationError("Every organization needs at least one active admin.")
    with transaction.atomic():
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            actor=actor,
            action=Action.ROLE_CHANGE,
            purpose=OPERATIONS,
            meta=meta,
            target_type="membership",
            target_id=membership.public_id,
            detail={"from": old, "to": role},
        )


def membership_set_active(*, actor: User, membership: Membership, active: bool, meta: audit.RequestMeta) -> None:
    if not active and not _keeps_an_admin(membership, active=False):
        raise ValidationError("Every organization needs at least one active admin.")
    with transaction.atomic():
        membership.is_active = active
        membership.ended_at = None if active else timezone.now()
        membership.save(update_fields=["is_active", "ended_at"])
        audit.record(
            actor=actor,
            action=Action.ROLE_CHANGE,
            purpose=OPERATIONS,
            meta=meta,
            target_type="membership",
            target_id=membership.public_id,
            detail={"active": active},
        )


@transaction.atomic
def set_treatment_sharing(
    *, actor: User, organization: Organization, requires_authorization: bool, meta: audit.RequestMeta
) -> bool:
    """A practice decides whether treatment information reaches partner
    prescribers only under a signed authorization. Returns whether it changed."""
    if not organization.is_practice:
        raise ValidationError("Only a therapy practice sets this, for its own patients.")
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    if locked.treatment_sharing_requires_authorization == requires_authorization:
        return False
    locked.treatment_sharing_requires_authorization = requires_authorization
    locked.save(update_fields=["treatment_sharing_requires_authorization"])
    audit.record(
        actor=actor,
        action=Action.UPDATE,
        purpose="operations",
        meta=meta,
        target_type="sharing_policy",
        target_id=organization.public_id,
        detail={"requires_authorization": requires_authorization},
    )
    return True
