"""The demo's video visits: what past visits left behind, and one about to start.

* The last few completed medication visits by video each have a room with the
  prescriber and the patient's link in it: join and leave times (one patient
  dropped off for a minute and came back), so the appointment page shows the
  real duration, and a connection-quality log with believable figures.
* One medication visit by video starts ten minutes after the demo is built,
  so its room is open: sign in as the prescriber, and "Today" leads into it.
  ``tandem demo`` prints a patient link for it, to join from another browser.

Nothing here is media: a room holds only who came and went, and numbers.
"""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.services import SYSTEM
from tandem.organizations.models import Organization
from tandem.patients.models import CareTeamMember
from tandem.scheduling.models import Appointment, Kind, Modality, Participant, Status
from tandem.scheduling.services import ensure_types
from tandem.video.models import Attendance, AttendanceState, Presence, QualitySample, Role, Room
from tandem.video.services import issue_patient_link

PAST_VISITS = 6
SAMPLE_EVERY = datetime.timedelta(minutes=1)
PRESCRIBER = "prescriber@northstar.demo"


def _device(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(32))


def _past_visit(appointment: Appointment, prescriber: User, rng: random.Random, drop: bool) -> None:
    room = Room.objects.create(appointment=appointment, created_at=appointment.starts_at)
    start = appointment.starts_at
    clinician = Attendance.objects.create(
        room=room,
        role=Role.CLINICIAN,
        user=prescriber,
        device=_device(rng),
        state=AttendanceState.ADMITTED,
        admitted_at=start - datetime.timedelta(minutes=3),
        created_at=start - datetime.timedelta(minutes=3),
    )
    arrived = start - datetime.timedelta(minutes=rng.randint(1, 6))
    patient = Attendance.objects.create(
        room=room,
        role=Role.PATIENT,
        device=_device(rng),
        state=AttendanceState.ADMITTED,
        admitted_at=start + datetime.timedelta(seconds=rng.randint(20, 90)),
        admitted_by=prescriber,
        created_at=arrived,
    )
    end = appointment.ends_at - datetime.timedelta(minutes=rng.randint(1, 5))
    Presence.objects.create(attendance=clinician, joined_at=clinician.created_at, left_at=end)
    if drop:  # the patient's Wi-Fi dropped mid-visit and the page came back
        gone = start + datetime.timedelta(minutes=11, seconds=20)
        Presence.objects.create(attendance=patient, joined_at=arrived, left_at=gone)
        Presence.objects.create(attendance=patient, joined_at=gone + datetime.timedelta(seconds=70), left_at=end)
    else:
        Presence.objects.create(attendance=patient, joined_at=arrived, left_at=end)
    samples = []
    # The patient at home on Wi-Fi: more variable than the prescriber's office line.
    for who, peer, rtt, loss in ((clinician, patient, 38.0, 0.002), (patient, clinician, 71.0, 0.011)):
        at = start + datetime.timedelta(minutes=1)
        while at < end:
            samples.append(
                QualitySample(
                    attendance=who,
                    peer=str(peer.public_id),
                    at=at,
                    rtt_ms=round(rng.gauss(rtt, rtt / 6), 1),
                    loss=round(max(0.0, rng.gauss(loss, loss / 2)), 4),
                    width=640,
                    height=480,
                    fps=round(rng.uniform(23.5, 30.0), 1),
                )
            )
            at += SAMPLE_EVERY
    QualitySample.objects.bulk_create(samples)


def _free(user: User, start: datetime.datetime, end: datetime.datetime) -> bool:
    pad = datetime.timedelta(minutes=10)
    return not Participant.objects.filter(
        user=user, holds=True, starts_at__lt=end + pad, ends_at__gt=start - pad
    ).exists()


def seed_video(orgs: dict[str, Organization], users: dict[str, User]) -> None:
    rng = random.Random(7)
    prescriber = users[PRESCRIBER]
    past = (
        Appointment.objects.filter(
            participants__user=prescriber,
            modality__in=[Modality.VIDEO_HOME, Modality.VIDEO_OFFICE],
            status=Status.COMPLETED,
        )
        .exclude(patient=None)
        .order_by("-starts_at")[:PAST_VISITS]
    )
    for i, appointment in enumerate(past):
        _past_visit(appointment, prescriber, rng, drop=i == 1)

    # The visit about to start, with one of the prescriber's own patients.
    patient = (
        CareTeamMember.objects.filter(user=prescriber, ends_on=None)
        .select_related("patient")
        .order_by("starts_on", "pk")
        .first()
    )
    if patient is None:
        return
    med = next(t for t in ensure_types(orgs["northstar"]) if t.kind == Kind.MED_MANAGEMENT)
    now = timezone.now().replace(second=0, microsecond=0)
    start = now + datetime.timedelta(minutes=10 - now.minute % 5)
    for _ in range(24):
        end = start + datetime.timedelta(minutes=med.minutes)
        if _free(prescriber, start, end):
            break
        start += datetime.timedelta(minutes=15)
    else:
        return
    visit = Appointment.objects.create(
        organization=orgs["northstar"],
        appointment_type=med,
        patient=patient.patient,
        starts_at=start,
        ends_at=end,
        modality=Modality.VIDEO_HOME,
        expected_state=patient.patient.state,
        created_by=prescriber,
    )
    Participant.objects.create(appointment=visit, user=prescriber, starts_at=start, ends_at=end)


def patient_link_now() -> tuple[Appointment, str] | None:
    """A fresh patient link to the demo's video visit whose room is open now."""
    from tandem.access import policy

    now = timezone.now()
    for visit in Appointment.objects.filter(
        participants__user__email=PRESCRIBER,
        modality=Modality.VIDEO_HOME,
        status=Status.BOOKED,
        starts_at__gte=now - datetime.timedelta(hours=2),
        starts_at__lte=now + datetime.timedelta(hours=2),
    ).order_by("starts_at"):
        if policy.room_door(visit, now) == "open":
            _link, token = issue_patient_link(actor=User.objects.get(email=PRESCRIBER), appointment=visit, meta=SYSTEM)
            return visit, token
    return None
