"""Preparing, signing, revoking and expiring authorizations; emergency access.

Every service is atomic and audited. Notification texts hold no health
information: not the patient's name, nor which information is involved.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.consent import documents
from tandem.consent.models import (
    Authorization,
    BreakGlass,
    Kind,
    SignerRole,
    SigningLink,
    Status,
)
from tandem.consent.pdf import render_pdf
from tandem.lib.tokens import MAX_LENGTH, new_token, token_hash
from tandem.messaging import sms
from tandem.messaging.services import notify
from tandem.organizations.models import Membership, Organization, Partnership, Role
from tandem.patients.models import CareTeamMember, Patient, active_on

CONSENT = "consent"
_DRAWING = re.compile(r"^[ML0-9 .,-]*$")


def _audit(
    actor: User | None,
    action: Action,
    authorization: Authorization,
    meta: audit.RequestMeta,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=CONSENT,
        meta=meta,
        patient_id=authorization.patient.public_id,
        target_type="authorization",
        target_id=authorization.public_id,
        detail=detail,
    )


def parties_for(patient: Patient, at: datetime.datetime | None = None) -> list[Organization]:
    """The organizations an authorization may name: the patient's practice and its active partner groups."""
    day = patient.practice.local_date(at)
    partnerships = Partnership.objects.filter(practice=patient.practice).select_related("group")
    groups = {p.group for p in partnerships if p.is_active_on(day)}
    return [patient.practice, *sorted(groups, key=lambda g: g.name)]


def named_clinicians(patient: Patient) -> list[User]:
    """Clinicians an authorization may name as recipient or source: the care team, past and present."""
    ids = CareTeamMember.objects.filter(patient=patient).values("user_id")
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("full_name"))


def _fields_for(authorization: Authorization, patient: Patient) -> dict[str, str]:
    labels = [str(InfoClass(c).label) for c in authorization.classes]
    information = (
        "; ".join(labels)
        if labels
        else "your consent to care by video and to collaborative care; no records are disclosed under it"
    )
    discloser = authorization.discloser.name
    recipient = authorization.recipient.name
    if authorization.source_clinician:
        discloser = f"{authorization.source_clinician.display_name} of {discloser}"
    if authorization.recipient_clinician:
        recipient = f"{authorization.recipient_clinician.display_name} of {recipient}"
    if authorization.mutual:
        discloser = f"{discloser} and {recipient}"
        recipient = f"{authorization.discloser.name} and {authorization.recipient.name}, each from the other"
    return {
        "patient_name": patient.full_name,
        "date_of_birth": f"{patient.date_of_birth:%B} {patient.date_of_birth.day}, {patient.date_of_birth.year}",
        "discloser": discloser,
        "recipient": recipient,
        "information": information,
        "purpose": authorization.purpose,
        "expiry": authorization.expiry_text,
        "revocation_contact": patient.practice.name,
        "cost_sharing": authorization.cost_sharing or "Your practice will tell you what your plan charges.",
    }


