"""The demo's referrals: every state, an overdue one escalated to both levels,
one waiting on the waitlist, an offer held from it, and months of first visits."""

from __future__ import annotations

import io
import itertools
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command
from django.utils import timezone

from tandem.accounts.models import User
from tandem.messaging.models import Notification
from tandem.patients.models import CareTeamMember, CareTeamRole
from tandem.referrals.models import (
    Escalation,
    Offer,
    OfferStatus,
    Referral,
    ReferralEvent,
    State,
    Urgency,
)
from tandem.scheduling.models import Participant, Status


def demo() -> str:
    out = io.StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_shows_referrals_in_every_state() -> None:
    demo()
    now = timezone.now()
    referrals = Referral.objects.select_related("appointment", "patient", "prescriber")
    states = Counter(r.status for r in referrals)
    assert set(states) == set(State.values), states

    # The first visits give the access measures something to measure.
    completed = [r for r in referrals if r.status == State.COMPLETED]
    assert len(completed) >= 20
    assert {r.urgency for r in completed} == set(Urgency.values)
    assert len({r.submitted_at.strftime("%Y-%m") for r in completed if r.submitted_at}) >= 5
    for r in completed:
        assert r.appointment is not None and r.appointment.status == Status.COMPLETED
        assert r.appointment.ends_at < now and r.appointment.starts_at == r.appointment.participants.get().starts_at
        assert r.submitted_at and r.triaged_at and r.scheduled_at and r.completed_at
        assert r.created_at < r.submitted_at < r.triaged_at < r.scheduled_at < r.appointment.starts_at
        assert r.appointment.ends_at <= r.completed_at < now
        assert [e.transition for e in r.events.all()] == ["submit", "triage", "book", "complete"]
        # Seen by the patient's own prescriber.
        assert CareTeamMember.objects.filter(
            patient=r.patient, user=r.prescriber, role=CareTeamRole.PRESCRIBER
        ).exists()

    # Booked: in the coming days, with the patient's own prescriber, one of them in Spanish.
    scheduled = [r for r in referrals if r.status == State.SCHEDULED]
    for r in scheduled:
        assert r.appointment is not None and r.appointment.status == Status.BOOKED and r.appointment.starts_at > now
    assert any(r.language == "es" and r.prescriber.email == "prescriber@northstar.demo" for r in scheduled)

    # Overdue for triage, and told to the coordinator, then to the group admin.
    [urgent] = [r for r in referrals if r.status == State.SUBMITTED and r.urgency == Urgency.URGENT]
    assert urgent.triage_due_at is not None and urgent.triage_due_at < now
    levels = {e.level: e for e in Escalation.objects.filter(referral=urgent, target=Escalation.TRIAGE)}
    assert set(levels) == {1, 2} and levels[1].sent_at < levels[2].sent_at <= now
    told = Notification.objects.filter(text="A referral is overdue for triage.")
    assert {n.recipient.email for n in told} == {"coordinator@northstar.demo", "groupadmin@northstar.demo"}

    # The rest of what is waiting is within its time limits.
    for r in referrals:
        if r.is_waiting and r.pk != urgent.pk:
            assert r.visit_due_at and r.visit_due_at > now
            assert r.status != State.SUBMITTED or (r.triage_due_at and r.triage_due_at > now)

    # On the waitlist: triaged, in line, with nothing to offer it.
    waiting = [r for r in referrals if r.status == State.TRIAGED and r.waitlisted_at is not None]
    assert waiting and not Offer.objects.filter(referral__in=waiting, status=OfferStatus.PENDING).exists()

    # Offered: an opening held for it by the waitlist, after the coordinator's offer ran out.
    [offered] = [r for r in referrals if r.status == State.OFFERED]
    held = offered.offers.get(status=OfferStatus.PENDING)
    assert held.automatic and held.expires_at and held.expires_at > now and held.starts_at > now
    assert offered.offers.filter(status=OfferStatus.EXPIRED, automatic=False).exists()

    # Endings carry their reasons; the draft has no history yet.
    for state in (State.DECLINED, State.CANCELLED, State.EXPIRED):
        ended = next(r for r in referrals if r.status == state)
        assert ended.end_reason and ended.ended_at and ended.ended_at < now
    draft = next(r for r in referrals if r.status == State.DRAFT)
    assert draft.referred_by.email == "therapist@riverbend.demo" and not draft.events.exists()

    # Every history row is in the past, in order.
    for r in referrals:
        times = [e.at for e in r.events.all()]
        assert times == sorted(times) and all(t <= now for t in times)

    # Nobody is double-booked.
    ranges = defaultdict(list)
    for p in Participant.objects.filter(holds=True):
        ranges[p.user_id].append((p.starts_at, p.ends_at))
    for spans in ranges.values():
        for (_, end), (start, _) in itertools.pairwise(sorted(spans)):
            assert end <= start

    # Running the demo again changes nothing.
    counts = (Referral.objects.count(), ReferralEvent.objects.count(), Offer.objects.count(), User.objects.count())
    assert "nothing changed" in demo()
    assert (
        Referral.objects.count(),
        ReferralEvent.objects.count(),
        Offer.objects.count(),
        User.objects.count(),
    ) == counts
