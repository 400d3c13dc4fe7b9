"""Creating, revoking and serving calendar feeds.

A feed carries the least a clinician needs to keep a personal calendar: when
each of their appointments is, its type and the patient's initials. Never
names, record numbers, notes, diagnoses, locations or links.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import icalendar
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.feeds.models import CalendarFeed
from tandem.lib.tokens import new_token, token_hash
from tandem.scheduling.models import HOLDING, Participant

OPERATIONS = "operations"
TREATMENT = "treatment"
TARGET = "calendar_feed"
PAST = datetime.timedelta(days=30)
AHEAD = datetime.timedelta(days=180)
CONSULT_SUMMARY = "Provider consult"


def active_feed(user: User) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()


def feed_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("feeds:ics", args=[token])


def _audit(
    user: User, action: Action, feed: CalendarFeed, purpose: str, meta: audit.RequestMeta, **detail: object
) -> None:
    audit.record(
        actor=user,
        action=action,
        purpose=purpose,
        meta=meta,
        target_type=TARGET,
        target_id=feed.public_id,
        detail=dict(detail),
    )


def _revoke_active(user: User, meta: audit.RequestMeta, now: datetime.datetime) -> list[CalendarFeed]:
    revoked = list(CalendarFeed.objects.filter(user=user, revoked_at__isnull=True))
    for feed in revoked:
        feed.revoked_at = now
        feed.save(update_fields=["revoked_at"])
        _audit(user, Action.REVOKE, feed, OPERATIONS, meta)
    return revoked


def create_feed(*, user: User, meta: audit.RequestMeta) -> tuple[CalendarFeed, str, bool]:
    """A new feed for the user, revoking the one they had. Returns the feed, its
    token (which exists only in this return value) and whether one was replaced."""
    token = new_token()
    now = timezone.now()
    with transaction.atomic():
        # One user's creates and revokes take turns (PostgreSQL); SQLite's
        # BEGIN IMMEDIATE already serializes them. The partial unique
        # constraint is the last word either way.
        User.objects.select_for_update().filter(pk=user.pk).first()
        replaced = _revoke_active(user, meta, now)
        feed = CalendarFeed.objects.create(user=user, token_hash=token_hash(token), created_at=now)
        _audit(user, Action.CREATE, feed, OPERATIONS, meta, replaced=bool(replaced))
    return feed, token, bool(replaced)


def revoke_feed(*, user: User, meta: audit.RequestMeta) -> bool:
    """Stop the user's feed link at once. Whether there was one to stop."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        return bool(_revoke_active(user, meta, timezone.now()))


def held_slots(user: User, now: datetime.datetime) -> list[Participant]:
    """The user's appointments that still hold time, 30 days back to 180 ahead,
    in one query that reads only what the feed shows."""
    return list(
        Participant.objects.filter(
            user=user,
            holds=True,
            appointment__status__in=HOLDING,
            starts_at__lt=now + AHEAD,
            ends_at__gt=now - PAST,
        )
        .select_related("appointment__appointment_type", "appointment__patient")
        .only(
            "appointment",
            "appointment__public_id",
            "appointment__starts_at",
            "appointment__ends_at",
            "appointment__appointment_type",
            "appointment__appointment_type__name",
            "appointment__patient",
            "appointment__patient__first_name",
            "appointment__patient__last_name",
        )
        .order_by("starts_at", "id")
    )


def initials(first: str, last: str) -> str:
    """ "Avery", "Quintero" → "A.Q." """
    return "".join(f"{name.strip()[0].upper()}." for name in (first, last) if name.strip())


def summary(slot: Participant) -> str:
    appointment = slot.appointment
    patient = appointment.patient
    if patient is None:
        return CONSULT_SUMMARY
    letters = initials(patient.first_name, patient.last_name)
    name = appointment.appointment_type.name
    return f"{name} · {letters}" if letters else name


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(datetime.UTC)


@dataclass(frozen=True)
class Feed:
    body: bytes
    events: int


def build(user: User, slots: list[Participant], now: datetime.datetime) -> Feed:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Tandem//Clinician calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Tandem — {user.display_name}")
    calendar.add("refresh-interval", datetime.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", datetime.timedelta(hours=1))
    # Every instant is written in UTC ("...Z"), so the feed needs no VTIMEZONE:
    # the calendar app shows each one in whatever zone its user is in.
    stamp = _utc(now)
    for slot in slots:
        appointment = slot.appointment
        event = icalendar.Event()
        event.add("uid", f"{appointment.public_id}@tandem")
        event.add("dtstamp", stamp)
        event.add("dtstart", _utc(appointment.starts_at))
        event.add("dtend", _utc(appointment.ends_at))
        event.add("summary", summary(slot))
        event.add("status", "CONFIRMED")
        # Asks calendar apps to hide even the title from anyone the calendar is shared with.
        event.add("class", "PRIVATE")
        # Deliberately no DESCRIPTION, LOCATION, URL, ATTENDEE or ORGANIZER.
        calendar.add_component(event)
    return Feed(body=calendar.to_ical(), events=len(slots))


def fetch(feed: CalendarFeed, meta: audit.RequestMeta) -> Feed:
    """The feed's calendar now, noting the fetch on the feed and in the audit trail (one event)."""
    now = timezone.now()
    result = build(feed.user, held_slots(feed.user, now), now)
    with transaction.atomic():
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
        _audit(feed.user, Action.EXPORT, feed, TREATMENT, meta, events=result.events)
    return result