@transaction.atomic
def prepare(
    *,
    actor: User,
    patient: Patient,
    template_key: str,
    discloser: Organization,
    recipient: Organization,
    mutual: bool,
    classes: list[str],
    purpose: str,
    expires_on: datetime.date | None,
    expiry_event: str,
    recipient_clinician: User | None = None,
    source_clinician: User | None = None,
    cost_sharing: str = "",
    form_token: uuid.UUID | None = None,
    meta: audit.RequestMeta,
) -> Authorization:
    """An authorization ready to sign, its text frozen from the current template version.
    The same form submitted twice finds the first one."""
    if form_token is not None:
        existing = Authorization.objects.filter(form_token=form_token, patient=patient).first()
        if existing is not None:
            return existing
    try:
        template = documents.load(template_key)
    except documents.TemplateError as exc:
        raise ValidationError("Choose one of the authorization templates.") from exc
    errors = []
    parties = parties_for(patient)
    if discloser not in parties or recipient not in parties:
        errors.append("Name the patient's practice or one of its partner groups.")
    if discloser == recipient and template.kind != Kind.PSYCHOTHERAPY_NOTES:
        errors.append("The discloser and the recipient must be different organizations.")
    unknown = set(classes) - set(template.classes_allowed)
    if unknown:
        errors.append("This template cannot cover: " + ", ".join(sorted(unknown)) + ".")
    if template.classes_allowed and not classes:
        errors.append("Choose at least one kind of information.")
    if expires_on is None and not expiry_event.strip():
        errors.append("Give an expiry date, an expiry event, or both.")
    if expires_on is not None and expires_on < patient.practice.local_date():
        errors.append("The expiry date has already passed.")
    if template.kind == Kind.PSYCHOTHERAPY_NOTES:
        if recipient_clinician is None:
            errors.append("A psychotherapy-notes authorization names the clinician who may read them.")
        if mutual:
            errors.append("Psychotherapy notes go one way only.")
    team = set(named_clinicians(patient))
    for person, organization, role in (
        (recipient_clinician, recipient, "recipient"),
        (source_clinician, discloser, "discloser"),
    ):
        if person is None:
            continue
        if person not in team:
            errors.append("Name a clinician on the patient's care team.")
        elif not Membership.objects.filter(user=person, organization=organization, is_active=True).exists():
            errors.append(f"The named clinician must work at the {role}, {organization.name}.")
    if recipient_clinician is not None and mutual:
        errors.append("An authorization that names one recipient clinician goes one way only.")
    if errors:
        raise ValidationError(errors)
    authorization = Authorization(
        patient=patient,
        kind=template.kind,
        template_key=template.key,
        template_version=template.version,
        template_sha256=template.sha256,
        discloser=discloser,
        recipient=recipient,
        mutual=mutual,
        recipient_clinician=recipient_clinician,
        source_clinician=source_clinician,
        classes=[c for c in template.classes_allowed if c in classes],
        purpose=purpose.strip(),
        expires_on=expires_on,
        expiry_event=expiry_event.strip(),
        cost_sharing=cost_sharing.strip(),
        created_by=actor,
        form_token=form_token,
    )
    authorization.text = documents.render(template, _fields_for(authorization, patient))
    try:
        with transaction.atomic():
            authorization.save()
    except IntegrityError:
        # The same form, submitted twice at once: the first one won.
        existing = Authorization.objects.filter(form_token=form_token, patient=patient).first()
        if existing is None:
            raise ValidationError("This form was already used. Reload the page and try again.") from None
        return existing
    _audit(actor, Action.CREATE, authorization, meta, {"template": template.key, "version": template.version})
    return authorization


# --- Signing links ---------------------------------------------------------------------------


