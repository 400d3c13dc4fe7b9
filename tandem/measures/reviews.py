"""Psychiatric case review: the weekly list built from the registry's flags,
and the recommendation each review ends in.

A recommendation is filed as a signed chart record of the reviewer's
organization (so the consent gate decides who on the other side reads it),
and the patient's other care-team members who may read it get it in their
inbox, live, with no clinical detail in the notice.
"""

from __future__ import annotations

import datetime
import uuid

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.measures import registry
from tandem.measures.models import CaseReview
from tandem.messaging.services import notify
from tandem.patients.forms import FORBIDDEN_TEXT
from tandem.patients.models import Patient
from tandem.records.models import Document
from tandem.records.sharing import readers_of

REVIEW_FLAGS = ("alert", "not_improving", "overdue")
RECOMMENDATION_MAX = 4000


class ReviewError(Exception):
    pass


def review_list(user: User, at: datetime.datetime | None = None) -> list[tuple[registry.Row, CaseReview | None]]:
    """The flagged patients of this clinician's caseload, open alerts first,
    then not improving, then overdue; each with its last review."""
    rows = [r for r in registry.registry(user, at=at) if any(f in r.flags for f in REVIEW_FLAGS)]
    rows.sort(key=lambda r: min(REVIEW_FLAGS.index(f) for f in r.flags if f in REVIEW_FLAGS))
    last: dict[int, CaseReview] = {}
    for review in CaseReview.objects.filter(patient__in=[r.patient for r in rows]).select_related("reviewer"):
        if review.patient_id not in last:
            last[review.patient_id] = review
    return [(r, last.get(r.patient.pk)) for r in rows]


def record(
    *, actor: User, patient: Patient, recommendation: str, form_token: uuid.UUID, meta: audit.RequestMeta
) -> tuple[CaseReview, bool]:
    existing = CaseReview.objects.filter(form_token=form_token, reviewer=actor).first()
    if existing is not None:
        return existing, False
    text = recommendation.replace("\r\n", "\n").strip()
    if not text:
        raise ReviewError("Write the recommendation.")
    if len(text) > RECOMMENDATION_MAX or FORBIDDEN_TEXT.search(text.replace("\n", " ")):
        raise ReviewError(f"At most {RECOMMENDATION_MAX} characters, without < or >.")
    organization = policy.record_organization(actor, patient)
    if organization is None or not policy.can_write_records(actor, patient):
        raise ReviewError("Only the patient's clinicians review their care.")
    flags = next((r.flags for r in registry.registry(actor) if r.patient.pk == patient.pk), [])
    now = timezone.now()
    try:
        with transaction.atomic():
            document = Document.objects.create(
                patient=patient,
                organization=organization,
                author=actor,
                info_class="care_plan",
                title=f"Psychiatric case review, {now:%b} {now.day}, {now.year}",
                body=text,
                occurred_on=timezone.localdate(),
            )
            review = CaseReview.objects.create(
                patient=patient,
                reviewer=actor,
                flags=flags,
                recommendation=text,
                document=document,
                reviewed_at=now,
                form_token=form_token,
            )
            audit.record(
                actor=actor,
                action=Action.CREATE,
                purpose="treatment",
                meta=meta,
                patient_id=patient.public_id,
                target_type="case_review",
                target_id=review.public_id,
            )
            readers = readers_of(document)
            if readers:
                notify(
                    recipients=readers,
                    kind="case_review",
                    text=f"{actor.display_name} recorded a case review recommendation about a patient",
                    link=reverse("records:document", args=[patient.public_id, document.public_id]),
                    email_subject="A case review recommendation is ready in Tandem",
                )
    except IntegrityError:
        first = CaseReview.objects.filter(form_token=form_token, reviewer=actor).first()
        if first is None:
            raise ReviewError("This form was already used. Reload the page and try again.") from None
        return first, False
    return review, True
