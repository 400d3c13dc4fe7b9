"""What a video visit left behind, for the appointment page: who joined and
left when, the visit's real duration, and each participant's connection
quality in summary. Technical facts only; there is no media to show."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Avg, Count, Max

from tandem.scheduling.models import Appointment
from tandem.video.models import Attendance, AttendanceState, Presence, QualitySample, Role, Room
from tandem.video.services import Duration, visit_duration


@dataclass(frozen=True)
class Quality:
    samples: int
    rtt_ms: float | None
    loss_percent: float | None
    worst_loss_percent: float | None
    width: int | None
    height: int | None
    fps: float | None


@dataclass(frozen=True)
class Attendee:
    name: str
    role: str
    state: str
    stretches: list[tuple[datetime.datetime, datetime.datetime | None]]
    quality: Quality | None


@dataclass(frozen=True)
class VisitRecord:
    duration: Duration
    attendees: list[Attendee]

    @property
    def length(self) -> str:
        """The real duration for people: "47 min", or "1 h 05 min"."""
        minutes = round(self.duration.seconds / 60)
        return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def visit_record(appointment: Appointment) -> VisitRecord | None:
    """The record of the appointment's video room, or None if nobody ever opened it."""
    room = Room.objects.filter(appointment=appointment).first()
    if room is None:
        return None
    attendances = list(Attendance.objects.filter(room=room).select_related("user").order_by("created_at", "pk"))
    stretches: dict[int, list[tuple[datetime.datetime, datetime.datetime | None]]] = {}
    for p in Presence.objects.filter(attendance__room=room).order_by("joined_at", "pk"):
        stretches.setdefault(p.attendance_id, []).append((p.joined_at, p.left_at))
    quality = {
        row["attendance"]: row
        for row in QualitySample.objects.filter(attendance__room=room)
        .values("attendance")
        .annotate(
            n=Count("pk"),
            avg_rtt=Avg("rtt_ms"),
            avg_loss=Avg("loss"),
            worst_loss=Max("loss"),
            max_width=Max("width"),
            max_height=Max("height"),
            avg_fps=Avg("fps"),
        )
    }
    patient = appointment.patient
    attendees = []
    for a in attendances:
        if a.role == Role.PATIENT:
            name = f"{patient.display_name} (patient's link)" if patient else "Patient's link"
        else:
            name = a.user.display_name if a.user else "Clinician"
        q = quality.get(a.pk)
        attendees.append(
            Attendee(
                name=name,
                role=a.get_role_display(),
                state=AttendanceState(a.state).label,
                stretches=stretches.get(a.pk, []),
                quality=None
                if q is None
                else Quality(
                    samples=q["n"],
                    rtt_ms=q["avg_rtt"],
                    loss_percent=None if q["avg_loss"] is None else 100 * q["avg_loss"],
                    worst_loss_percent=None if q["worst_loss"] is None else 100 * q["worst_loss"],
                    width=q["max_width"],
                    height=q["max_height"],
                    fps=q["avg_fps"],
                ),
            )
        )
    return VisitRecord(duration=visit_duration(room), attendees=attendees)
