"""The words of a reminder. Pure functions, no database.

A reminder may be read by anyone who sees the patient's phone or inbox, so it
carries no clinical detail: the name of the patient's own practice, the local
date and time in the patient's time zone, and "video visit" or "visit". Never
the appointment type ("Psychiatric evaluation" reveals care), the partner
group's name, a clinician's name or discipline, or the patient's name.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from tandem.scheduling.models import Modality

VIDEO = {Modality.VIDEO_HOME, Modality.VIDEO_OFFICE}

_WEEKDAYS_ES = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
_MONTHS_ES = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


@dataclass(frozen=True)
class Wording:
    subject: str
    email: str
    sms: str


def _clock(local: datetime.datetime, am: str, pm: str) -> str:
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {am if local.hour < 12 else pm}"


def local_when(starts_at: datetime.datetime, zone: str, language: str = "en") -> str:
    """Local date and time, like "Monday, March 9 at 10:00 AM PDT", in an IANA zone (the abbreviation follows DST)."""
    local = starts_at.astimezone(zoneinfo.ZoneInfo(zone))
    abbreviation = local.tzname() or zone
    if language == "es":
        day = f"{_WEEKDAYS_ES[local.weekday()]} {local.day} de {_MONTHS_ES[local.month - 1]}"
        return f"{day} a las {_clock(local, 'a. m.', 'p. m.')} {abbreviation}"
    return f"{local:%A}, {local:%B} {local.day} at {_clock(local, 'AM', 'PM')} {abbreviation}"


def compose(
    *, practice: str, starts_at: datetime.datetime, zone: str, modality: str, language: str, link: str = ""
) -> Wording:
    """The subject, email body and text message for one reminder. A video
    visit's reminder carries the patient's link to the room."""
    if language == "es":
        visit = "videoconsulta" if modality in VIDEO else "cita"
        when = local_when(starts_at, zone, "es")
        join = f"Entre a la videoconsulta con este enlace (se abre unos minutos antes): {link}\n\n" if link else ""
        return Wording(
            subject=f"Recordatorio de su cita con {practice}",
            email=(
                "Hola:\n\n"
                f"Le recordamos su {visit} con {practice} el {when}.\n\n"
                f"{join}"
                f"Si necesita cambiarla o cancelarla, comuníquese con {practice}.\n\n"
                f"Para dejar de recibir estos recordatorios por correo electrónico, comuníquese con {practice}.\n"
            ),
            sms=f"{practice}: le recordamos su {visit} el {when}."
            + (f" Enlace: {link}" if link else "")
            + " Responda STOP para no recibir más recordatorios.",
        )
    visit = "video visit" if modality in VIDEO else "visit"
    when = local_when(starts_at, zone)
    join = f"Join your video visit from this link (it opens a few minutes before): {link}\n\n" if link else ""
    return Wording(
        subject=f"Reminder of your appointment with {practice}",
        email=(
            "Hello,\n\n"
            f"This is a reminder of your {visit} with {practice} on {when}.\n\n"
            f"{join}"
            f"If you need to change or cancel it, please contact {practice}.\n\n"
            f"To stop these email reminders, contact {practice}.\n"
        ),
        sms=f"{practice}: reminder of your {visit} on {when}."
        + (f" Join: {link}" if link else "")
        + " Reply STOP to opt out.",
    )
