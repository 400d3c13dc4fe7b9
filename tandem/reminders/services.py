"""Patient reminders 48 hours and 2 hours before an appointment, by email and text.

The ``patient_reminders`` sweep (every minute, see tandem.operations.sweeps)
works only from database state, in three steps.

**Plan.** For each booked appointment with a patient, and each lead whose due
time (start minus lead) has come or comes within a minute, create the missing
``Reminder`` rows with ``bulk_create(ignore_conflicts=True)``: the unique
(appointment, lead, channel) constraint makes racing planners create each row
once. A lead is planned only while at least half of it remains (a 48-hour
reminder until 24 hours before the start, a 2-hour one until 1 hour before), so
a visit booked 3 hours ahead gets the 2-hour reminder and not the 48-hour one.
A channel the patient opted out of, or has no address or usable US number for,
is planned as skipped, with the reason in ``detail``.

**Claim.** One row at a time, in its own short transaction, a due pending row
that no worker holds, or whose claim is older than the reclaim window (10
minutes by default: its worker died), is stamped ``claimed_at``/``claimed_by``
and its ``attempts`` counted. On PostgreSQL the row is read ``FOR UPDATE SKIP
LOCKED``, so workers take different rows; on SQLite every transaction is
``BEGIN IMMEDIATE``, so the read-then-stamp runs under the database's write
lock. Inside the claim everything is checked again: an appointment no longer
booked, a new opt-out, a removed address or a reminder now too late is skipped;
a moved appointment takes ``due_at`` with it.

**Send, then mark.** The message goes to the mail backend or the SMS provider
outside any transaction; then the row is marked sent and its audit event
written, in one transaction. A send that raises puts the row back (tried again
at the next sweep) until its third attempt, then marks it failed.

**Exactly once.** Neither SMTP nor Twilio takes part in a database transaction,
so one instant always remains where a crash leaves it unknown whether a message
went out: after the provider accepted it and before "sent" is committed. We
send again in that case (at-least-once) rather than mark sent before sending
(at-most-once): a repeated reminder is a nuisance, a lost one can cost a
patient their visit. So each reminder is sent exactly once, except that a
worker killed (SIGKILL, power loss) inside one provider hand-off sends that one
message again after the reclaim window. A worker asked to stop (SIGTERM)
finishes its sweep first. Emails carry a Message-ID made from the reminder, so
a repeated email has the same one and many mail systems show it once. The
reclaim window must outlast the slowest send: Twilio calls time out after 10
seconds, and mail connections get a 60-second timeout unless EMAIL_TIMEOUT
says otherwise.

**Moved appointments.** Planning compares each row's ``due_at`` with the
appointment's start: a pending row follows the new time; a finished one (sent,
skipped, failed) is deleted and planned again, so the new time gets its own
reminders. ``reset_for(appointment)`` does the same at once, for the scheduling
service to call when it moves an appointment.

Reminders name the patient's own practice (never the partner group, whose name
may reveal psychiatric care) and nothing clinical: see ``tandem.reminders.text``.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.messaging.sms import SmsError, normalize_us_number, send_sms
from tandem.patients.models import Patient
from tandem.reminders.models import Channel, Lead, Reminder, ReminderPreference, Status
from tandem.reminders.text import compose
from tandem.scheduling.models import Appointment
from tandem.scheduling.models import Status as AppointmentStatus

logger = logging.getLogger("tandem.worker")

TREATMENT = "treatment"
LEADS: dict[str, datetime.timedelta] = {
    Lead.H48: datetime.timedelta(hours=48),
    Lead.H2: datetime.timedelta(hours=2),
}
# Plan and send a reminder up to this long before it is due: with a sweep a
# minute, it then goes out in the minute before its time rather than after.
AHEAD = datetime.timedelta(minutes=1)
MAX_ATTEMPTS = 3
DEFAULT_RECLAIM_SECONDS = 600
MAIL_TIMEOUT_SECONDS = 60
_PROCESS_TOKEN = uuid.uuid4().hex[:6]


def reclaim_window() -> datetime.timedelta:
    """How old a claim must be before another worker may take the row over."""
    return datetime.timedelta(seconds=int(getattr(settings, "REMINDER_RECLAIM_SECONDS", DEFAULT_RECLAIM_SECONDS)))


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{_PROCESS_TOKEN}"[:100]


def in_window(lead: str, starts_at: datetime.datetime, now: datetime.datetime) -> bool:
    """Whether a reminder of this lead is due by now (give or take a minute) and still worth sending."""
    before = LEADS[lead]
    return starts_at - before <= now + AHEAD and starts_at - now >= before / 2


def skip_reason(patient: Patient, preference: ReminderPreference | None, channel: str) -> str:
    """Why this channel cannot be used for this patient ("" if it can)."""
    if channel == Channel.EMAIL:
        if preference is not None and preference.email_opt_out:
            return "opted_out"
        return "" if patient.email.strip() else "no_email"
    if preference is not None and preference.sms_opt_out:
        return "opted_out"
    if not patient.phone.strip():
        return "no_phone"
    try:
        normalize_us_number(patient.phone)
    except SmsError:
        return "bad_phone"
    return ""


def _held(now: datetime.datetime) -> Q:
    """A pending row a live worker is sending right now."""
    return Q(status=Status.PENDING, claimed_at__gt=now - reclaim_window())


def plan(now: datetime.datetime) -> int:
    """Create the reminder rows that have come due. Returns how many rows were made."""
    horizon = now + max(LEADS.values()) + AHEAD
    appointments = list(
        Appointment.objects.filter(
            patient__isnull=False,
            # A provider consult is about the patient, who does not attend: no reminder.
            appointment_type__with_patient=True,
            status=AppointmentStatus.BOOKED,
            starts_at__gt=now,
            starts_at__lte=horizon,
        ).select_related("patient")
    )
    wanted = [(a, lead) for a in appointments for lead in LEADS if in_window(lead, a.starts_at, now)]
    if not wanted:
        return 0
    ids = {a.pk for a, _ in wanted}
    existing = {(r.appointment_id, r.lead, r.channel): r for r in Reminder.objects.filter(appointment_id__in=ids)}
    preferences = {
        p.patient_id: p for p in ReminderPreference.objects.filter(patient_id__in={a.patient_id for a, _ in wanted})
    }
    moved_pending: dict[int, datetime.datetime] = {}
    outdated: list[int] = []
    new: list[Reminder] = []
    for appointment, lead in wanted:
        patient = appointment.patient
        assert patient is not None  # the filter above
        due = appointment.starts_at - LEADS[lead]
        for channel in Channel.values:
            row = existing.get((appointment.pk, lead, channel))
            if row is not None and row.due_at == due:
                continue
            if row is not None and row.status == Status.PENDING:
                moved_pending[row.pk] = due
                continue
            if row is not None:
                outdated.append(row.pk)  # finished for an earlier start: the appointment moved
            reason = skip_reason(patient, preferences.get(patient.pk), channel)
            new.append(
                Reminder(
                    appointment=appointment,
                    lead=lead,
                    channel=channel,
                    due_at=due,
                    status=Status.SKIPPED if reason else Status.PENDING,
                    detail=reason,
                )
            )
    with transaction.atomic():
        for pk, due in moved_pending.items():
            Reminder.objects.filter(pk=pk, status=Status.PENDING, claimed_at__isnull=True).update(due_at=due)
        if outdated:
            Reminder.objects.filter(pk__in=outdated).exclude(status=Status.PENDING).delete()
        Reminder.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def reset_for(appointment: Appointment) -> int:
    """Forget an appointment's reminders so planning makes them afresh for its
    new time. For the scheduling service to call when it moves an appointment,
    inside the same transaction. A reminder being sent this moment is left to
    finish; planning replaces it afterwards. Returns how many rows went."""
    deleted, _ = Reminder.objects.filter(appointment=appointment).exclude(_held(timezone.now())).delete()
    return deleted


@dataclass(frozen=True)
class Claim:
    reminder: Reminder
    appointment: Appointment
    send: bool


def _finish(row: Reminder, status: str, detail: str) -> None:
    row.status = status
    row.detail = detail
    row.claimed_at = None
    row.claimed_by = ""
    row.save(update_fields=["status", "detail", "claimed_at", "claimed_by"])


def claim_next(now: datetime.datetime, worker: str, tried: set[int]) -> Claim | None:
    """Take the next due reminder for this worker, or settle it if it must not be sent.
    None when nothing is left that this sweep has not tried."""
    clock = timezone.now()
    with transaction.atomic():
        row = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, due_at__lte=now + AHEAD)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=clock - reclaim_window()))
            .exclude(pk__in=tried)
            .order_by("due_at", "pk")
            .first()
        )
        if row is None:
            return None
        tried.add(row.pk)
        appointment = Appointment.objects.select_related("patient__practice").get(pk=row.appointment_id)
        patient = appointment.patient
        if appointment.status != AppointmentStatus.BOOKED:
            _finish(row, Status.SKIPPED, appointment.status)
            return Claim(row, appointment, send=False)
        if patient is None:
            _finish(row, Status.SKIPPED, "no_patient")
            return Claim(row, appointment, send=False)
        due = appointment.starts_at - LEADS[row.lead]
        if row.due_at != due:  # the appointment moved: the reminder follows
            row.due_at = due
            if due > now + AHEAD:
                row.claimed_at, row.claimed_by = None, ""
                row.save(update_fields=["due_at", "claimed_at", "claimed_by"])
                return Claim(row, appointment, send=False)
            row.save(update_fields=["due_at"])
        reason = "" if in_window(row.lead, appointment.starts_at, now) else "late"
        reason = reason or skip_reason(patient, ReminderPreference.objects.filter(patient=patient).first(), row.channel)
        if reason:
            _finish(row, Status.SKIPPED, reason)
            return Claim(row, appointment, send=False)
        if row.claimed_at is not None and row.attempts >= MAX_ATTEMPTS:
            # Its worker died during the last allowed attempt: stop rather than loop on a crash.
            _finish(row, Status.FAILED, "interrupted")
            return Claim(row, appointment, send=False)
        row.claimed_at = clock
        row.claimed_by = worker
        row.attempts += 1
        row.save(update_fields=["claimed_at", "claimed_by", "attempts"])
    return Claim(row, appointment, send=True)


def _video_link(appointment: Appointment) -> str:
    """For a video visit, a fresh link to its room (earlier ones keep working)."""
    from django.urls import reverse

    from tandem.access.policy import VIDEO_MODALITIES
    from tandem.video.services import issue_patient_link

    if appointment.modality not in VIDEO_MODALITIES:
        return ""
    _link, token = issue_patient_link(actor=None, appointment=appointment, meta=audit.SYSTEM, replace=False)
    return settings.SITE_URL.rstrip("/") + reverse("video:patient", args=[token])


def deliver(reminder: Reminder, appointment: Appointment) -> None:
    """Hand one reminder to the mail backend or the SMS provider. Raises if it could not."""
    patient = appointment.patient
    assert patient is not None
    words = compose(
        practice=patient.practice.name,
        starts_at=appointment.starts_at,
        zone=patient.timezone,
        modality=appointment.modality,
        language=patient.preferred_language,
        link=_video_link(appointment),
    )
    if reminder.channel == Channel.SMS:
        send_sms(patient.phone, words.sms)
        return
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or MAIL_TIMEOUT_SECONDS
    message = EmailMessage(
        words.subject,
        words.email,
        None,
        [patient.email],
        connection=get_connection(timeout=timeout),
        headers={"Message-ID": f"<reminder-{reminder.public_id}@tandem.invalid>"},
    )
    message.send()


def _mark_sent(reminder: Reminder, appointment: Appointment) -> None:
    patient = appointment.patient
    assert patient is not None
    with transaction.atomic():
        Reminder.objects.filter(pk=reminder.pk, status=Status.PENDING).update(
            status=Status.SENT, sent_at=timezone.now(), detail=""
        )
        # The message went out, whoever else touched the row meanwhile: the trail records it.
        audit.record(
            actor=None,
            action=Action.SEND,
            purpose=TREATMENT,
            meta=audit.SYSTEM,
            patient_id=patient.public_id,
            target_type="reminder",
            target_id=reminder.public_id,
            detail={"lead": reminder.lead, "channel": reminder.channel, "appointment": str(appointment.public_id)},
        )


def _mark_failed(reminder: Reminder, worker: str, exc: Exception) -> None:
    status = Status.FAILED if reminder.attempts >= MAX_ATTEMPTS else Status.PENDING
    # The class name only: provider messages may repeat the phone number.
    Reminder.objects.filter(pk=reminder.pk, status=Status.PENDING, claimed_by=worker).update(
        status=status, claimed_at=None, claimed_by="", detail=type(exc).__name__[:64]
    )
    logger.warning(
        "reminder not sent",
        extra={"reminder": str(reminder.public_id), "error": type(exc).__name__, "attempts": reminder.attempts},
    )


def send_due_reminders(now: datetime.datetime) -> int:
    """The sweep: plan, then claim and send every due reminder. Returns how many were sent."""
    plan(now)
    worker = worker_id()
    tried: set[int] = set()
    sent = 0
    while (claim := claim_next(now, worker, tried)) is not None:
        if not claim.send:
            continue
        try:
            deliver(claim.reminder, claim.appointment)
        except Exception as exc:  # one failed message must not stop the others
            _mark_failed(claim.reminder, worker, exc)
            continue
        _mark_sent(claim.reminder, claim.appointment)
        sent += 1
    return sent


def set_preference(
    *, patient: Patient, email_opt_out: bool, sms_opt_out: bool, actor: User | None, meta: audit.RequestMeta
) -> ReminderPreference:
    """Record a patient's reminder choices (from a form, or a STOP reply), audited."""
    with transaction.atomic():
        preference, _ = ReminderPreference.objects.update_or_create(
            patient=patient, defaults={"email_opt_out": email_opt_out, "sms_opt_out": sms_opt_out}
        )
        audit.record(
            actor=actor,
            action=Action.UPDATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id,
            target_type="reminder_preference",
            target_id=patient.public_id,
            detail={"email_opt_out": email_opt_out, "sms_opt_out": sms_opt_out},
        )
    return preference
