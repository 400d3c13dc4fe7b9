"""The care team's thread about a patient: messages, mentions, attachments,
read status, and consult requests that end as booked provider consults.

Who may use a thread is ``policy.can_use_thread``. Everything here writes
atomically and is audited. Messages can be corrected for five minutes and
never deleted; a retraction keeps the row and shows a marker where the text
was. Notifications say only that there is a message about a patient, with a
link: never the patient's name or the text, since they may go out by email.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.messaging.models import (
    ATTACHMENT_MAX_BYTES,
    MESSAGE_MAX,
    Attachment,
    ConsultRequest,
    ConsultStatus,
    Message,
    Thread,
    ThreadRead,
)
from tandem.messaging.services import notify
from tandem.patients.forms import FORBIDDEN_TEXT
from tandem.patients.models import Patient
from tandem.scheduling import services as scheduling
from tandem.scheduling.models import Appointment, Kind, Modality

TREATMENT = "treatment"
MAX_ATTACHMENTS = 3
MAX_PROPOSED = 3
CONSULT_MINUTES = 30
# What each allowed kind of file starts with: the name and the browser's
# claimed type are not trusted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class ThreadError(Exception):
    """Refused, with a message for the person."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    data: bytes


def thread_for(patient: Patient) -> Thread:
    thread, _ = Thread.objects.get_or_create(patient=patient)
    return thread


def _link(patient: Patient) -> str:
    return reverse("messaging:thread", args=[patient.public_id])


def _audit(
    actor: User,
    action: str,
    patient: Patient,
    target_type: str,
    target_id: object,
    meta: audit.RequestMeta,
    **detail: object,
) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=TREATMENT,
        meta=meta,
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or None,
    )


def check_file(upload: UploadedFile) -> CheckedFile:
    """A PDF, PNG or JPEG of at most 10 MiB, recognised by its first bytes."""
    if upload.size is None or upload.size > ATTACHMENT_MAX_BYTES:
        raise ThreadError(f"{upload.name}: files can be at most {ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB.")
    data = upload.read(ATTACHMENT_MAX_BYTES + 1)
    if len(data) > ATTACHMENT_MAX_BYTES:
        raise ThreadError(f"{upload.name}: files can be at most {ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB.")
    for magic, content_type, extension in SIGNATURES:
        if data.startswith(magic):
            stem = SAFE_NAME.sub("", (upload.name or "file").rsplit(".", 1)[0]).strip()[:80] or "file"
            return CheckedFile(name=stem + extension, content_type=content_type, data=data)
    raise ThreadError(f"{upload.name}: only PDF files and PNG or JPEG images can be attached.")


def mentioned(body: str, members: Sequence[User]) -> list[User]:
    """Members named as ``@First Last`` (or ``@First``) in the text."""
    found = []
    lowered = body.lower()
    for user in members:
        names = {user.display_name.lower(), user.display_name.split(" ")[0].lower()}
        if any(re.search(r"(?<![\w@])@" + re.escape(n) + r"(?!\w)", lowered) for n in names if n):
            found.append(user)
    return found


def _clean_body(body: str) -> str:
    body = body.replace("\r\n", "\n").strip()
    if len(body) > MESSAGE_MAX:
        raise ThreadError(f"A message can be at most {MESSAGE_MAX} characters.")
    if FORBIDDEN_TEXT.search(body.replace("\n", " ")):
        raise ThreadError("A message cannot contain < or > or control characters.")
    return body


