"""Recording questionnaire responses: atomic, audited, safe to submit twice."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.measures import alerts, instruments, scoring
from tandem.measures.models import Response, ResponseStatus, Source
from tandem.organizations.models import Organization
from tandem.patients.models import Patient

TREATMENT = "treatment"


class MeasureError(Exception):
    """Refused, with a message for the person."""


def context_for(patient: Patient) -> dict[str, str]:
    return {"sex_at_birth": patient.sex_at_birth}


def record_in_session(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    instrument_key: str,
    answers: Mapping[str, object],
    language: str,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Response, bool]:
    """A questionnaire the clinician gave in session: complete, or refused
    with the items still to answer."""
    existing = Response.objects.filter(form_token=form_token, administered_by=actor).first()
    if existing is not None:
        return existing, False
    instrument = next((i for i in instruments.available_to(organization) if i.key == instrument_key), None)
    if instrument is None:
        raise MeasureError(f"{instrument_key} is not available here.")
    try:
        result = scoring.score(instrument, answers, context_for(patient))
    except ValueError as exc:
        raise MeasureError(str(exc)) from None
    if not result.complete:
        raise MeasureError("Answer every question first: " + ", ".join(result.missing) + ".")
    now = timezone.now()
    try:
        with transaction.atomic():
            response = Response.objects.create(
                patient=patient,
                organization=organization,
                instrument=instrument.key,
                instrument_version=instrument.version,
                language=language if language in instrument.languages else "en",
                source=Source.IN_SESSION,
                administered_by=actor,
                answers=scoring.clean(instrument, answers),
                status=ResponseStatus.COMPLETE,
                total=result.total,
                band=result.band or "",
                positive=result.positive,
                critical=[{"item": c.item, "label": c.label} for c in result.critical],
                subscales=result.subscales,
                started_at=now,
                completed_at=now,
                form_token=form_token,
            )
            audit.record(
                actor=actor,
                action=Action.CREATE,
                purpose=TREATMENT,
                meta=meta,
                patient_id=patient.public_id,
                target_type="assessment",
                target_id=response.public_id,
                detail={"instrument": instrument.key},
            )
            alerts.open_for(response)
    except IntegrityError:
        first = Response.objects.filter(form_token=form_token, administered_by=actor).first()
        if first is None:
            raise MeasureError("This form was already used. Reload the page and try again.") from None
        return first, False
    return response, True
