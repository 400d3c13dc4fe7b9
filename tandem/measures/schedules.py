"""Questionnaires sent on a schedule, by the worker.

A schedule sends its questionnaires as a patient link every so many days,
and/or once before each booked medication-management visit (when the visit
is within ``BEFORE_VISIT``). It goes by email, else by text message, as the
patient's reminder choices allow; a patient who can be reached by neither is
skipped until the next time. Each send is
claimed before it is made (a conditional update, or a unique row per visit),
so two workers never send it twice.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.measures import instruments, links
from tandem.measures.models import Channel, MeasureLink, MeasureSchedule, ScheduledSend
from tandem.measures.services import MeasureError
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.scheduling.models import Appointment, Kind, Status

BEFORE_VISIT = datetime.timedelta(days=3)
EVERY_CHOICES = (7, 14, 28)


def create(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    instrument_keys: Sequence[str],
    every_days: int | None,
    before_medication_visits: bool,
    meta: audit.RequestMeta,
) -> MeasureSchedule:
    keys = list(dict.fromkeys(instrument_keys))
    usable = {i.key for i in instruments.available_to(organization)}
    if not keys or any(k not in usable for k in keys):
        raise MeasureError("Choose questionnaires used here.")
    if every_days is None and not before_medication_visits:
        raise MeasureError("Choose how often, or before medication visits, or both.")
    if every_days is not None and every_days not in EVERY_CHOICES:
        raise MeasureError("Choose every 1, 2 or 4 weeks.")
    with transaction.atomic():
        schedule = MeasureSchedule.objects.create(
            patient=patient,
            organization=organization,
            created_by=actor,
            instruments=keys,
            every_days=every_days,
            before_medication_visits=before_medication_visits,
        )
        audit.record(
            actor=actor,
            action=Action.CREATE,
            purpose="treatment",
            meta=meta,
            patient_id=patient.public_id,
            target_type="questionnaire_schedule",
            target_id=schedule.public_id,
            detail={"instruments": keys, "every_days": every_days, "before_visits": before_medication_visits},
        )
    return schedule


def stop(*, actor: User, schedule: MeasureSchedule, meta: audit.RequestMeta) -> None:
    with transaction.atomic():
        if MeasureSchedule.objects.filter(pk=schedule.pk, stopped_at__isnull=True).update(stopped_at=timezone.now()):
            audit.record(
                actor=actor,
                action=Action.UPDATE,
                purpose="treatment",
                meta=meta,
                patient_id=schedule.patient.public_id,
                target_type="questionnaire_schedule",
                target_id=schedule.public_id,
                detail={"stopped": True},
            )


def channel_for(patient: Patient) -> str | None:
    from tandem.reminders.models import ReminderPreference

    pref = ReminderPreference.objects.filter(patient=patient).first()
    if patient.email and not (pref and pref.email_opt_out):
        return Channel.EMAIL
    if patient.phone and not (pref and pref.sms_opt_out):
        return Channel.SMS
    return None


def _send(schedule: MeasureSchedule) -> MeasureLink | None:
    channel = channel_for(schedule.patient)
    if channel is None:
        return None
    language = "es" if schedule.patient.preferred_language == "es" else "en"
    if any(language not in instruments.get(k).languages for k in schedule.instruments):
        language = "en"
    link, _token = links.send(
        actor=schedule.created_by,
        patient=schedule.patient,
        organization=schedule.organization,
        instrument_keys=schedule.instruments,
        language=language,
        channel=channel,
        meta=audit.SYSTEM,
    )
    return link


def sweep(now: datetime.datetime) -> int:
    sent = 0
    active = MeasureSchedule.objects.filter(stopped_at__isnull=True).select_related(
        "patient__practice", "organization", "created_by"
    )
    for schedule in active:
        if schedule.every_days:
            due = now - datetime.timedelta(days=schedule.every_days)
            # Claim the send: only one worker moves last_sent_at past the due time.
            claimed = (
                MeasureSchedule.objects.filter(pk=schedule.pk)
                .filter(Q(last_sent_at__isnull=True) | Q(last_sent_at__lte=due))
                .update(last_sent_at=now)
            )
            if claimed and _send(schedule) is not None:
                sent += 1
        if schedule.before_medication_visits:
            visits = Appointment.objects.filter(
                patient=schedule.patient,
                appointment_type__kind=Kind.MED_MANAGEMENT,
                status=Status.BOOKED,
                starts_at__gt=now,
                starts_at__lte=now + BEFORE_VISIT,
            ).exclude(pk__in=ScheduledSend.objects.filter(schedule=schedule).values("appointment_id"))
            for visit in visits:
                try:
                    with transaction.atomic():
                        link = _send(schedule)
                        if link is None:
                            continue
                        ScheduledSend.objects.create(schedule=schedule, appointment=visit, link=link)
                        sent += 1
                except IntegrityError:
                    continue  # another worker sent this one
    return sent
