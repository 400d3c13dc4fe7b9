"""Rooms, the patient's link, joining, the waiting room and the visit's real
duration. Every join and every admission is audited; see
docs/decisions/0006-video.md."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.lib import tokens
from tandem.scheduling.models import Appointment
from tandem.video.models import Attendance, AttendanceState, PatientLink, Presence, QualitySample, Role, Room

TREATMENT = "treatment"
DEVICE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PAGE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DATE_OF_BIRTH_TRIES = 5


class RoomRefused(Exception):
    """Not now, or not this way: the message says why, for the page."""


def room_for(appointment: Appointment) -> Room:
    room, _ = Room.objects.get_or_create(appointment=appointment)
    return room


def issue_patient_link(
    *,
    actor: User | None,
    appointment: Appointment,
    meta: audit.RequestMeta,
    needs_date_of_birth: bool = False,
    replace: bool = True,
) -> tuple[PatientLink, str]:
    """A new link for the patient. It expires when the room closes. A link
    made by a clinician replaces the earlier ones; the links reminders carry
    (``replace=False``, made by Tandem) keep each other working. Returns the
    row and the token, which is shown or sent once and never kept."""
    if appointment.patient is None or appointment.modality not in policy.VIDEO_MODALITIES:
        raise RoomRefused("Only a video visit with a patient has a patient link.")
    token = tokens.new_token()
    _opens, closes = policy.room_window(appointment)
    with transaction.atomic():
        room = room_for(appointment)
        now = timezone.now()
        if replace:
            PatientLink.objects.filter(room=room, revoked_at__isnull=True).update(revoked_at=now)
        earlier = PatientLink.objects.filter(room=room).order_by("-created_at").first()
        link = PatientLink.objects.create(
            room=room,
            token_hash=tokens.token_hash(token),
            expires_at=closes,
            # A reminder's link asks for the date of birth when the clinician's link did.
            needs_date_of_birth=needs_date_of_birth
            or (not replace and earlier is not None and earlier.needs_date_of_birth),
        )
        audit.record(
            actor=actor,
            action=Action.CREATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=appointment.patient.public_id,
            target_type="video_link",
            target_id=link.public_id,
            detail={"date_of_birth_check": link.needs_date_of_birth, "replaces": replace},
        )
    return link, token


def check_patient_link(link: PatientLink, at: datetime.datetime | None = None) -> None:
    """Raise RoomRefused with a clear reason when the link cannot be used now."""
    at = at or timezone.now()
    appointment = link.room.appointment
    if link.revoked_at is not None:
        raise RoomRefused("This link was replaced by a newer one. Use the latest link your clinic sent.")
    if not link.usable_at(at) or policy.room_door(appointment, at) == "closed":
        raise RoomRefused("This link has expired. Ask your clinic for a new one.")
    if link.failed_checks >= DATE_OF_BIRTH_TRIES:
        raise RoomRefused("This link is locked after too many tries. Ask your clinic for a new one.")


def confirm_date_of_birth(link: PatientLink, given: datetime.date | None) -> bool:
    """Whether the date matches; wrong answers count, and five lock the link."""
    patient = link.room.appointment.patient
    if patient is not None and given == patient.date_of_birth:
        return True
    PatientLink.objects.filter(pk=link.pk).update(failed_checks=link.failed_checks + 1)
    link.failed_checks += 1
    return False


def join(
    *,
    room: Room,
    device: str,
    meta: audit.RequestMeta,
    user: User | None = None,
    at: datetime.datetime | None = None,
    page: str = "",
) -> Attendance:
    """Enter the room, or the waiting room. Clinicians who take part go
    straight in; the patient waits to be admitted. The same device joining
    again (a page refresh) finds its place, admitted or waiting. The new
    stretch of presence is ``attendance.presence``."""
    at = at or timezone.now()
    if not DEVICE.match(device):
        raise RoomRefused("This browser's device key is not valid. Reload the page.")
    door = policy.room_door(room.appointment, at)
    if door != "open":
        opens, _closes = policy.room_window(room.appointment)
        raise RoomRefused(
            f"The room opens at {timezone.localtime(opens):%H:%M}."
            if door == "early"
            else "This visit's room is closed."
        )
    role = Role.PATIENT if user is None else Role.CLINICIAN
    with transaction.atomic():
        attendance = Attendance.objects.select_for_update().filter(room=room, device=device).first()
        if attendance is None:
            try:
                with transaction.atomic():
                    attendance = Attendance.objects.create(
                        room=room,
                        device=device,
                        role=role,
                        user=user,
                        state=AttendanceState.ADMITTED if user is not None else AttendanceState.WAITING,
                        admitted_at=at if user is not None else None,
                    )
            except IntegrityError:
                attendance = Attendance.objects.select_for_update().get(room=room, device=device)
        if attendance.role != role or attendance.user_id != (user.pk if user else None):
            raise RoomRefused("This device is already in the room as someone else. Reload the page.")
        if attendance.state == AttendanceState.REMOVED:
            raise RoomRefused("You were removed from this visit.")
        Presence.objects.filter(attendance=attendance, left_at__isnull=True).update(left_at=at)
        attendance.presence = Presence.objects.create(
            attendance=attendance, joined_at=at, page=page if PAGE.match(page) else ""
        )
        appointment = room.appointment
        audit.record(
            actor=user,
            action=Action.VIEW,
            purpose=TREATMENT,
            meta=meta,
            patient_id=appointment.patient.public_id if appointment.patient else None,
            target_type="video_room",
            target_id=room.public_id,
            detail={"role": role, "state": attendance.state},
        )
    return attendance


def leave(attendance: Attendance, at: datetime.datetime | None = None, *, presence: Presence | None = None) -> bool:
    """End the attendance's presence (only ``presence``, when given: a socket
    that closes after its page has reconnected on a new one must not end the
    new one). Whether the participant is still connected elsewhere."""
    stretches = Presence.objects.filter(attendance=attendance, left_at__isnull=True)
    (stretches.filter(pk=presence.pk) if presence is not None else stretches).update(left_at=at or timezone.now())
    return stretches.exists()


def admit(*, actor: User, attendance: Attendance, meta: audit.RequestMeta) -> Attendance:
    """A clinician in the room lets the patient in."""
    with transaction.atomic():
        locked = (
            Attendance.objects.select_for_update(of=("self",))
            .select_related("room__appointment__patient")
            .get(pk=attendance.pk)
        )
        if not Attendance.objects.filter(
            room=locked.room, user=actor, role=Role.CLINICIAN, state=AttendanceState.ADMITTED
        ).exists():
            raise RoomRefused("Only a clinician in the room admits someone.")
        if locked.state != AttendanceState.WAITING:
            return locked
        locked.state = AttendanceState.ADMITTED
        locked.admitted_at = timezone.now()
        locked.admitted_by = actor
        locked.save(update_fields=["state", "admitted_at", "admitted_by"])
        patient = locked.room.appointment.patient
        audit.record(
            actor=actor,
            action=Action.UPDATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id if patient else None,
            target_type="video_room",
            target_id=locked.room.public_id,
            detail={"admitted": str(locked.public_id)},
        )
    return locked


def remove(*, actor: User, attendance: Attendance, meta: audit.RequestMeta) -> Attendance:
    """A clinician in the room sends someone out: they cannot come back on
    this device, and their connection is closed."""
    with transaction.atomic():
        locked = (
            Attendance.objects.select_for_update(of=("self",))
            .select_related("room__appointment__patient")
            .get(pk=attendance.pk)
        )
        if not Attendance.objects.filter(
            room=locked.room, user=actor, role=Role.CLINICIAN, state=AttendanceState.ADMITTED
        ).exists():
            raise RoomRefused("Only a clinician in the room removes someone.")
        if locked.user_id == actor.pk:
            raise RoomRefused("Leave the call instead.")
        locked.state = AttendanceState.REMOVED
        locked.save(update_fields=["state"])
        Presence.objects.filter(attendance=locked, left_at__isnull=True).update(left_at=timezone.now())
        patient = locked.room.appointment.patient
        audit.record(
            actor=actor,
            action=Action.UPDATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id if patient else None,
            target_type="video_room",
            target_id=locked.room.public_id,
            detail={"removed": str(locked.public_id)},
        )
    return locked


def set_room_mode(*, actor: User, room: Room, with_patient: bool, meta: audit.RequestMeta) -> Room:
    """A clinician in the room marks that the patient is with them, sharing
    their device (or no longer is). The room then shows both names on it."""
    with transaction.atomic():
        locked = Room.objects.select_for_update(of=("self",)).select_related("appointment__patient").get(pk=room.pk)
        if not Attendance.objects.filter(
            room=locked, user=actor, role=Role.CLINICIAN, state=AttendanceState.ADMITTED
        ).exists():
            raise RoomRefused("Only a clinician in the room says the patient is with them.")
        if with_patient:
            locked.patient_with = actor
        elif locked.patient_with_id == actor.pk:
            locked.patient_with = None
        locked.save(update_fields=["patient_with"])
        patient = locked.appointment.patient
        audit.record(
            actor=actor,
            action=Action.UPDATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id if patient else None,
            target_type="video_room",
            target_id=locked.public_id,
            detail={"patient_with_clinician": with_patient},
        )
    return locked


# One sample per connection per this many seconds is kept: a technical log, not a stream.
QUALITY_EVERY = datetime.timedelta(seconds=10)


def record_quality(attendance: Attendance, peer: str, fields: dict[str, Any], at: datetime.datetime) -> bool:
    """Keep a connection-quality sample (no media), at most one per peer per
    QUALITY_EVERY. Whether it was kept."""
    recent = QualitySample.objects.filter(attendance=attendance, peer=peer, at__gt=at - QUALITY_EVERY).exists()
    if recent:
        return False
    QualitySample.objects.create(
        attendance=attendance,
        peer=peer,
        at=at,
        rtt_ms=fields.get("rtt_ms"),
        loss=fields.get("loss"),
        width=fields.get("width"),
        height=fields.get("height"),
        fps=fields.get("fps"),
    )
    return True


@dataclass(frozen=True)
class Duration:
    started_at: datetime.datetime | None
    ended_at: datetime.datetime | None
    seconds: int


def visit_duration(room: Room, at: datetime.datetime | None = None) -> Duration:
    """The time at least two participants were connected together: the visit's
    real length, from the join and leave times of everyone in the room."""
    at = at or timezone.now()
    events: list[tuple[datetime.datetime, int]] = []
    for p in Presence.objects.filter(attendance__room=room, attendance__state=AttendanceState.ADMITTED).select_related(
        "attendance"
    ):
        # Time in the waiting room is not time in the visit.
        start = max(p.joined_at, p.attendance.admitted_at or p.joined_at)
        end = p.left_at or at
        if end > start:
            events.append((start, 1))
            events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    together = 0.0
    present = 0
    first: datetime.datetime | None = None
    last: datetime.datetime | None = None
    since: datetime.datetime | None = None
    for when, step in events:
        if present >= 2 and since is not None:
            together += (when - since).total_seconds()
            last = when
        present += step
        since = when
        if present >= 2 and first is None:
            first = when
    return Duration(first, last, round(together))


def waiting_for(user: User) -> list[Attendance]:
    """People in the waiting rooms of this clinician's video visits, now."""
    return list(
        Attendance.objects.filter(
            state=AttendanceState.WAITING,
            presences__left_at__isnull=True,
            room__appointment__participants__user=user,
        )
        .select_related("room__appointment__patient")
        .distinct()
        .order_by("created_at")
    )
