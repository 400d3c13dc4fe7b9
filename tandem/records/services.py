"""Filing records in the chart. Atomic, audited, and safe to submit twice."""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.records.models import Document, PsychotherapyNote

TREATMENT = "treatment"


def document_create(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    info_class: str,
    part2: bool,
    title: str,
    body: str,
    occurred_on: datetime.date,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Document, bool]:
    existing = Document.objects.filter(form_token=form_token, patient=patient, author=actor).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            document = Document.objects.create(
                patient=patient,
                organization=organization,
                author=actor,
                info_class=info_class,
                part2=part2,
                title=title,
                body=body,
                occurred_on=occurred_on,
                form_token=form_token,
            )
            audit.record(
                actor=actor,
                action=Action.CREATE,
                purpose=TREATMENT,
                meta=meta,
                patient_id=patient.public_id,
                target_type="document",
                target_id=document.public_id,
                detail={"class": document.effective_class},
            )
            from tandem.referrals.services import on_record_filed

            on_record_filed(document)
    except IntegrityError:
        # The same form, submitted twice at once: the first one won.
        first = Document.objects.filter(form_token=form_token, patient=patient, author=actor).first()
        if first is None:
            raise ValidationError("This form was already used. Reload the page and try again.") from None
        return first, False
    return document, True


def psychotherapy_note_create(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    body: str,
    occurred_on: datetime.date,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[PsychotherapyNote, bool]:
    existing = PsychotherapyNote.objects.filter(form_token=form_token, patient=patient, author=actor).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            note = PsychotherapyNote.objects.create(
                patient=patient,
                organization=organization,
                author=actor,
                body=body,
                occurred_on=occurred_on,
                form_token=form_token,
            )
            audit.record(
                actor=actor,
                action=Action.CREATE,
                purpose=TREATMENT,
                meta=meta,
                patient_id=patient.public_id,
                target_type="psychotherapy_note",
                target_id=note.public_id,
            )
    except IntegrityError:
        first = PsychotherapyNote.objects.filter(form_token=form_token, patient=patient, author=actor).first()
        if first is None:
            raise ValidationError("This form was already used. Reload the page and try again.") from None
        return first, False
    return note, True
