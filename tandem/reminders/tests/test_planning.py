"""Which reminders are planned, when they go out, and what happens to them
when a patient opts out, an appointment is cancelled or moved, a send fails
or a worker dies holding one."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import time_machine
from django.core import mail

from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import SYSTEM, verify_chain
from tandem.messaging import sms
from tandem.operations.sweeps import run_due_sweeps
from tandem.reminders import services
from tandem.reminders.models import Reminder, ReminderPreference, Status
from tandem.reminders.tests.helpers import appointment, reachable, rows
from tandem.scheduling.models import Status as AppointmentStatus
from tandem.test import Cast

UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)
BOTH = {"email", "sms"}


@pytest.fixture(autouse=True)
def _empty_sms_outbox() -> Iterator[None]:
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def sweep(at: datetime.datetime) -> int:
    with time_machine.travel(at, tick=False):
        return services.send_due_reminders(at)


@pytest.mark.parametrize(
    ("ahead", "leads"),
    [
        (49 * H, set()),
        (48 * H + 2 * M, set()),
        (48 * H + 30 * datetime.timedelta(seconds=1), {"48h"}),  # due within the minute
        (48 * H, {"48h"}),
        (30 * H, {"48h"}),  # booked late, but more than half of 48 hours remains
        (24 * H, {"48h"}),
        (23 * H, set()),  # too late for the 48-hour one, too early for the 2-hour one
        (3 * H, set()),
        (2 * H, {"2h"}),
        (90 * M, {"2h"}),
        (59 * M, set()),
        (-H, set()),
    ],
)
@pytest.mark.django_db
def test_each_lead_is_planned_from_its_due_time_while_half_of_it_remains(
    cast: Cast, ahead: datetime.timedelta, leads: set[str]
) -> None:
    reachable(cast)
    appointment(cast, NOW + ahead)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
    planned = rows()
    assert {lead for lead, _ in planned} == leads
    assert all(status == Status.PENDING for status, _ in planned.values())
    for reminder in Reminder.objects.all():
        assert reminder.due_at == NOW + ahead - services.LEADS[reminder.lead]


@pytest.mark.django_db
def test_an_appointment_booked_long_ahead_gets_both_reminders_each_on_time(cast: Cast) -> None:
    reachable(cast)
    start = NOW + 72 * H
    appointment(cast, start)
    assert sweep(NOW) == 0
    assert sweep(start - 48 * H - 2 * M) == 0
    assert sweep(start - 48 * H - M) == 2  # the minute before it is due
    assert sweep(start - 47 * H) == 0
    assert sweep(start - 2 * H) == 2
    assert sweep(start - H) == 0
    assert [m.to for m in mail.outbox] == [["avery@example.test"]] * 2
    assert [s.to for s in sms.outbox] == ["+15035550142"] * 2
    assert {(r.lead, r.channel, r.status, r.attempts) for r in Reminder.objects.all()} == {
        ("48h", "email", "sent", 1),
        ("48h", "sms", "sent", 1),
        ("2h", "email", "sent", 1),
        ("2h", "sms", "sent", 1),
    }


@pytest.mark.django_db
def test_a_visit_booked_three_hours_ahead_gets_only_the_two_hour_reminder(cast: Cast) -> None:
    reachable(cast)
    start = NOW + 3 * H
    appointment(cast, start)
    assert sweep(NOW) == 0
    assert sweep(start - 2 * H) == 2
    assert {lead for lead, _ in rows()} == {"2h"}


@pytest.mark.django_db
def test_each_send_is_audited_without_an_actor_or_health_information(cast: Cast) -> None:
    patient = reachable(cast)
    target = appointment(cast, NOW + 2 * H)
    assert sweep(NOW) == 2
    events = list(AuditEvent.objects.filter(action=Action.SEND, target_type="reminder"))
    assert len(events) == 2
    ids = {str(r.public_id) for r in Reminder.objects.all()}
    for event in events:
        assert event.actor_id is None
        assert event.purpose == "treatment"
        assert event.patient_id == patient.public_id
        assert event.ip_address == SYSTEM.ip_address
        assert event.target_id in ids
        assert event.detail["appointment"] == str(target.public_id)
        assert set(event.detail) == {"lead", "channel", "appointment"}
    assert verify_chain().ok


@pytest.mark.django_db
def test_sweeping_again_sends_nothing_new(cast: Cast) -> None:
    reachable(cast)
    appointment(cast, NOW + 2 * H)
    assert sweep(NOW) == 2
    assert sweep(NOW) == 0
    assert sweep(NOW + 5 * M) == 0
    assert len(mail.outbox) == 1
    assert len(sms.outbox) == 1


@pytest.mark.django_db
def test_an_opted_out_channel_is_skipped_and_the_other_still_sent(cast: Cast) -> None:
    patient = reachable(cast)
    ReminderPreference.objects.create(patient=patient, sms_opt_out=True)
    appointment(cast, NOW + 2 * H)
    assert sweep(NOW) == 1
    assert rows() == {("2h", "email"): ("sent", ""), ("2h", "sms"): ("skipped", "opted_out")}
    assert sms.outbox == []


@pytest.mark.django_db
def test_opting_out_after_planning_still_stops_the_reminder(cast: Cast) -> None:
    patient = reachable(cast)
    appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
        services.set_preference(patient=patient, email_opt_out=True, sms_opt_out=True, actor=None, meta=SYSTEM)
    assert sweep(NOW) == 0
    assert rows() == {("2h", "email"): ("skipped", "opted_out"), ("2h", "sms"): ("skipped", "opted_out")}
    assert AuditEvent.objects.filter(target_type="reminder_preference", action=Action.UPDATE).count() == 1


@pytest.mark.parametrize(
    ("email", "phone", "expected"),
    [
        ("", "(503) 555-0142", {("2h", "email"): ("skipped", "no_email"), ("2h", "sms"): ("sent", "")}),
        ("avery@example.test", "", {("2h", "email"): ("sent", ""), ("2h", "sms"): ("skipped", "no_phone")}),
        (
            "avery@example.test",
            "+44 20 7946 0958",
            {("2h", "email"): ("sent", ""), ("2h", "sms"): ("skipped", "bad_phone")},
        ),
    ],
)
@pytest.mark.django_db
def test_a_missing_address_or_number_skips_that_channel(
    cast: Cast, email: str, phone: str, expected: dict[tuple[str, str], tuple[str, str]]
) -> None:
    patient = cast.patient
    patient.email, patient.phone = email, phone
    patient.save()
    appointment(cast, NOW + 2 * H)
    sweep(NOW)
    assert rows() == expected


@pytest.mark.django_db
def test_no_reminders_for_cancelled_or_patientless_appointments(cast: Cast) -> None:
    reachable(cast)
    appointment(cast, NOW + 2 * H, status=AppointmentStatus.CANCELLED)
    consult = appointment(cast, NOW + 3 * H, kind="consult")
    consult.patient = None
    consult.save()
    assert sweep(NOW) == 0
    assert sweep(NOW + H) == 0
    assert Reminder.objects.count() == 0


@pytest.mark.parametrize("status", [AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW])
@pytest.mark.django_db
def test_an_appointment_cancelled_after_planning_is_skipped_at_send_time(cast: Cast, status: str) -> None:
    reachable(cast)
    target = appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
    target.status = status
    target.save()
    assert sweep(NOW) == 0
    assert set(rows().values()) == {("skipped", status)}
    assert mail.outbox == []
    assert sms.outbox == []


@pytest.mark.django_db
def test_a_moved_appointment_is_reminded_again_for_its_new_time(cast: Cast) -> None:
    reachable(cast)
    target = appointment(cast, NOW + 2 * H)
    assert sweep(NOW) == 2
    # Moved five hours later: the reminders sent for the old time do not stand for the new one.
    target.starts_at += 5 * H
    target.ends_at += 5 * H
    target.save()
    assert sweep(NOW + M) == 0
    assert sweep(target.starts_at - 2 * H) == 2
    assert len(mail.outbox) == 2
    assert "at 12:00 PM PDT" in mail.outbox[0].body  # 19:00 UTC
    assert "at 5:00 PM PDT" in mail.outbox[1].body  # midnight UTC
    assert Reminder.objects.filter(status=Status.SENT).count() == 2
    assert {r.due_at for r in Reminder.objects.all()} == {target.starts_at - 2 * H}


@pytest.mark.django_db
def test_a_visit_moved_a_day_later_gets_a_48_hour_reminder_at_once(cast: Cast) -> None:
    reachable(cast)
    target = appointment(cast, NOW + 2 * H)
    assert sweep(NOW) == 2
    target.starts_at += 24 * H
    target.ends_at += 24 * H
    target.save()
    # 26 hours ahead: more than half of the 48-hour lead remains, so the patient hears of the new time now.
    assert sweep(NOW + M) == 2
    assert sweep(target.starts_at - 2 * H) == 2
    assert Reminder.objects.filter(status=Status.SENT).count() == 4


@pytest.mark.django_db
def test_a_pending_reminder_follows_its_appointment(cast: Cast) -> None:
    reachable(cast)
    target = appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
    target.starts_at += 6 * H
    target.ends_at += 6 * H
    target.save()
    assert sweep(NOW) == 0
    assert {r.due_at for r in Reminder.objects.all()} == {NOW + 6 * H}
    assert set(rows().values()) == {("pending", "")}
    assert sweep(NOW + 6 * H) == 2


@pytest.mark.django_db
def test_reset_for_forgets_all_but_a_reminder_being_sent(cast: Cast) -> None:
    reachable(cast)
    target = appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
        Reminder.objects.filter(channel="sms").update(claimed_at=NOW, claimed_by="elsewhere")
        assert services.reset_for(target) == 1
    assert set(rows()) == {("2h", "sms")}


@pytest.mark.django_db
def test_a_claim_of_a_dead_worker_is_taken_over_only_after_the_reclaim_window(cast: Cast) -> None:
    reachable(cast)
    appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
    Reminder.objects.update(claimed_at=NOW, claimed_by="dead-worker", attempts=1)
    assert sweep(NOW + 9 * M) == 0
    assert sweep(NOW + 10 * M) == 2
    assert {(r.status, r.attempts) for r in Reminder.objects.all()} == {("sent", 2)}


@pytest.mark.django_db
def test_a_claim_interrupted_on_its_last_attempt_is_failed_not_retried(cast: Cast) -> None:
    reachable(cast)
    appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
    Reminder.objects.update(claimed_at=NOW, claimed_by="dead-worker", attempts=services.MAX_ATTEMPTS)
    assert sweep(NOW + 11 * M) == 0
    assert set(rows().values()) == {("failed", "interrupted")}


@pytest.mark.django_db
def test_a_failed_send_is_retried_at_the_next_sweep_then_given_up(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    reachable(cast)
    appointment(cast, NOW + 2 * H)

    def refuse(to: str, body: str) -> sms.SmsMessage:
        raise sms.SmsError(f"Twilio refused the message to {to}")

    monkeypatch.setattr(services, "send_sms", refuse)
    assert sweep(NOW) == 1  # the email
    assert rows()[("2h", "sms")] == ("pending", "SmsError")
    assert sweep(NOW) == 0  # the next sweep tries again: second attempt
    assert sweep(NOW + M) == 0  # third and last
    assert rows()[("2h", "sms")] == ("failed", "SmsError")
    assert Reminder.objects.get(channel="sms").attempts == 3
    assert sweep(NOW + 2 * M) == 0
    assert AuditEvent.objects.filter(action=Action.SEND).count() == 1


@pytest.mark.django_db
def test_a_reminder_left_pending_past_half_its_lead_is_skipped_as_late(cast: Cast) -> None:
    reachable(cast)
    appointment(cast, NOW + 2 * H)
    with time_machine.travel(NOW, tick=False):
        services.plan(NOW)
    # The worker was down for an hour and a half.
    assert sweep(NOW + 90 * M) == 0
    assert set(rows().values()) == {("skipped", "late")}


@pytest.mark.django_db
def test_the_worker_runs_the_sweep_every_minute(cast: Cast) -> None:
    reachable(cast)
    start = NOW + 2 * H + 90 * datetime.timedelta(seconds=1)
    appointment(cast, start)
    with time_machine.travel(NOW, tick=False):
        assert "patient_reminders" in run_due_sweeps(NOW)
    assert Reminder.objects.count() == 0  # due in 90 seconds: not yet
    with time_machine.travel(NOW + 30 * datetime.timedelta(seconds=1), tick=False):
        assert "patient_reminders" not in run_due_sweeps()
    with time_machine.travel(NOW + M, tick=False):
        assert "patient_reminders" in run_due_sweeps()
    assert Reminder.objects.filter(status=Status.SENT).count() == 2
    assert all(r.sent_at is not None and r.sent_at <= r.due_at for r in Reminder.objects.all())
