"""The waitlist: an opening goes to the right referral, once, and moves on
when it is turned down or runs out. Time limits escalate once per level."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.db import connection

from tandem.messaging.models import Notification
from tandem.referrals import services
from tandem.referrals.models import Escalation, Offer, OfferStatus, Referral, State, Urgency
from tandem.referrals.tests.world import META, NOW, World, book_best, build, triaged
from tandem.scheduling import availability
from tandem.scheduling import services as scheduling
from tandem.scheduling.models import Appointment, WeeklyHours
from tandem.test import Cast, make_patient

DENVER_9 = datetime.time(9)
JUNE_15 = datetime.datetime(2026, 6, 15, 15, tzinfo=datetime.UTC)  # Monday 09:00 in Denver
JUNE_22 = JUNE_15 + datetime.timedelta(days=7)


def _full_calendar(cast: Cast) -> World:
    """Priya sees new patients one hour a week (Mondays 09:00 in Denver) until
    a leave at the end of June, and both openings before it are taken; Lee has no hours."""
    world = build(cast, with_hours=False)
    WeeklyHours.objects.create(
        clinician=cast.prescriber,
        organization=cast.northstar,
        weekday=0,
        start=DENVER_9,
        end=datetime.time(10),
        timezone="America/Denver",
        valid_until=datetime.date(2026, 6, 28),  # then a leave of absence
    )
    evaluation = services.evaluation_type(cast.northstar)
    for patient, start in [(cast.patient, JUNE_15), (cast.other_patient, JUNE_22)]:
        scheduling.book(
            actor=world.coordinator,
            appointment_type=evaluation,
            clinicians=[cast.prescriber],
            patient=patient,
            starts_at=start,
            modality="video_home",
            meta=META,
        )
    return world


def _waiting(world: World, label: str, urgency: str, minutes_later: int) -> Referral:
    from tandem.test import grant_authorization

    cast = world.cast
    patient = make_patient(cast.riverbend, label, "Waiting", f"RB-W{minutes_later:04d}", cast.payer)
    grant_authorization(patient, cast.riverbend, cast.northstar, signed_at=NOW - datetime.timedelta(days=1))
    with time_machine.travel(NOW + datetime.timedelta(minutes=minutes_later), tick=False):
        return triaged(world, patient, urgency=urgency)


def _cancel_june_15(world: World) -> None:
    appointment = Appointment.objects.get(starts_at=JUNE_15)
    scheduling.cancel(actor=world.coordinator, appointment=appointment, reason="Patient moved away", meta=META)


@pytest.mark.django_db
def test_a_freed_opening_goes_to_the_most_urgent_then_moves_on(cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        world = _full_calendar(cast)
    older_routine = _waiting(world, "Olive", Urgency.ROUTINE, 1)
    newer_urgent = _waiting(world, "Uma", Urgency.URGENT, 30)
    assert older_routine.waitlisted_at is not None and newer_urgent.waitlisted_at is not None
    later = NOW + datetime.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        assert services.fill_waitlist() == 0  # nobody has room
        _cancel_june_15(world)
        older_routine.refresh_from_db()
        assert older_routine.status == State.TRIAGED  # a cancellation of another patient's visit changes no referral
        assert services.fill_waitlist() == 1
        assert services.fill_waitlist() == 0  # the opening is held: not offered twice
    [held] = Offer.objects.filter(status=OfferStatus.PENDING)
    assert (held.referral_id, held.starts_at, held.automatic) == (newer_urgent.pk, JUNE_15, True)
    newer_urgent.refresh_from_db()
    assert newer_urgent.status == State.OFFERED
    assert Notification.objects.filter(
        recipient=world.coordinator, text="An opening was offered to a referral."
    ).exists()

    # The urgent patient cannot make it: the opening moves on to the next in line.
    with time_machine.travel(later + datetime.timedelta(minutes=5), tick=False):
        services.release(actor=cast.therapist, referral=newer_urgent, reason="Works Mondays", meta=META)
        assert services.fill_waitlist() == 1
    [moved] = Offer.objects.filter(status=OfferStatus.PENDING)
    assert (moved.referral_id, moved.starts_at) == (older_routine.pk, JUNE_15)

    # Nobody answers within the hold: the offer runs out, and neither referral gets it again.
    with time_machine.travel(later + datetime.timedelta(hours=25), tick=False):
        assert services.fill_waitlist() == 0
    assert list(Offer.objects.filter(referral=older_routine).values_list("status", flat=True)) == [OfferStatus.EXPIRED]
    older_routine.refresh_from_db()
    assert older_routine.status == State.TRIAGED and older_routine.waitlisted_at is not None
    assert not Offer.objects.filter(status=OfferStatus.PENDING).exists()


@pytest.mark.django_db
def test_accepting_a_waitlist_offer_books_it(cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        world = _full_calendar(cast)
    referral = _waiting(world, "Ada", Urgency.SOON, 1)
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        _cancel_june_15(world)
        services.fill_waitlist()
        referral.refresh_from_db()
        assert referral.status == State.OFFERED
        services.book(
            actor=world.coordinator, referral=referral, prescriber_id=cast.prescriber.pk, starts_at=JUNE_15, meta=META
        )
    referral.refresh_from_db()
    assert referral.status == State.SCHEDULED and referral.waitlisted_at is None
    assert Offer.objects.get(referral=referral).status == OfferStatus.ACCEPTED
    assert referral.appointment is not None and referral.appointment.starts_at == JUNE_15


@pytest.mark.django_db
def test_new_hours_wake_the_waitlist(cast: Cast, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    with time_machine.travel(NOW, tick=False):
        world = _full_calendar(cast)
    referral = _waiting(world, "Ivy", Urgency.ROUTINE, 1)
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            availability.add_hours(
                actor=cast.prescriber,
                organization=cast.northstar,
                weekday=2,
                start=datetime.time(13),
                end=datetime.time(15),
                valid_from=datetime.date(2026, 6, 1),
                valid_until=None,
                meta=META,
            )
        assert DBTaskResult.objects.filter(task_path__endswith="fill_waitlist_now").exists()
        assert services.fill_waitlist() == 1
    referral.refresh_from_db()
    assert referral.status == State.OFFERED


@pytest.mark.django_db(transaction=True)
def test_two_workers_offer_a_freed_opening_once_to_the_right_referral(cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        world = _full_calendar(cast)
    routine = _waiting(world, "Rory", Urgency.ROUTINE, 1)
    urgent = _waiting(world, "Una", Urgency.URGENT, 40)
    soon = _waiting(world, "Sol", Urgency.SOON, 20)
    start_line = threading.Barrier(2)
    outcomes: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            start_line.wait()
            result: object = services.fill_waitlist()
        except Exception as exc:  # any other error fails the test
            result = f"error: {type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=True):
        _cancel_june_15(world)
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert sorted(outcomes, key=str) == [0, 1], outcomes
    [held] = Offer.objects.filter(status=OfferStatus.PENDING)
    assert (held.referral_id, held.starts_at) == (urgent.pk, JUNE_15)
    assert Offer.objects.count() == 1
    assert {r.status for r in Referral.objects.filter(pk__in=[routine.pk, soon.pk])} == {State.TRIAGED}


@pytest.mark.django_db
def test_overdue_referrals_escalate_once_per_level(cast: Cast) -> None:
    friday = datetime.datetime(2026, 6, 12, 16, tzinfo=datetime.UTC)  # Friday 10:00 in Denver
    with time_machine.travel(friday, tick=False):
        world = build(cast)
        from tandem.referrals.tests.world import submitted

        referral = submitted(world, urgency=Urgency.URGENT)
    # One business day later is Monday 10:00 in Denver, not Saturday.
    assert referral.triage_due_at == friday + datetime.timedelta(days=3)
    with time_machine.travel(friday + datetime.timedelta(days=2), tick=False):
        assert services.escalate_overdue(friday + datetime.timedelta(days=2)) == 0
    monday_late = friday + datetime.timedelta(days=3, minutes=5)
    assert services.escalate_overdue(monday_late) == 2  # triage, and the 3-day first visit: both overdue
    assert services.escalate_overdue(monday_late + datetime.timedelta(minutes=5)) == 0
    coordinator_news = Notification.objects.filter(recipient=world.coordinator, kind="referral")
    assert set(coordinator_news.values_list("text", flat=True)) >= {
        "A referral is overdue for triage.",
        "A referral is overdue for a first visit.",
    }
    assert not Notification.objects.filter(recipient=cast.group_admin, text__contains="overdue").exists()
    a_day_on = monday_late + datetime.timedelta(hours=24)
    assert services.escalate_overdue(a_day_on) == 2  # now the group admin, for each limit
    assert services.escalate_overdue(a_day_on) == 0
    assert Notification.objects.filter(recipient=cast.group_admin, text__contains="overdue").count() == 2
    assert sorted(Escalation.objects.values_list("target", "level")) == [
        ("triage", 1),
        ("triage", 2),
        ("visit", 1),
        ("visit", 2),
    ]
    # Triaged and booked, it stops escalating.
    with time_machine.travel(a_day_on, tick=False):
        book_best(world, services.triage(actor=world.coordinator, referral=referral, meta=META))
    assert services.escalate_overdue(a_day_on + datetime.timedelta(days=5)) == 0


@pytest.mark.django_db
def test_a_referral_nobody_books_expires_with_its_reason(cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        world = build(cast)
        referral = triaged(world)
    assert services.expire_stale(NOW + datetime.timedelta(days=89)) == 0
    assert services.expire_stale(NOW + datetime.timedelta(days=91)) == 1
    referral.refresh_from_db()
    assert referral.status == State.EXPIRED
    assert referral.end_reason == "No evaluation was booked within 90 days."
    assert Notification.objects.filter(recipient=cast.therapist, text="A referral you made expired.").exists()


def test_business_days_skip_the_weekend() -> None:
    friday = datetime.datetime(2026, 6, 12, 22, tzinfo=datetime.UTC)  # Friday 16:00 in Denver
    assert services.add_business_days(friday, 1, "America/Denver") == friday + datetime.timedelta(days=3)
    assert services.add_business_days(friday, 5, "America/Denver") == friday + datetime.timedelta(days=7)
    saturday = friday + datetime.timedelta(days=1)
    # From Saturday the clock starts on Monday morning: due at the end of Monday.
    tuesday_midnight = datetime.datetime(2026, 6, 16, 6, tzinfo=datetime.UTC)
    assert services.add_business_days(saturday, 1, "America/Denver") == tuesday_midnight


@pytest.mark.django_db
def test_held_offers_take_time_and_weekly_capacity(cast: Cast) -> None:
    """Two referrals in line and one evaluation a week: the second is offered
    the next week, never an overlapping hour of the same week."""
    from tandem.scheduling.models import SchedulingRules

    with time_machine.travel(NOW, tick=False):
        world = build(cast, with_hours=False)
        WeeklyHours.objects.create(
            clinician=cast.prescriber,
            organization=cast.northstar,
            weekday=1,
            start=DENVER_9,
            end=datetime.time(17),
            timezone="America/Denver",
        )
        SchedulingRules.objects.create(clinician=cast.prescriber, new_patient_per_week=1)
    first = _waiting(world, "Fay", Urgency.SOON, 1)
    second = _waiting(world, "Gus", Urgency.ROUTINE, 2)
    # Triage found room for both, so neither waits yet; put them in line as the waitlist would.
    Referral.objects.filter(pk__in=[first.pk, second.pk]).update(waitlisted_at=NOW)
    with time_machine.travel(NOW + datetime.timedelta(minutes=5), tick=False):
        assert services.fill_waitlist() == 2
    one, two = (Offer.objects.get(referral=r) for r in (first, second))
    assert one.starts_at.isocalendar()[:2] != two.starts_at.isocalendar()[:2]
    assert abs(two.starts_at - one.starts_at) >= datetime.timedelta(days=6)


@pytest.mark.django_db
def test_a_group_without_coordinators_hears_through_its_admins(cast: Cast) -> None:
    from tandem.organizations.models import Membership

    with time_machine.travel(NOW, tick=False):
        world = build(cast)
        Membership.objects.filter(user=world.coordinator).update(is_active=False)
        from tandem.referrals.tests.world import submitted

        submitted(world)
    assert Notification.objects.filter(
        recipient=cast.group_admin, text="A new referral is waiting for triage."
    ).exists()