class LinkRefused(Exception):
    """A signing link that cannot be used: unknown, used, expired or withdrawn."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def send_link(
    *, actor: User, authorization: Authorization, channel: str, meta: audit.RequestMeta
) -> tuple[SigningLink, str]:
    """Issue a fresh link (earlier unused ones stop working) and send it. The
    token exists only in the message: the database keeps its hash."""
    patient = authorization.patient
    destination = patient.email if channel == SigningLink.Channel.EMAIL else patient.phone
    if authorization.status != Status.PENDING:
        raise ValidationError("Only an authorization waiting for signature can be sent.")
    if not destination:
        raise ValidationError("The patient has no " + ("email address" if channel == "email" else "phone number") + ".")
    token = new_token()
    now = timezone.now()
    with transaction.atomic():
        Authorization.objects.select_for_update(of=("self",)).filter(pk=authorization.pk).first()
        SigningLink.objects.filter(authorization=authorization, used_at__isnull=True, cancelled_at__isnull=True).update(
            cancelled_at=now
        )
        link = SigningLink.objects.create(
            authorization=authorization,
            token_hash=token_hash(token),
            channel=channel,
            sent_to=destination,
            created_by=actor,
            expires_at=now + datetime.timedelta(hours=settings.SIGNING_LINK_HOURS),
        )
        _audit(actor, Action.SEND, authorization, meta, {"channel": channel})
    url = settings.SITE_URL.rstrip("/") + reverse("consent:sign", args=[token])
    practice = patient.practice.name
    hours = settings.SIGNING_LINK_HOURS
    try:
        if channel == SigningLink.Channel.EMAIL:
            body = (
                f"{practice} asks you to review and sign a form.\n\n"
                f"Open this private link to read it and sign: {url}\n\n"
                f"The link works once and for {hours} hours. If you did not expect it, call {practice}."
            )
            EmailMessage(f"A form to sign from {practice}", body, None, [destination]).send()
        else:
            sms.send_sms(destination, f"{practice}: please review and sign a form at {url} (works once, {hours} h).")
    except Exception as exc:
        SigningLink.objects.filter(pk=link.pk).update(cancelled_at=timezone.now())
        raise ValidationError("The link could not be sent: " + str(exc)[:200]) from exc
    return link, token


def open_link(token: str, at: datetime.datetime | None = None) -> SigningLink:
    """The link for a token, if it may still be used to sign."""
    at = at or timezone.now()
    if len(token) > MAX_LENGTH:
        raise LinkRefused("unknown")
    link = (
        SigningLink.objects.filter(token_hash=token_hash(token))
        .select_related("authorization__patient__practice", "authorization__discloser", "authorization__recipient")
        .first()
    )
    if link is None:
        raise LinkRefused("unknown")
    if link.used_at is not None:
        raise LinkRefused("used")
    if link.cancelled_at is not None or link.authorization.status != Status.PENDING:
        raise LinkRefused("withdrawn")
    if at >= link.expires_at:
        raise LinkRefused("expired")
    return link


def copy_link(token: str, at: datetime.datetime | None = None) -> SigningLink:
    """The link a signer may still download their copy through, shortly after signing."""
    at = at or timezone.now()
    link = SigningLink.objects.filter(token_hash=token_hash(token)).select_related("authorization").first()
    if link is None or link.copy_until is None or at >= link.copy_until:
        raise LinkRefused("unknown")
    return link


# --- Signing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    name: str
    agreed: bool
    role: str
    representative_authority: str = ""
    drawing: str = ""


def _check_signature(signature: Signature, patient: Patient) -> None:
    errors = []
    if not signature.agreed:
        errors.append("Tick the box to agree before signing.")
    if not signature.name.strip():
        errors.append("Type your full name to sign.")
    if signature.role not in SignerRole.values:
        errors.append("Say who is signing.")
    if signature.role == SignerRole.REPRESENTATIVE and not signature.representative_authority.strip():
        errors.append("A representative states the authority they sign under.")
    if len(signature.drawing) > 20_000 or not _DRAWING.match(signature.drawing):
        errors.append("The drawn signature could not be read; clear it and draw again, or leave it empty.")
    if errors:
        raise ValidationError(errors)


def _pdf_context(authorization: Authorization) -> dict[str, Any]:
    template = documents.load(authorization.template_key, authorization.template_version)
    return {"authorization": authorization, "template": template, "patient": authorization.patient}


def sign(
    *,
    authorization: Authorization,
    signature: Signature,
    via: str,
    ip_address: str | None,
    meta: audit.RequestMeta,
    link: SigningLink | None = None,
    witness: User | None = None,
) -> Authorization:
    """Record the signature, draw the signed PDF and keep it with its SHA-256.

    The authorization row (and the link) are locked first, so a double submit
    or a second tab signs once and the other is refused."""
    _check_signature(signature, authorization.patient)
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Authorization.objects.select_for_update(of=("self",))
            .select_related("patient__practice", "discloser", "recipient", "recipient_clinician", "source_clinician")
            .get(pk=authorization.pk)
        )
        if link is not None:
            fresh = SigningLink.objects.select_for_update(of=("self",)).get(pk=link.pk)
            if not fresh.usable_at(now):
                raise LinkRefused("used" if fresh.used_at else "expired")
            fresh.used_at = now
            fresh.copy_until = now + datetime.timedelta(hours=1)
            fresh.save(update_fields=["used_at", "copy_until"])
        if locked.status != Status.PENDING:
            raise LinkRefused("used")
        if locked.expires_on is not None and locked.expires_on < locked.patient.practice.local_date(now):
            raise ValidationError("This form's end date has passed. Ask the practice for a new one.")
        locked.status = Status.SIGNED
        locked.signed_at = now
        locked.signed_via = via
        locked.signer_name = signature.name.strip()[:120]
        locked.signer_role = signature.role
        locked.representative_authority = (
            signature.representative_authority.strip()[:200] if signature.role == SignerRole.REPRESENTATIVE else ""
        )
        locked.signer_ip = ip_address
        locked.signature_drawing = signature.drawing
        locked.witnessed_by = witness
        content = render_pdf("consent/pdf/authorization.html", _pdf_context(locked))
        locked.pdf_sha256 = hashlib.sha256(content).hexdigest()
        locked.pdf.save("signed.pdf", ContentFile(content), save=False)
        locked.save()
        SigningLink.objects.filter(authorization=locked, used_at__isnull=True, cancelled_at__isnull=True).update(
            cancelled_at=now
        )
        _audit(witness, Action.SIGN, locked, meta, {"via": via, "signer": signature.role})
    return locked


def signed_pdf(authorization: Authorization) -> bytes:
    """The stored PDF, after checking it still matches the hash kept at signing."""
    with authorization.pdf.open("rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != authorization.pdf_sha256:
        raise ValidationError("The stored PDF does not match its recorded fingerprint.")
    return bytes(content)


def email_copy(authorization: Authorization) -> None:
    patient = authorization.patient
    if not patient.email:
        raise ValidationError("The patient has no email address.")
    message = EmailMessage(
        f"Your signed form from {patient.practice.name}",
        "Your signed form is attached. Keep it for your records.",
        None,
        [patient.email],
    )
    message.attach(f"authorization-{authorization.signed_at:%Y%m%d}.pdf", signed_pdf(authorization), "application/pdf")
    message.send()


# --- Revoking, expiring ----------------------------------------------------------------------


def recipients_of(authorization: Authorization) -> list[User]:
    """Who received information under it: the named clinician, or the receiving
    organizations' members on the care team."""
    if authorization.recipient_clinician is not None:
        return [authorization.recipient_clinician]
    orgs = [authorization.recipient_id] + ([authorization.discloser_id] if authorization.mutual else [])
    day = authorization.patient.practice.local_date()
    ids = CareTeamMember.objects.filter(active_on(day), patient=authorization.patient, organization_id__in=orgs).values(
        "user_id"
    )
    return list(User.objects.filter(pk__in=ids, is_active=True))