def post(
    *,
    actor: User,
    patient: Patient,
    body: str,
    files: Sequence[UploadedFile] = (),
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Message, bool]:
    """Send a message to the patient's thread, or find the one this form sent."""
    if not policy.can_use_thread(actor, patient):
        raise ThreadError("You are not in this patient's care-team thread.")
    existing = Message.objects.filter(form_token=form_token, author=actor).first()
    if existing is not None:
        return existing, False
    body = _clean_body(body)
    if len(files) > MAX_ATTACHMENTS:
        raise ThreadError(f"Attach at most {MAX_ATTACHMENTS} files to one message.")
    checked = [check_file(f) for f in files]
    if not body and not checked:
        raise ThreadError("Write a message or attach a file.")
    organization = policy.record_organization(actor, patient)
    if organization is None:
        raise ThreadError("You are not in this patient's care-team thread.")
    members = policy.thread_members(patient)
    others = [u for u in members if u.pk != actor.pk]
    named = mentioned(body, others)
    try:
        with transaction.atomic():
            thread = thread_for(patient)
            message = Message.objects.create(
                thread=thread, author=actor, organization=organization, body=body, form_token=form_token
            )
            message.mentions.set(named)
            for f in checked:
                Attachment.objects.create(
                    message=message,
                    file=ContentFile(f.data, name=f"{uuid.uuid4().hex}{f.name[f.name.rfind('.') :]}"),
                    name=f.name,
                    content_type=f.content_type,
                    size=len(f.data),
                    sha256=hashlib.sha256(f.data).hexdigest(),
                )
            _read(actor, thread, message.created_at)
            _audit(actor, Action.CREATE, patient, "message", message.public_id, meta, attachments=len(checked))
            plain = [u for u in others if u not in named]
            if named:
                notify(
                    recipients=named,
                    kind="thread_mention",
                    text=f"{actor.display_name} mentioned you in a message about a patient",
                    link=_link(patient),
                    email_subject="You were mentioned in a message in Tandem",
                )
            if plain:
                notify(
                    recipients=plain,
                    kind="thread_message",
                    text=f"New message from {actor.display_name} about a patient",
                    link=_link(patient),
                )
    except IntegrityError:
        first = Message.objects.filter(form_token=form_token, author=actor).first()
        if first is None:
            raise ThreadError("This form was already used. Reload the page and try again.") from None
        return first, False
    return message, True


def edit(
    *, actor: User, message: Message, body: str, meta: audit.RequestMeta, at: datetime.datetime | None = None
) -> Message:
    now = at or timezone.now()
    if message.author_id != actor.pk:
        raise ThreadError("Only its author can correct a message.")
    if message.retracted_at is not None:
        raise ThreadError("A retracted message cannot be changed.")
    if now > message.editable_until:
        raise ThreadError("Messages can be corrected for five minutes after they are sent.")
    body = _clean_body(body)
    if not body and not message.attachments.exists():
        raise ThreadError("A message cannot be emptied: retract it instead.")
    with transaction.atomic():
        # The window is checked again in the update itself, so a late save cannot slip in.
        changed = Message.objects.filter(
            pk=message.pk,
            retracted_at__isnull=True,
            created_at__gte=now - (message.editable_until - message.created_at),
        ).update(body=body, edited_at=now)
        if not changed:
            raise ThreadError("Messages can be corrected for five minutes after they are sent.")
        _audit(actor, Action.UPDATE, message.thread.patient, "message", message.public_id, meta)
    message.refresh_from_db()
    return message


def retract(*, actor: User, message: Message, meta: audit.RequestMeta) -> Message:
    """Withdraw a message: its text is no longer shown, a marker says who
    retracted it and when. The row (and the audit trail) stays."""
    if message.author_id != actor.pk:
        raise ThreadError("Only its author can retract a message.")
    with transaction.atomic():
        if not Message.objects.filter(pk=message.pk, retracted_at__isnull=True).update(retracted_at=timezone.now()):
            raise ThreadError("This message was already retracted.")
        _audit(actor, Action.REVOKE, message.thread.patient, "message", message.public_id, meta)
    message.refresh_from_db()
    return message


def _read(user: User, thread: Thread, at: datetime.datetime) -> None:
    row, created = ThreadRead.objects.get_or_create(thread=thread, user=user, defaults={"read_at": at})
    if not created and row.read_at < at:
        ThreadRead.objects.filter(pk=row.pk, read_at__lt=at).update(read_at=at)


def mark_read(user: User, thread: Thread) -> None:
    """The member has seen the thread up to its newest message."""
    latest = thread.messages.order_by("-created_at").values_list("created_at", flat=True).first()
    if latest is not None:
        _read(user, thread, latest)


def unread_count(user: User, patient: Patient) -> int:
    """Messages from others since the member last read the thread, in one query."""
    seen = ThreadRead.objects.filter(thread=OuterRef("thread"), user=user).values("read_at")[:1]
    return (
        Message.objects.filter(thread__patient=patient)
        .exclude(author=user)
        .annotate(seen=Subquery(seen))
        .filter(Q(seen__isnull=True) | Q(created_at__gt=F("seen")))
        .count()
    )


# --- Consult requests ----------------------------------------------------------------------------


