"""Care-team threads for the demo: a week of messages about the showcase
patient between her therapist and psychiatrist (a mention, a correction, a
retraction), a consult request waiting for an answer, and for another patient
a request that was accepted and booked as this week's provider consult."""

from __future__ import annotations

import datetime

from django.utils import timezone

from tandem.accounts.models import User
from tandem.messaging.models import ConsultRequest, ConsultStatus, Message, ThreadRead
from tandem.messaging.threads import thread_for
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.scheduling.models import Appointment, Kind

CONVERSATION = [
    # (days ago, hour, who, text)
    (6, 16, "maya", "@Priya she had two panic episodes on the bus this week. Sleep is better though."),
    (6, 18, "priya", "Thanks. Any link to the dose change? I'd rather not move it again so soon."),
    (5, 9, "maya", "Panic started before the increase, by her account. I'm planning interoceptive exposure."),
    (5, 10, "priya", "Good. Let's hold at 100 mg. Can you send me her PHQ-9 when you next score it?"),
    (3, 15, "maya", "PHQ-9 today: 9 (from 11). Scored sheet attached in the chart."),
    (1, 11, "maya", "Sorry, wrong patient in my last message draft; ignore the earlier note about labs."),
]


def _at(days_ago: int, hour: int) -> datetime.datetime:
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
    return min(moment, timezone.now() - datetime.timedelta(minutes=10))


def seed_threads(orgs: dict[str, Organization], users: dict[str, User], riverbend: list[Patient]) -> int:
    maya, priya = users["therapist@riverbend.demo"], users["prescriber@northstar.demo"]
    who = {"maya": (maya, orgs["riverbend"]), "priya": (priya, orgs["northstar"])}
    showcase = riverbend[0]
    thread = thread_for(showcase)
    sent = []
    for days_ago, hour, key, text in CONVERSATION:
        author, organization = who[key]
        sent.append(
            Message.objects.create(
                thread=thread, author=author, organization=organization, body=text, created_at=_at(days_ago, hour)
            )
        )
    sent[0].mentions.set([priya])
    last = sent[-1]
    Message.objects.filter(pk=last.pk).update(retracted_at=last.created_at + datetime.timedelta(minutes=2))
    ThreadRead.objects.create(thread=thread, user=priya, read_at=sent[-2].created_at)
    ThreadRead.objects.create(thread=thread, user=maya, read_at=last.created_at)
    later = (timezone.now() + datetime.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    ConsultRequest.objects.create(
        thread=thread,
        requested_by=maya,
        requested_of=priya,
        topic="Plan for the panic: exposure now, or wait for the dose to settle?",
        proposed=[later.isoformat(), (later + datetime.timedelta(hours=2)).isoformat()],
        created_at=_at(1, 12),
    )
    booked = (
        Appointment.objects.filter(appointment_type__kind=Kind.CONSULT, participants__user=priya)
        .select_related("patient")
        .first()
    )
    if booked is not None and booked.patient is not None:
        ConsultRequest.objects.create(
            thread=thread_for(booked.patient),
            requested_by=maya,
            requested_of=priya,
            topic="Sleep on the new dose",
            proposed=[booked.starts_at.isoformat()],
            status=ConsultStatus.BOOKED,
            appointment=booked,
            created_at=min(booked.created_at, timezone.now()),
            answered_at=min(booked.created_at + datetime.timedelta(hours=1), timezone.now()),
        )
    return len(sent)


def remove_threads(orgs: object) -> None:
    """The demo's threads go before its patients and appointments."""
    from tandem.messaging.models import Attachment, Thread

    threads = Thread.objects.filter(patient__practice__in=orgs)
    ConsultRequest.objects.filter(thread__in=threads).delete()
    Attachment.objects.filter(message__thread__in=threads).delete()
    Message.objects.filter(thread__in=threads).delete()
    threads.delete()