@transaction.atomic
def revoke(*, actor: User, authorization: Authorization, note: str, meta: audit.RequestMeta) -> Authorization:
    """Stops disclosure from the next request on. What was disclosed stays disclosed."""
    locked = (
        Authorization.objects.select_for_update(of=("self",))
        .select_related("patient__practice")
        .get(pk=authorization.pk)
    )
    if locked.status == Status.PENDING:
        locked.status = Status.VOID
        locked.save(update_fields=["status"])
        SigningLink.objects.filter(authorization=locked, used_at__isnull=True).update(cancelled_at=timezone.now())
        _audit(actor, Action.REVOKE, locked, meta, {"before_signing": True})
        return locked
    if locked.status != Status.SIGNED or locked.revoked_at is not None:
        raise ValidationError("This authorization is no longer in force.")
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor
    locked.revocation_note = note.strip()[:500]
    locked.save(update_fields=["revoked_at", "revoked_by", "revocation_note"])
    _audit(actor, Action.REVOKE, locked, meta)
    notify(
        recipients=[u for u in recipients_of(locked) if u != actor],
        kind="consent_revoked",
        text="A patient revoked an authorization that covered you. Tandem no longer shows what it covered.",
        link=reverse("patients:chart", args=[locked.patient.public_id]),
        email_subject="An authorization was revoked",
    )
    return locked


