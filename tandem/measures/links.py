"""Questionnaires the patient answers through a link: sending it, saving
answers along the way, and submitting each instrument.

The link is single-use (done once every instrument is complete) and expires
after ``LINK_DAYS``. Its messages carry no clinical detail: the practice's
name and the link. A submitted questionnaire is scored by the same engine as
in session; a critical answer opens a safety alert, and the page shows the
patient crisis resources at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.lib import tokens
from tandem.measures import alerts, instruments, scoring
from tandem.measures.models import Channel, MeasureLink, Response, ResponseStatus, Source
from tandem.measures.services import MeasureError, context_for
from tandem.messaging.sms import send_sms
from tandem.organizations.models import Organization
from tandem.patients.models import Patient

LINK_DAYS = 7
TREATMENT = "treatment"
MESSAGES = {
    "en": "{practice} asks you to answer a short questionnaire before your next visit: {url} "
    "(the link works for 7 days).",
    "es": "{practice} le pide que conteste un breve cuestionario antes de su próxima cita: {url} "
    "(el enlace funciona durante 7 días).",
}


def send(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    instrument_keys: Sequence[str],
    language: str,
    channel: str,
    meta: audit.RequestMeta,
) -> tuple[MeasureLink, str]:
    """Make the link, send it by the channel chosen, and return it with its URL."""
    keys = list(dict.fromkeys(instrument_keys))
    if not keys:
        raise MeasureError("Choose at least one questionnaire.")
    usable = {i.key: i for i in instruments.available_to(organization)}
    unknown = [k for k in keys if k not in usable]
    if unknown:
        raise MeasureError(f"Not available here: {', '.join(unknown)}.")
    chosen = [usable[k] for k in keys]
    unsupported = [i.short_name for i in chosen if language not in i.languages]
    if unsupported:
        raise MeasureError(f"Not available in that language yet: {', '.join(unsupported)}.")
    if channel == Channel.EMAIL and not patient.email:
        raise MeasureError("The patient has no email address on file.")
    if channel == Channel.SMS and not patient.phone:
        raise MeasureError("The patient has no mobile number on file.")
    token = tokens.new_token()
    url = settings.SITE_URL.rstrip("/") + reverse("measures:patient", args=[token])
    with transaction.atomic():
        link = MeasureLink.objects.create(
            patient=patient,
            organization=organization,
            created_by=actor,
            token_hash=tokens.token_hash(token),
            instruments=keys,
            language=language,
            channel=channel,
            expires_at=timezone.now() + datetime.timedelta(days=LINK_DAYS),
        )
        audit.record(
            actor=actor,
            action=Action.SEND,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id,
            target_type="questionnaire_link",
            target_id=link.public_id,
            detail={"instruments": keys, "channel": channel},
        )
        text = MESSAGES.get(language, MESSAGES["en"]).format(practice=patient.practice.name, url=url)
        if channel == Channel.EMAIL:
            subject = (
                "Un cuestionario de su equipo de atención"
                if language == "es"
                else "A questionnaire from your care team"
            )
            transaction.on_commit(lambda: send_mail(subject, text, None, [patient.email]))
        elif channel == Channel.SMS:
            transaction.on_commit(lambda: send_sms(patient.phone, text))
    return link, token


def refusal(link: MeasureLink, at: datetime.datetime | None = None) -> str:
    """Why the link no longer opens, in words for the patient; empty if it does."""
    now = at or timezone.now()
    if link.revoked_at is not None:
        return "This link was withdrawn. Your care team can send you a new one."
    if link.completed_at is not None:
        return "These questionnaires are done: thank you. This link cannot be used again."
    if now >= link.expires_at:
        return "This link has expired. Your care team can send you a new one."
    return ""


def responses(link: MeasureLink) -> dict[str, Response]:
    return {r.instrument: r for r in link.responses.all()}


def current(link: MeasureLink) -> str | None:
    """The first instrument not yet complete, in the order the clinician chose."""
    done = {k for k, r in responses(link).items() if r.status == ResponseStatus.COMPLETE}
    return next((k for k in link.instruments if k not in done), None)


def save(
    *, link: MeasureLink, instrument_key: str, answers: Mapping[str, object], language: str, submit: bool
) -> tuple[Response, scoring.Result]:
    """Keep the answers given so far; on submit, score them if complete. The
    instrument must be the link's current one."""
    reason = refusal(link)
    if reason:
        raise MeasureError(reason)
    if instrument_key != current(link):
        raise MeasureError("This questionnaire is already done.")
    instrument = instruments.get(instrument_key)
    try:
        given = scoring.clean(instrument, answers)
        result = scoring.score(instrument, given, context_for(link.patient))
    except ValueError as exc:
        raise MeasureError(str(exc)) from None
    now = timezone.now()
    with transaction.atomic():
        locked = MeasureLink.objects.select_for_update().get(pk=link.pk)
        if refusal(locked):
            raise MeasureError(refusal(locked))
        response = Response.objects.filter(link=locked, instrument=instrument_key).first()
        if response is None:
            response = Response(
                patient=link.patient,
                organization=link.organization,
                instrument=instrument.key,
                instrument_version=instrument.version,
                source=Source.PATIENT_LINK,
                link=locked,
                started_at=now,
            )
        response.answers = given
        response.language = language if language in instrument.languages else "en"
        # Critical answers count as soon as they are sent, complete or not.
        response.critical = [{"item": c.item, "label": c.label} for c in result.critical]
        if submit and result.complete:
            response.status = ResponseStatus.COMPLETE
            response.total = result.total
            response.band = result.band or ""
            response.positive = result.positive
            response.subscales = result.subscales
            response.completed_at = now
        response.save()
        if submit and response.critical:
            alerts.open_for(response)
        if response.status == ResponseStatus.COMPLETE:
            audit.record(
                actor=None,
                action=Action.CREATE,
                purpose=TREATMENT,
                meta=audit.SYSTEM,
                patient_id=link.patient.public_id,
                target_type="assessment",
                target_id=response.public_id,
                detail={"instrument": instrument.key, "source": "patient_link"},
            )
            if current(locked) is None:
                MeasureLink.objects.filter(pk=locked.pk).update(completed_at=now)
    return response, result
