"""Appointments to remind people of, made directly (booking rules are tested elsewhere)."""

from __future__ import annotations

import datetime

from tandem.patients.models import Patient
from tandem.reminders.models import Reminder
from tandem.scheduling.models import Appointment, Kind, Modality, Participant, Status
from tandem.scheduling.services import ensure_types
from tandem.test import Cast

UTC = datetime.UTC


def reachable(cast: Cast) -> Patient:
    patient = cast.patient
    patient.email = "avery@example.test"
    patient.phone = "(503) 555-0142"
    patient.save(update_fields=["email", "phone"])
    return patient


def appointment(
    cast: Cast,
    starts_at: datetime.datetime,
    *,
    kind: str = Kind.PSYCH_EVAL,
    patient: Patient | None = None,
    status: str = Status.BOOKED,
    modality: str = Modality.VIDEO_HOME,
) -> Appointment:
    appointment_type = next(t for t in ensure_types(cast.northstar) if t.kind == kind)
    ends_at = starts_at + datetime.timedelta(minutes=appointment_type.minutes)
    made = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=appointment_type,
        patient=patient or cast.patient,
        starts_at=starts_at,
        ends_at=ends_at,
        modality=modality,
        status=status,
        created_by=cast.therapist,
    )
    Participant.objects.create(appointment=made, user=cast.prescriber, starts_at=starts_at, ends_at=ends_at)
    return made


def rows(target: Appointment | None = None) -> dict[tuple[str, str], tuple[str, str]]:
    """(lead, channel) -> (status, detail)."""
    found = Reminder.objects.all() if target is None else Reminder.objects.filter(appointment=target)
    return {(r.lead, r.channel): (r.status, r.detail) for r in found}