def request_consult(
    *,
    actor: User,
    patient: Patient,
    of: User,
    topic: str,
    times: Sequence[datetime.datetime],
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[ConsultRequest, bool]:
    """Ask a teammate for a 30-minute provider consult at one of these times."""
    existing = ConsultRequest.objects.filter(form_token=form_token, requested_by=actor).first()
    if existing is not None:
        return existing, False
    members = policy.thread_members(patient)
    if actor not in members:
        raise ThreadError("You are not in this patient's care-team thread.")
    if of.pk == actor.pk or of not in members:
        raise ThreadError("Choose someone else on the patient's care team.")
    topic = _clean_body(topic)
    if not topic:
        raise ThreadError("Say what the consult is about.")
    now = timezone.now()
    wanted = sorted(set(times))
    if not wanted or len(wanted) > MAX_PROPOSED:
        raise ThreadError(f"Propose one to {MAX_PROPOSED} times.")
    if any(t <= now for t in wanted):
        raise ThreadError("Proposed times must be in the future.")
    try:
        with transaction.atomic():
            thread = thread_for(patient)
            consult = ConsultRequest.objects.create(
                thread=thread,
                requested_by=actor,
                requested_of=of,
                topic=topic,
                proposed=[t.isoformat() for t in wanted],
                form_token=form_token,
            )
            _audit(actor, Action.CREATE, patient, "consult_request", consult.public_id, meta)
            notify(
                recipients=[of],
                kind="consult_request",
                text=f"{actor.display_name} asked you for a provider consult about a patient",
                link=_link(patient),
                email_subject="A consult request is waiting in Tandem",
            )
    except IntegrityError:
        first = ConsultRequest.objects.filter(form_token=form_token, requested_by=actor).first()
        if first is None:
            raise ThreadError("This form was already used. Reload the page and try again.") from None
        return first, False
    return consult, True


def accept_consult(
    *, actor: User, consult: ConsultRequest, start: datetime.datetime, meta: audit.RequestMeta
) -> Appointment:
    """Book the consult at one of the proposed times, for both clinicians."""
    if consult.requested_of_id != actor.pk:
        raise ThreadError("Only the clinician asked can answer this request.")
    if consult.status != ConsultStatus.PROPOSED:
        if consult.status == ConsultStatus.BOOKED and consult.appointment is not None:
            return consult.appointment  # answered twice: the booking stands
        raise ThreadError("This request was already answered.")
    if start not in consult.proposed_times():
        raise ThreadError("Choose one of the proposed times.")
    if start <= timezone.now():
        raise ThreadError("That time has passed. Ask for new times in the thread.")
    patient = consult.thread.patient
    organization = policy.record_organization(consult.requested_by, patient)
    if organization is None:
        raise ThreadError("The clinician who asked is no longer on the care team.")
    kind = next(
        t for t in scheduling.ensure_types(organization) if t.kind == Kind.CONSULT and t.minutes == CONSULT_MINUTES
    )
    with transaction.atomic():
        locked = ConsultRequest.objects.select_for_update().get(pk=consult.pk)
        if locked.status != ConsultStatus.PROPOSED:
            raise ThreadError("This request was already answered.")
        try:
            appointment = scheduling.book(
                actor=actor,
                appointment_type=kind,
                clinicians=[consult.requested_by, actor],
                patient=patient,
                starts_at=start,
                modality=Modality.AUDIO,
                meta=meta,
            )
        except scheduling.SlotTaken as exc:
            raise ThreadError(str(exc)) from exc
        except scheduling.BookingRefused as exc:
            raise ThreadError("That time no longer works: " + "; ".join(exc.reasons)) from exc
        ConsultRequest.objects.filter(pk=consult.pk).update(
            status=ConsultStatus.BOOKED, appointment=appointment, answered_at=timezone.now()
        )
        _audit(actor, Action.UPDATE, patient, "consult_request", consult.public_id, meta, answer="booked")
    consult.refresh_from_db()
    return appointment


def decline_consult(*, actor: User, consult: ConsultRequest, meta: audit.RequestMeta) -> ConsultRequest:
    if consult.requested_of_id != actor.pk:
        raise ThreadError("Only the clinician asked can answer this request.")
    with transaction.atomic():
        if not ConsultRequest.objects.filter(pk=consult.pk, status=ConsultStatus.PROPOSED).update(
            status=ConsultStatus.DECLINED, answered_at=timezone.now()
        ):
            raise ThreadError("This request was already answered.")
        _audit(
            actor, Action.UPDATE, consult.thread.patient, "consult_request", consult.public_id, meta, answer="declined"
        )
        notify(
            recipients=[consult.requested_by],
            kind="consult_declined",
            text=f"{actor.display_name} declined a consult request about a patient",
            link=_link(consult.thread.patient),
        )
    consult.refresh_from_db()
    return consult