@transaction.atomic
def record_expiry_event(*, actor: User, authorization: Authorization, meta: audit.RequestMeta) -> Authorization:
    locked = Authorization.objects.select_for_update(of=("self",)).select_related("patient").get(pk=authorization.pk)
    if not locked.expiry_event or locked.event_occurred_at is not None or locked.status != Status.SIGNED:
        raise ValidationError("This authorization has no pending expiry event.")
    locked.event_occurred_at = timezone.now()
    locked.event_recorded_by = actor
    locked.save(update_fields=["event_occurred_at", "event_recorded_by"])
    _audit(actor, Action.UPDATE, locked, meta, {"expiry_event": True})
    return locked


# --- Emergency access ------------------------------------------------------------------------


def privacy_officers(practice: Organization) -> list[User]:
    ids = Membership.objects.filter(organization=practice, role=Role.PRACTICE_ADMIN, is_active=True).values("user_id")
    return list(User.objects.filter(pk__in=ids, is_active=True))


@transaction.atomic
def break_glass(*, actor: User, patient: Patient, reason: str, meta: audit.RequestMeta) -> BreakGlass:
    reason = reason.strip()
    if len(reason) < 20:
        raise ValidationError("Describe the emergency in at least 20 characters.")
    day = patient.practice.local_date()
    member = (
        CareTeamMember.objects.filter(active_on(day), patient=patient, user=actor)
        .select_related("organization")
        .first()
    )
    if member is None:
        raise ValidationError("Only a clinician on the care team may use emergency access.")
    now = timezone.now()
    # A second submit while a grant is open returns it: one grant, one alert.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    open_grant = BreakGlass.objects.filter(patient=patient, user=actor, started_at__lte=now, expires_at__gt=now).first()
    if open_grant is not None:
        return open_grant
    grant = BreakGlass.objects.create(
        patient=patient,
        user=actor,
        organization=member.organization,
        reason=reason[:1000],
        started_at=now,
        expires_at=now + datetime.timedelta(minutes=settings.BREAK_GLASS_MINUTES),
    )
    audit.record(
        actor=actor,
        action=Action.EMERGENCY_ACCESS,
        purpose="emergency",
        meta=meta,
        patient_id=patient.public_id,
        target_type="break_glass",
        target_id=grant.public_id,
        detail={"minutes": settings.BREAK_GLASS_MINUTES},
    )
    notify(
        recipients=privacy_officers(patient.practice),
        kind="break_glass",
        text="A clinician used emergency access to a patient's record. Please review it.",
        link=reverse("consent:break_glass_review"),
        email_subject="Emergency access used",
    )
    return grant


@transaction.atomic
def review_break_glass(*, actor: User, grant: BreakGlass, note: str, meta: audit.RequestMeta) -> BreakGlass:
    locked = BreakGlass.objects.select_for_update(of=("self",)).select_related("patient").get(pk=grant.pk)
    if locked.reviewed_at is not None:
        raise ValidationError("This use was already reviewed.")
    if locked.user_id == actor.pk:
        raise ValidationError("Another admin reviews your own emergency access.")
    if not note.strip():
        raise ValidationError("Write what the review found.")
    locked.reviewed_at = timezone.now()
    locked.reviewed_by = actor
    locked.review_note = note.strip()[:1000]
    locked.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
    audit.record(
        actor=actor,
        action=Action.REVIEW,
        purpose="privacy_review",
        meta=meta,
        patient_id=locked.patient.public_id,
        target_type="break_glass",
        target_id=locked.public_id,
    )
    return locked
