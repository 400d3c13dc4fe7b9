"""Booking: the rules it checks, the eligibility of prescribers, double
submits, and 50 simultaneous attempts at one slot."""

from __future__ import annotations

import datetime
import threading
import uuid

import pytest
from django.db import connection

from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import RequestMeta
from tandem.credentials.models import ClinicianProfile, Discipline, LicenseType, StateLicense
from tandem.scheduling import services
from tandem.scheduling.models import Appointment, Kind, Participant, SchedulingRules, TimeOff, WeeklyHours
from tandem.test import Cast

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
UTC = datetime.UTC
# Monday June 8, 2026, 10:00 in Portland (PDT) is 17:00 UTC.
MONDAY_10 = datetime.datetime(2026, 6, 8, 17, tzinfo=UTC)


def _setup(cast: Cast) -> None:
    for user, org in [(cast.therapist, cast.riverbend), (cast.prescriber, cast.northstar)]:
        for weekday in range(5):
            WeeklyHours.objects.create(
                clinician=user,
                organization=org,
                weekday=weekday,
                start=datetime.time(8),
                end=datetime.time(17),
                timezone="America/Los_Angeles",
            )
    ClinicianProfile.objects.create(user=cast.prescriber, discipline=Discipline.PSYCHIATRIST)
    StateLicense.objects.create(clinician=cast.prescriber, state="OR", license_type=LicenseType.MD, number="MD-1")


def _book(cast: Cast, kind: str = Kind.MED_MANAGEMENT, **overrides: object) -> Appointment:
    org = cast.northstar if kind in {Kind.MED_MANAGEMENT, Kind.PSYCH_EVAL} else cast.riverbend
    appointment_type = next(t for t in services.ensure_types(org) if t.kind == kind)
    fields: dict[str, object] = {
        "actor": cast.therapist,
        "appointment_type": appointment_type,
        "clinicians": [cast.prescriber],
        "patient": cast.patient,
        "starts_at": MONDAY_10,
        "modality": "video_home",
        "meta": META,
    }
    fields.update(overrides)
    return services.book(**fields)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_booking_holds_time_for_each_clinician_and_is_audited(cast: Cast) -> None:
    _setup(cast)
    appointment = _book(cast, Kind.CO_TREATMENT, clinicians=[cast.therapist, cast.prescriber])
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=60)
    assert {p.user for p in appointment.participants.all()} == {cast.therapist, cast.prescriber}
    assert AuditEvent.objects.filter(action=Action.CREATE, target_id=str(appointment.public_id)).exists()
    with pytest.raises(services.SlotTaken):
        _book(cast, Kind.THERAPY, clinicians=[cast.therapist], starts_at=MONDAY_10 + datetime.timedelta(minutes=30))


@pytest.mark.django_db
def test_the_rules_are_checked_with_reasons(cast: Cast) -> None:
    _setup(cast)
    with pytest.raises(services.BookingRefused, match="outside the clinician's hours"):
        _book(cast, starts_at=MONDAY_10 + datetime.timedelta(hours=7))  # 17:00 local
    saturday = MONDAY_10 + datetime.timedelta(days=5)
    with pytest.raises(services.BookingRefused, match="outside the clinician's hours"):
        _book(cast, starts_at=saturday)
    TimeOff.objects.create(
        clinician=cast.prescriber, starts_at=MONDAY_10, ends_at=MONDAY_10 + datetime.timedelta(hours=1)
    )
    with pytest.raises(services.BookingRefused, match="during time off"):
        _book(cast)
    _book(cast, starts_at=MONDAY_10 + datetime.timedelta(hours=2))
    with pytest.raises(services.SlotTaken):  # inside the 10-minute buffer
        _book(cast, starts_at=MONDAY_10 + datetime.timedelta(hours=2, minutes=35))
    SchedulingRules.objects.create(clinician=cast.prescriber, buffer_minutes=0, max_per_day=1)
    with pytest.raises(services.BookingRefused, match="day is full"):
        _book(cast, starts_at=MONDAY_10 + datetime.timedelta(hours=4))
    with pytest.raises(services.BookingRefused, match="co-treatment"):
        _book(cast, Kind.CO_TREATMENT, starts_at=MONDAY_10 + datetime.timedelta(days=1))
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_new_patient_evaluations_have_their_own_weekly_capacity(cast: Cast) -> None:
    _setup(cast)
    SchedulingRules.objects.create(clinician=cast.prescriber, new_patient_per_week=1)
    _book(cast, Kind.PSYCH_EVAL)
    with pytest.raises(services.BookingRefused, match="new-patient capacity"):
        _book(cast, Kind.PSYCH_EVAL, starts_at=MONDAY_10 + datetime.timedelta(days=1))
    _book(cast, Kind.MED_MANAGEMENT, starts_at=MONDAY_10 + datetime.timedelta(days=1))
    evaluation = next(t for t in services.ensure_types(cast.northstar) if t.kind == Kind.PSYCH_EVAL)
    week = MONDAY_10 - datetime.timedelta(hours=1)
    assert services.open_slots(cast.prescriber, evaluation, week, week + datetime.timedelta(days=5)) == []
    next_week = services.open_slots(
        cast.prescriber, evaluation, week + datetime.timedelta(days=7), week + datetime.timedelta(days=12)
    )
    assert next_week


