"""The clinician's calendar feed: what it shows (and never shows), its link's
life cycle, who may have one, the audit trail and the query budget."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import RequestMeta
from tandem.feeds import services as feeds
from tandem.feeds.models import CalendarFeed
from tandem.organizations.models import Membership
from tandem.scheduling import services
from tandem.scheduling.models import Appointment, Kind, Participant, SchedulingRules, Status, WeeklyHours
from tandem.test import Cast, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
UTC = datetime.UTC
# US daylight saving time ends on Sunday, November 1, 2026.
BEFORE_DST_ENDS = datetime.datetime(2026, 10, 26, 9, tzinfo=LA)  # Monday, PDT: 16:00Z
AFTER_DST_ENDS = datetime.datetime(2026, 11, 2, 9, tzinfo=LA)  # Monday, PST: 17:00Z
NOW = datetime.datetime(2026, 10, 20, 12, tzinfo=LA)


def _hours(cast: Cast) -> None:
    for weekday in range(5):
        WeeklyHours.objects.create(
            clinician=cast.therapist,
            organization=cast.riverbend,
            weekday=weekday,
            start=datetime.time(8),
            end=datetime.time(17),
            timezone="America/Los_Angeles",
        )


def _therapy(cast: Cast) -> services.AppointmentType:  # type: ignore[name-defined]
    return next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.THERAPY)


def _book(cast: Cast, starts_at: datetime.datetime) -> Appointment:
    # book() checks hours, buffers and clashes, not whether the time is in the past.
    return services.book(
        actor=cast.therapist,
        appointment_type=_therapy(cast),
        clinicians=[cast.therapist],
        patient=cast.patient,
        starts_at=starts_at,
        modality="video_home",
        meta=META,
    )


def _token(user: object) -> str:
    _feed, token, _replaced = feeds.create_feed(user=user, meta=META)  # type: ignore[arg-type]
    return token


def _get(token: str) -> object:
    return Client().get(reverse("feeds:ics", args=[token]))


def _events(body: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


@pytest.mark.django_db
def test_the_feed_gives_utc_instants_across_dst_and_initials_only(cast: Cast) -> None:
    _hours(cast)
    before = _book(cast, BEFORE_DST_ENDS)
    after = _book(cast, AFTER_DST_ENDS)
    token = _token(cast.therapist)
    with time_machine.travel(NOW, tick=False):
        response = _get(token)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"  # type: ignore[index]
    assert response["Cache-Control"] == "no-store"  # type: ignore[index]
    body: bytes = response.content  # type: ignore[attr-defined]
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Tandem — Maya Ortiz, LPC"
    events = {str(e["UID"]): e for e in _events(body)}
    assert set(events) == {f"{before.public_id}@tandem", f"{after.public_id}@tandem"}

    first, second = events[f"{before.public_id}@tandem"], events[f"{after.public_id}@tandem"]
    assert first.decoded("DTSTART") == datetime.datetime(2026, 10, 26, 16, tzinfo=UTC)
    assert first.decoded("DTEND") == datetime.datetime(2026, 10, 26, 16, 50, tzinfo=UTC)
    assert second.decoded("DTSTART") == datetime.datetime(2026, 11, 2, 17, tzinfo=UTC)
    assert second.decoded("DTEND") == datetime.datetime(2026, 11, 2, 17, 50, tzinfo=UTC)
    assert second.decoded("DTSTAMP") == NOW.astimezone(UTC)
    for event in (first, second):
        assert str(event["SUMMARY"]) == "Therapy session · A.Q."
        assert str(event["STATUS"]) == "CONFIRMED"

    text = body.decode()
    # Instants in UTC, so no time zone definitions are needed.
    assert "DTSTART:20261026T160000Z" in text and "DTSTART:20261102T170000Z" in text
    assert "VTIMEZONE" not in text and "TZID" not in text
    for secret in ["Avery", "Quintero", "RB-000001", "DESCRIPTION", "LOCATION", "ATTENDEE", "Video"]:
        assert secret.lower() not in text.lower(), secret


@pytest.mark.django_db
def test_a_consult_shows_initials_only_when_it_is_about_a_patient(cast: Cast) -> None:
    _hours(cast)
    WeeklyHours.objects.create(
        clinician=cast.prescriber,
        organization=cast.northstar,
        weekday=0,  # Mondays
        start=datetime.time(8),
        end=datetime.time(17),
        timezone="America/Los_Angeles",
    )
    consult = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.CONSULT and t.minutes == 15)
    for patient, starts_at in [(None, BEFORE_DST_ENDS), (cast.patient, AFTER_DST_ENDS)]:
        services.book(
            actor=cast.therapist,
            appointment_type=consult,
            clinicians=[cast.therapist, cast.prescriber],
            patient=patient,
            starts_at=starts_at,
            modality="video_office",
            meta=META,
        )
    with time_machine.travel(NOW, tick=False):
        body = _get(_token(cast.prescriber)).content  # type: ignore[attr-defined]
    # A consult about a patient (who does not attend) shows their initials like any visit.
    assert [str(e["SUMMARY"]) for e in _events(body)] == ["Provider consult", "Provider consult · A.Q."]
    for secret in ["Maya", "Ortiz", "Avery", "Quintero"]:
        assert secret not in body.decode()


@pytest.mark.django_db
def test_only_held_appointments_in_the_window_are_in_the_feed(cast: Cast) -> None:
    _hours(cast)
    kept = _book(cast, BEFORE_DST_ENDS)
    cancelled = _book(cast, BEFORE_DST_ENDS + datetime.timedelta(days=1))
    no_show = _book(cast, BEFORE_DST_ENDS + datetime.timedelta(days=2))
    released = _book(cast, BEFORE_DST_ENDS + datetime.timedelta(days=3))
    too_old = _book(cast, BEFORE_DST_ENDS - datetime.timedelta(days=40))  # NOW - 34 days
    too_far = _book(cast, BEFORE_DST_ENDS + datetime.timedelta(days=182))
    Appointment.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED)
    Participant.objects.filter(appointment=cancelled).update(holds=False)
    Appointment.objects.filter(pk=no_show.pk).update(status=Status.NO_SHOW)  # still "holds" in the row
    Participant.objects.filter(appointment=released).update(holds=False)  # status still booked
    with time_machine.travel(NOW, tick=False):
        body = _get(_token(cast.therapist)).content  # type: ignore[attr-defined]
    uids = {str(e["UID"]) for e in _events(body)}
    assert uids == {f"{kept.public_id}@tandem"}
    for gone in (cancelled, no_show, released, too_old, too_far):
        assert str(gone.public_id) not in body.decode()


@pytest.mark.django_db
def test_the_feed_never_shows_another_clinicians_appointments(cast: Cast) -> None:
    _hours(cast)
    _book(cast, BEFORE_DST_ENDS)
    with time_machine.travel(NOW, tick=False):
        body = _get(_token(cast.colleague)).content  # type: ignore[attr-defined]
    assert _events(body) == []


@pytest.mark.django_db
def test_unknown_revoked_and_replaced_tokens_are_404(cast: Cast) -> None:
    assert _get("made-up-token").status_code == 404  # type: ignore[attr-defined]
    assert _get("x" * 500).status_code == 404  # type: ignore[attr-defined]
    first = _token(cast.therapist)
    assert _get(first).status_code == 200  # type: ignore[attr-defined]
    second = _token(cast.therapist)  # regenerating revokes the first
    assert _get(first).status_code == 404  # type: ignore[attr-defined]
    assert _get(second).status_code == 200  # type: ignore[attr-defined]
    assert feeds.revoke_feed(user=cast.therapist, meta=META)
    assert _get(second).status_code == 404  # type: ignore[attr-defined]
    assert not feeds.revoke_feed(user=cast.therapist, meta=META)
    assert CalendarFeed.objects.filter(user=cast.therapist, revoked_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_the_database_keeps_only_the_tokens_hash(cast: Cast) -> None:
    token = _token(cast.therapist)
    feed = CalendarFeed.objects.get(user=cast.therapist)
    assert token not in feed.token_hash and len(feed.token_hash) == 64
    assert not any(token in str(value) for value in CalendarFeed.objects.values_list())


@pytest.mark.django_db
def test_a_feed_stops_when_its_owner_stops_being_a_clinician(cast: Cast) -> None:
    token = _token(cast.therapist)
    Membership.objects.filter(user=cast.therapist).update(is_active=False)
    assert _get(token).status_code == 404  # type: ignore[attr-defined]
    Membership.objects.filter(user=cast.therapist).update(is_active=True)
    assert _get(token).status_code == 200  # type: ignore[attr-defined]
    cast.therapist.is_active = False
    cast.therapist.save()
    assert _get(token).status_code == 404  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_each_fetch_is_one_audit_event_and_is_noted_on_the_feed(cast: Cast) -> None:
    token = _token(cast.therapist)
    feed = CalendarFeed.objects.get(user=cast.therapist)
    before = AuditEvent.objects.count()
    with time_machine.travel(NOW, tick=False):
        _get(token)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert (event.action, event.actor_id, event.purpose) == (Action.EXPORT, cast.therapist.pk, "treatment")
    assert (event.target_type, event.target_id, event.patient_id) == ("calendar_feed", str(feed.public_id), None)
    feed.refresh_from_db()
    assert feed.last_fetched_at == NOW
    _get("made-up-token")
    assert AuditEvent.objects.count() == before + 1


@pytest.mark.django_db
def test_the_manage_page_shows_the_link_once_and_only_the_users_own(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist, sudo=True)
    page = client.get(reverse("feeds:manage"))
    assert page.status_code == 200
    assert b"Create feed link" in page.content and b"Revoke" not in page.content

    created = client.post(reverse("feeds:create"))
    assert created.status_code == 200
    match = re.search(r'value="(https?://[^"]+/calendar/feed/([^"/]+)\.ics)"', created.content.decode())
    assert match is not None
    token = match.group(2)
    assert _get(token).status_code == 200  # type: ignore[attr-defined]
    assert created["Cache-Control"] == "no-store"
    assert token not in str(dict(client.session.items()))
    event = AuditEvent.objects.filter(action=Action.CREATE, target_type="calendar_feed").get()
    assert (event.actor_id, event.purpose) == (cast.therapist.pk, "operations")

    again = client.get(reverse("feeds:manage"))
    assert token not in again.content.decode()
    assert b"Regenerate link" in again.content and b"Revoke link" in again.content

    # Another clinician sees only that they have no link.
    other = sign_in(Client(), cast.colleague, sudo=True).get(reverse("feeds:manage"))
    assert b"You have no feed link" in other.content and token not in other.content.decode()

    regenerated = client.post(reverse("feeds:create"))
    assert b"previous link no longer works" in regenerated.content
    assert _get(token).status_code == 404  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action=Action.REVOKE, target_type="calendar_feed").count() == 1

    revoked = client.post(reverse("feeds:revoke"))
    assert revoked.status_code == 302 and revoked["Location"] == reverse("feeds:manage")
    assert not CalendarFeed.objects.filter(user=cast.therapist, revoked_at__isnull=True).exists()
    revokes = AuditEvent.objects.filter(action=Action.REVOKE, target_type="calendar_feed", purpose="operations")
    assert revokes.count() == 2


@pytest.mark.django_db
def test_creating_and_revoking_need_a_fresh_identity_check(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    for name in ["feeds:create", "feeds:revoke"]:
        response = client.post(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:sudo"))
    assert not CalendarFeed.objects.exists()


@pytest.mark.django_db
def test_only_clinicians_have_feed_pages(cast: Cast) -> None:
    for who in ["admin", "group_admin", "patient_user"]:
        client = sign_in(Client(), cast.everyone()[who], sudo=True)
        assert client.get(reverse("feeds:manage")).status_code == 404
        assert client.post(reverse("feeds:create")).status_code == 404
        assert client.post(reverse("feeds:revoke")).status_code == 404
    assert Client().get(reverse("feeds:manage")).status_code == 302
    assert not CalendarFeed.objects.exists()


def _queries_for(token: str) -> int:
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        response = _get(token)
    assert response.status_code == 200  # type: ignore[attr-defined]
    return len(queries)


@pytest.mark.django_db
def test_the_feed_runs_a_fixed_number_of_queries(cast: Cast) -> None:
    _hours(cast)
    SchedulingRules.objects.create(clinician=cast.therapist, max_per_day=8)
    _book(cast, BEFORE_DST_ENDS)
    token = _token(cast.therapist)
    one = _queries_for(token)
    day = BEFORE_DST_ENDS
    booked = 1
    while booked < 20:
        day += datetime.timedelta(days=1)
        if day.weekday() >= 5:
            continue
        for hour in (9, 11, 14):
            if booked < 20:
                _book(cast, day.replace(hour=hour))
                booked += 1
    twenty = _queries_for(token)
    with time_machine.travel(NOW, tick=False):
        assert len(_events(_get(token).content)) == 20  # type: ignore[attr-defined]
    assert one == twenty, (one, twenty)
