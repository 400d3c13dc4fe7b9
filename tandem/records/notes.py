"""Encounter notes: start a draft, save it as the author types, sign it, and
amend it or add to it once signed. Atomic, audited, safe to submit twice.

A draft's saves carry the revision they started from. A save from an older
revision (another tab, another device) is refused as a conflict and the
current text is handed back, so neither side's text is lost: the author
chooses. Signing locks the row; the database refuses any later change (see
migration 0002), and every function here refuses first, with a clear message.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.messaging.services import notify
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.records import note_kinds
from tandem.records.models import IMMUTABLE_MESSAGE, Change, Cosignature, Document, NoteStatus
from tandem.records.sharing import on_signed
from tandem.scheduling.models import Appointment

TREATMENT = "treatment"


class NoteError(Exception):
    """A note action refused, with a message for the person."""


class NoteLocked(NoteError):
    pass


@dataclass(frozen=True)
class Saved:
    document: Document
    # Set when the save started from an older revision: nothing was written,
    # and this is what the draft holds now.
    conflict: bool = False


def _audit(actor: User, action: str, document: Document, meta: audit.RequestMeta, **detail: object) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=TREATMENT,
        meta=meta,
        patient_id=document.patient.public_id,
        target_type="note",
        target_id=document.public_id,
        detail={"kind": document.kind, "version": document.version, **detail},
    )


def _title(kind: note_kinds.NoteKind, day: datetime.date, change: str = "") -> str:
    words = {Change.AMENDMENT: " (amended)", Change.ADDENDUM: " (addendum)"}.get(Change(change), "")
    return f"{kind.label}, {day:%b} {day.day}, {day.year}{words}"


def start(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    kind: str,
    occurred_on: datetime.date,
    encounter: Appointment | None,
    part2: bool,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Document, bool]:
    """A new draft of ``kind`` for this patient, or the one this form already started."""
    template = note_kinds.BY_KEY.get(kind)
    if template is None:
        raise NoteError("Choose a kind of note.")
    existing = Document.objects.filter(form_token=form_token, patient=patient, author=actor).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            document = Document.objects.create(
                patient=patient,
                organization=organization,
                author=actor,
                info_class="progress_notes",
                part2=part2,
                kind=kind,
                encounter=encounter,
                title=_title(template, occurred_on),
                body="",
                fields={},
                occurred_on=occurred_on,
                status=NoteStatus.DRAFT,
                signed_at=None,
                form_token=form_token,
            )
            _audit(actor, Action.CREATE, document, meta)
    except IntegrityError:
        first = Document.objects.filter(form_token=form_token, patient=patient, author=actor).first()
        if first is None:
            raise NoteError("This form was already used. Reload the page and try again.") from None
        return first, False
    return document, True


def template_for(document: Document) -> note_kinds.NoteKind:
    """The fields its author fills in: the note's template, or for an
    addendum the text it adds."""
    if document.change == Change.ADDENDUM:
        return note_kinds.ADDENDUM
    template = note_kinds.BY_KEY.get(document.kind)
    if template is None:
        raise NoteError("This record is not a note.")
    return template


def _body(document: Document, template: note_kinds.NoteKind, fields: Mapping[str, str]) -> str:
    """The version's whole text: an addendum's is the note it adds to, then
    the addendum with its date and reason."""
    text = note_kinds.render_text(template, dict(fields))
    if document.change != Change.ADDENDUM or document.amends is None:
        return text
    day = timezone.localdate()
    return f"{document.amends.body}\n\nAddendum of {day:%b} {day.day}, {day.year} ({document.change_reason}):\n" + (
        fields.get("addendum", "")
    )


def _check_draft(actor: User, document: Document) -> note_kinds.NoteKind:
    if document.author_id != actor.pk:
        raise NoteError("Only the author can change a draft.")
    if document.status != NoteStatus.DRAFT:
        raise NoteLocked(IMMUTABLE_MESSAGE)
    return template_for(document)


def save_draft(
    *,
    actor: User,
    document: Document,
    values: Mapping[str, object],
    base_revision: int,
    meta: audit.RequestMeta | None = None,
) -> Saved:
    """Write the draft's fields if nobody saved since ``base_revision``.

    Autosaves are not audited one by one (there is one a few seconds); the
    draft's start and its signing are. ``meta`` makes a save audited, for a
    save the author asked for."""
    template = _check_draft(actor, document)
    fields = note_kinds.clean_fields(template, values)
    over = note_kinds.too_long(template, fields)
    if over:
        raise NoteError(f"Too long: {', '.join(over)}.")
    now = timezone.now()
    with transaction.atomic():
        written = Document.objects.filter(pk=document.pk, status=NoteStatus.DRAFT, revision=base_revision).update(
            fields=fields,
            body=_body(document, template, fields),
            revision=F("revision") + 1,
            updated_at=now,
        )
        current = Document.objects.select_related("patient").get(pk=document.pk)
        if written and meta is not None:
            _audit(actor, Action.UPDATE, current, meta)
    if not written:
        if current.status != NoteStatus.DRAFT:
            raise NoteLocked(IMMUTABLE_MESSAGE)
        return Saved(current, conflict=True)
    return Saved(current)


def sign(
    *,
    actor: User,
    document: Document,
    values: Mapping[str, object],
    base_revision: int,
    meta: audit.RequestMeta,
) -> Document:
    """Save the last of the text and sign, as one step: the note is then locked."""
    template = _check_draft(actor, document)
    fields = note_kinds.clean_fields(template, values)
    gaps = note_kinds.missing(template, fields)
    if gaps:
        raise NoteError(f"Fill in before signing: {', '.join(gaps)}.")
    saved = save_draft(actor=actor, document=document, values=fields, base_revision=base_revision)
    if saved.conflict:
        raise NoteError("This draft changed in another window. Review the newer text, then sign.")
    now = timezone.now()
    with transaction.atomic():
        done = Document.objects.filter(pk=document.pk, status=NoteStatus.DRAFT).update(
            status=NoteStatus.SIGNED, signed_at=now, updated_at=now
        )
        if not done:
            raise NoteLocked(IMMUTABLE_MESSAGE)
        signed = Document.objects.select_related("patient", "author", "organization", "amends").get(pk=document.pk)
        _audit(actor, Action.SIGN, signed, meta)
        from tandem.referrals.services import on_record_filed

        on_record_filed(signed)
        on_signed(signed)
        _ask_for_cosignature(signed)
    return signed


def amend(
    *,
    actor: User,
    document: Document,
    change: str,
    reason: str,
    meta: audit.RequestMeta,
) -> tuple[Document, bool]:
    """Open a new version of a signed note: an amendment starts from its text,
    an addendum starts empty. The original stays as it was, readable in the
    history. A second request for the same version finds the one already open."""
    if change not in (Change.AMENDMENT, Change.ADDENDUM):
        raise NoteError("Choose an amendment or an addendum.")
    if document.author_id != actor.pk:
        raise NoteError("Only the author can amend a note.")
    if document.status != NoteStatus.SIGNED or not document.is_note:
        raise NoteError("Only a signed note can be amended.")
    reason = " ".join(reason.split())
    if not reason:
        raise NoteError("Say why the note is being changed.")
    if len(reason) > 500:
        raise NoteError("The reason is too long (500 characters at most).")
    template = note_kinds.BY_KEY[document.kind]
    existing = Document.objects.filter(amends=document).first()
    if existing is not None:
        if existing.status == NoteStatus.DRAFT and existing.author_id == actor.pk:
            return existing, False
        raise NoteError("This version was already amended: amend the newest one.")
    start_from = dict(document.fields) if change == Change.AMENDMENT else {}
    body = document.body if change == Change.AMENDMENT else ""
    try:
        with transaction.atomic():
            version = Document.objects.create(
                patient=document.patient,
                organization=document.organization,
                author=actor,
                info_class=document.info_class,
                part2=document.part2,
                kind=document.kind,
                encounter=document.encounter,
                title=_title(template, document.occurred_on, change),
                body=body,
                fields=start_from,
                occurred_on=document.occurred_on,
                status=NoteStatus.DRAFT,
                signed_at=None,
                version=document.version + 1,
                amends=document,
                change=change,
                change_reason=reason,
            )
            _audit(actor, Action.CREATE, version, meta, change=change)
    except IntegrityError:
        # Two requests at once: the other one opened it.
        return amend(actor=actor, document=document, change=change, reason=reason, meta=meta)
    return version, True


def discard(*, actor: User, document: Document, meta: audit.RequestMeta) -> None:
    """Throw away a draft that was never signed (its author only)."""
    _check_draft(actor, document)
    with transaction.atomic():
        deleted, _ = Document.objects.filter(pk=document.pk, status=NoteStatus.DRAFT).delete()
        if not deleted:
            raise NoteLocked(IMMUTABLE_MESSAGE)
        _audit(actor, Action.DELETE, document, meta)


def history(document: Document) -> list[Document]:
    """Every version of this note, oldest first."""
    chain = [document]
    while chain[0].amends_id is not None:
        earlier = Document.objects.select_related("author").get(pk=chain[0].amends_id)
        chain.insert(0, earlier)
    later = Document.objects.filter(amends=chain[-1]).select_related("author").first()
    while later is not None:
        chain.append(later)
        later = Document.objects.filter(amends=later).select_related("author").first()
    return chain


# --- Co-signature ----------------------------------------------------------------------------


def supervisor_for(document: Document) -> User | None:
    """Who must co-sign this note: the author's supervisor in the note's
    organization, when that organization asks for co-signatures."""
    from tandem.organizations.models import Membership

    if not document.organization.notes_need_cosignature:
        return None
    membership = (
        Membership.objects.filter(user_id=document.author_id, organization_id=document.organization_id, is_active=True)
        .select_related("supervisor")
        .first()
    )
    supervisor = membership.supervisor if membership is not None else None
    if supervisor is None or supervisor.pk == document.author_id or not supervisor.is_active:
        return None
    return supervisor


def _ask_for_cosignature(document: Document) -> None:
    supervisor = supervisor_for(document)
    if supervisor is None:
        return
    Cosignature.objects.create(document=document, supervisor=supervisor)
    notify(
        recipients=[supervisor],
        kind="cosign_request",
        text=f"{document.author.display_name} signed a note that needs your co-signature",
        link=reverse("records:document", args=[document.patient.public_id, document.public_id]),
        email_subject="A note is waiting for your co-signature in Tandem",
    )


def cosign(*, actor: User, document: Document, meta: audit.RequestMeta) -> Cosignature:
    """The supervisor co-signs: once, and only the note they were asked to."""
    with transaction.atomic():
        done = Cosignature.objects.filter(document=document, supervisor=actor, signed_at__isnull=True).update(
            signed_at=timezone.now()
        )
        row = Cosignature.objects.filter(document=document, supervisor=actor).first()
        if row is None:
            raise NoteError("This note does not need your co-signature.")
        if done:
            _audit(actor, Action.SIGN, document, meta, cosignature=True)
    return row


def awaiting_cosignature(user: User) -> list[Cosignature]:
    return list(
        Cosignature.objects.filter(supervisor=user, signed_at__isnull=True)
        .select_related("document__patient", "document__author")
        .order_by("requested_at")
    )