@pytest.mark.django_db
def test_a_prescriber_is_booked_only_where_eligible(cast: Cast) -> None:
    _setup(cast)
    with pytest.raises(services.BookingRefused) as refused:
        _book(cast, expected_state="ID")
    assert any("ID" in reason for reason in refused.value.reasons)
    assert Appointment.objects.count() == 0
    assert _book(cast, expected_state="OR").expected_state == "OR"


@pytest.mark.django_db
def test_a_double_submit_books_once(cast: Cast) -> None:
    _setup(cast)
    token = uuid.uuid4()
    first = _book(cast, form_token=token)
    second = _book(cast, form_token=token)
    assert first == second
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_open_slots_respect_bookings_and_buffers(cast: Cast) -> None:
    _setup(cast)
    _book(cast)
    med = next(t for t in services.ensure_types(cast.northstar) if t.kind == Kind.MED_MANAGEMENT)
    day_start = MONDAY_10 - datetime.timedelta(hours=2)
    found = services.open_slots(cast.prescriber, med, day_start, day_start + datetime.timedelta(hours=9))
    assert found
    for slot in found:
        assert slot + datetime.timedelta(minutes=40) <= MONDAY_10 or slot >= MONDAY_10 + datetime.timedelta(minutes=40)


@pytest.mark.django_db(transaction=True)
def test_fifty_people_booking_one_slot_at_once_give_exactly_one_appointment(cast: Cast) -> None:
    _setup(cast)
    appointment_type = next(t for t in services.ensure_types(cast.northstar) if t.kind == Kind.MED_MANAGEMENT)
    start_line = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            start_line.wait()
            services.book(
                actor=cast.therapist,
                appointment_type=appointment_type,
                clinicians=[cast.prescriber],
                patient=cast.patient,
                starts_at=MONDAY_10,
                modality="video_home",
                form_token=uuid.uuid4(),
                meta=META,
            )
            result = "booked"
        except services.SlotTaken:
            result = "taken"
        except Exception as exc:  # anything else is a failure of the test
            result = f"error: {type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(set(outcomes)) == ["booked", "taken"], outcomes
    assert outcomes.count("booked") == 1
    assert Appointment.objects.count() == 1
    assert Participant.objects.count() == 1
    assert AuditEvent.objects.filter(target_type="appointment").count() == 1


@pytest.mark.django_db
def test_postgresql_itself_refuses_overlapping_held_time(cast: Cast) -> None:
    """Below the service: on PostgreSQL the exclusion constraint refuses an
    overlapping held range whatever code writes it; released (cancelled) time
    may overlap. SQLite has no such constraint; there the booking service's
    locked check-then-write (the race test above) is the guarantee."""
    from django.db import IntegrityError, transaction

    _setup(cast)
    first = _book(cast)
    second = _book(cast, starts_at=MONDAY_10 + datetime.timedelta(hours=3))

    def overlap_second_onto_first() -> None:
        Participant.objects.filter(appointment=second).update(
            starts_at=first.starts_at + datetime.timedelta(minutes=10),
            ends_at=first.ends_at + datetime.timedelta(minutes=10),
        )

    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            overlap_second_onto_first()
        Participant.objects.filter(appointment=second).update(holds=False)
        overlap_second_onto_first()  # released time may overlap
    else:
        overlap_second_onto_first()
    assert Participant.objects.filter(appointment=second).get().starts_at == first.starts_at + datetime.timedelta(
        minutes=10
    )


