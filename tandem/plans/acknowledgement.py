"""The patient acknowledges the plan in force: in the office, with the
clinician as witness, or through a single-use link sent by email or text.
The link's message carries the practice's name and the link, nothing else."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.lib import tokens
from tandem.messaging.sms import send_sms
from tandem.plans.models import AcknowledgementMethod, PlanAcknowledgement, PlanLink, PlanVersion, VersionStatus
from tandem.plans.services import TREATMENT, PlanError

LINK_DAYS = 14
NAME_MAX = 160
MESSAGE = "{practice} shares your treatment plan with you. Please read it and let them know you agree: {url}"


def _check_open(version: PlanVersion) -> None:
    if version.status != VersionStatus.IN_FORCE:
        raise PlanError("Only the plan in force is acknowledged by the patient.")
    if PlanAcknowledgement.objects.filter(version=version).exists():
        raise PlanError("The patient has already acknowledged this version.")


def _acknowledge(
    version: PlanVersion, *, method: str, typed_name: str, witness: User | None, meta: audit.RequestMeta
) -> PlanAcknowledgement:
    name = " ".join(typed_name.split())
    if not name:
        raise PlanError("Type the patient's name to acknowledge the plan.")
    if len(name) > NAME_MAX:
        raise PlanError(f"A name is at most {NAME_MAX} characters.")
    patient = version.plan.patient
    try:
        with transaction.atomic():
            row = PlanAcknowledgement.objects.create(
                version=version, method=method, typed_name=name, witnessed_by=witness
            )
            audit.record(
                actor=witness,
                action=Action.SIGN,
                purpose=TREATMENT,
                meta=meta,
                patient_id=patient.public_id,
                target_type="plan_acknowledgement",
                target_id=str(version.public_id),
                detail={"method": method},
            )
    except IntegrityError:
        raise PlanError("The patient has already acknowledged this version.") from None
    return row


def in_office(*, actor: User, version: PlanVersion, typed_name: str, meta: audit.RequestMeta) -> PlanAcknowledgement:
    _check_open(version)
    return _acknowledge(
        version, method=AcknowledgementMethod.IN_OFFICE, typed_name=typed_name, witness=actor, meta=meta
    )


def send(*, actor: User, version: PlanVersion, channel: str, meta: audit.RequestMeta) -> tuple[PlanLink, str]:
    """A new link for the patient, by email or text; older unused links stop working."""
    _check_open(version)
    patient = version.plan.patient
    if channel == "email" and not patient.email:
        raise PlanError("The patient has no email address on file.")
    if channel == "sms" and not patient.phone:
        raise PlanError("The patient has no mobile number on file.")
    if channel not in {"email", "sms"}:
        raise PlanError("Choose email or text message.")
    token = tokens.new_token()
    url = settings.SITE_URL.rstrip("/") + reverse("plans:patient_link", args=[token])
    now = timezone.now()
    with transaction.atomic():
        PlanLink.objects.filter(version__plan=version.plan, used_at__isnull=True, replaced_at__isnull=True).update(
            replaced_at=now
        )
        link = PlanLink.objects.create(
            version=version,
            token_hash=tokens.token_hash(token),
            channel=channel,
            created_by=actor,
            expires_at=now + datetime.timedelta(days=LINK_DAYS),
        )
        audit.record(
            actor=actor,
            action=Action.SEND,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id,
            target_type="plan_link",
            target_id=str(version.public_id),
            detail={"channel": channel},
        )
        text = MESSAGE.format(practice=patient.practice.name, url=url)
        if channel == "email":
            transaction.on_commit(
                lambda: send_mail("Your treatment plan from your care team", text, None, [patient.email])
            )
        else:
            transaction.on_commit(lambda: send_sms(patient.phone, text))
    return link, token


def refusal(link: PlanLink, at: datetime.datetime | None = None) -> str:
    """Why the link no longer opens, in words for the patient; empty if it does."""
    now = at or timezone.now()
    if link.used_at is not None:
        return "You have already acknowledged this plan: thank you. This link cannot be used again."
    if link.replaced_at is not None:
        return "A newer link was sent to you; please use that one."
    if now >= link.expires_at:
        return "This link has expired. Your care team can send you a new one."
    if link.version.status != VersionStatus.IN_FORCE:
        return "Your care team has updated this plan since the link was sent. They will send you the new one."
    if PlanAcknowledgement.objects.filter(version_id=link.version_id).exists():
        # Acknowledged in the office after the link was sent.
        return "You have already acknowledged this plan with your care team: thank you. This link is no longer needed."
    return ""


def by_link(*, link: PlanLink, typed_name: str, meta: audit.RequestMeta) -> PlanAcknowledgement:
    """The patient acknowledges through their link; it is used up at once."""
    reason = refusal(link)
    if reason:
        raise PlanError(reason)
    with transaction.atomic():
        used = PlanLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=timezone.now())
        if not used:
            raise PlanError("You have already acknowledged this plan: thank you.")
        _check_open(link.version)
        return _acknowledge(
            link.version, method=AcknowledgementMethod.LINK, typed_name=typed_name, witness=None, meta=meta
        )