@pytest.mark.django_db
def test_a_weekly_series_keeps_its_local_time_across_dst_and_is_all_or_nothing(cast: Cast) -> None:
    import zoneinfo

    _setup(cast)
    therapy = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY)
    first = datetime.datetime(2026, 10, 19, 17, tzinfo=UTC)  # Monday 10:00 PDT
    blocker = services.book(
        actor=cast.colleague,
        appointment_type=therapy,
        clinicians=[cast.therapist],
        patient=cast.other_patient,
        starts_at=datetime.datetime(2026, 11, 2, 18, tzinfo=UTC),  # Monday Nov 2, 10:00 PST
        modality="in_person",
        meta=META,
    )
    fields = {
        "actor": cast.therapist,
        "appointment_type": therapy,
        "clinicians": [cast.therapist],
        "patient": cast.patient,
        "starts_at": first,
        "weeks": 4,
        "modality": "in_person",
        "meta": META,
    }
    refused = services.book_series(**fields)  # type: ignore[arg-type]
    assert refused.booked == [] and len(refused.skipped) == 1
    assert Appointment.objects.count() == 1  # only the blocker: nothing partial
    result = services.book_series(**fields, skip_taken=True)  # type: ignore[arg-type]
    assert len(result.booked) == 3
    local = [a.starts_at.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles")) for a in result.booked]
    assert [t.strftime("%m-%d %H:%M %Z") for t in local] == ["10-19 10:00 PDT", "10-26 10:00 PDT", "11-09 10:00 PST"]
    assert {a.series_id for a in result.booked} != {None}
    assert blocker.status == "booked"


@pytest.mark.django_db
def test_the_weekly_new_patient_cap_counts_the_whole_week(cast: Cast) -> None:
    """Evaluations later in the week count too, whatever window is searched."""
    _setup(cast)
    SchedulingRules.objects.create(clinician=cast.prescriber, new_patient_per_week=1)
    thursday = MONDAY_10 + datetime.timedelta(days=3)
    _book(cast, Kind.PSYCH_EVAL, starts_at=thursday)
    evaluation = next(t for t in services.ensure_types(cast.northstar) if t.kind == Kind.PSYCH_EVAL)
    monday_window = (MONDAY_10 - datetime.timedelta(hours=3), MONDAY_10 + datetime.timedelta(hours=6))
    assert services.open_slots(cast.prescriber, evaluation, *monday_window) == []
    with pytest.raises(services.BookingRefused, match="new-patient capacity"):
        _book(cast, Kind.PSYCH_EVAL)


@pytest.mark.django_db
def test_no_booking_ever_violates_availability(cast: Cast) -> None:
    """Property: whatever start times are asked for, every booking that
    succeeds lies inside the clinician's hours, off their time off, and clear
    of every other held appointment by the buffer."""
    import zoneinfo

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tandem.scheduling.slots import Hours, Interval, fits

    _setup(cast)
    TimeOff.objects.create(
        clinician=cast.therapist,
        starts_at=datetime.datetime(2026, 11, 2, 18, tzinfo=UTC),
        ends_at=datetime.datetime(2026, 11, 2, 22, tzinfo=UTC),
    )
    therapy = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY)
    origin = datetime.datetime(2026, 10, 29, 7, tzinfo=UTC)  # spans the November change

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(minutes=st.integers(0, 8 * 24 * 4).map(lambda q: q * 15))
    def attempt(minutes: int) -> None:
        start = origin + datetime.timedelta(minutes=minutes)
        try:
            services.book(
                actor=cast.therapist,
                appointment_type=therapy,
                clinicians=[cast.therapist],
                patient=cast.patient,
                starts_at=start,
                modality="in_person",
                meta=META,
            )
        except (services.SlotTaken, services.BookingRefused):
            return

    attempt()
    held = list(Participant.objects.filter(user=cast.therapist, holds=True).order_by("starts_at"))
    assert held, "some bookings should have succeeded"
    hours = [Hours(h.weekday, h.start, h.end) for h in WeeklyHours.objects.filter(clinician=cast.therapist)]
    off = [Interval(t.starts_at, t.ends_at) for t in TimeOff.objects.filter(clinician=cast.therapist)]
    buffer = services.rules_for(cast.therapist).buffer_minutes
    for p in held:
        others = [Interval(o.starts_at, o.ends_at) for o in held if o.pk != p.pk]
        assert (
            fits(
                hours=hours,
                zone="America/Los_Angeles",
                busy=others,
                time_off=off,
                start=p.starts_at,
                end=p.ends_at,
                buffer=buffer,
            )
            == []
        ), p.starts_at.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles"))
