"""A referral from the chart to its first visit, and everything it tells people on the way."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from tandem.audit.models import AuditEvent
from tandem.messaging.models import Notification
from tandem.patients.models import CareTeamMember
from tandem.referrals import services
from tandem.referrals.models import Offer, OfferStatus, ReferralEvent, State
from tandem.referrals.tests.world import META, NOW, build, submitted
from tandem.scheduling import services as scheduling
from tandem.test import Cast


@pytest.fixture
def world(cast: Cast):  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield build(cast)


@pytest.mark.django_db
def test_referral_to_first_visit(world) -> None:  # type: ignore[no-untyped-def]
    cast = world.cast
    with time_machine.travel(NOW, tick=False):
        referral = submitted(world)
        assert referral.status == State.SUBMITTED
        assert referral.triage_due_at is not None and referral.visit_due_at == NOW + datetime.timedelta(days=14)
        referral = services.triage(actor=world.coordinator, referral=referral, meta=META)
        ranking = services.current_ranking(referral)
        assert [o.candidate.clinician_id for o in ranking.offers] == [cast.prescriber.pk]
        [left_out] = ranking.excluded
        assert left_out.candidate.clinician_id == cast.unrelated.pk
        assert [r.label for r in left_out.reasons] == ["not licensed in WA", "not enrolled with this payer"]
        best = ranking.offers[0]
        # It is 09:00 in Denver; the soonest offer is an hour out.
        assert best.starts_at == datetime.datetime(2026, 6, 8, 16, tzinfo=datetime.UTC)
        referral = services.book(
            actor=world.coordinator,
            referral=referral,
            prescriber_id=best.candidate.clinician_id,
            starts_at=best.starts_at,
            meta=META,
        )
    assert referral.status == State.SCHEDULED
    assert referral.appointment is not None and referral.prescriber == cast.prescriber
    assert CareTeamMember.objects.filter(patient=world.wa_patient, user=cast.prescriber).exists()
    assert Offer.objects.get(referral=referral).status == OfferStatus.ACCEPTED
    with time_machine.travel(best.starts_at + datetime.timedelta(hours=1), tick=False):
        scheduling.complete(actor=cast.prescriber, appointment=referral.appointment, meta=META)
    referral.refresh_from_db()
    assert referral.status == State.COMPLETED
    assert list(ReferralEvent.objects.filter(referral=referral).values_list("transition", flat=True)) == [
        "submit",
        "triage",
        "book",
        "complete",
    ]
    texts = list(Notification.objects.filter(recipient=cast.therapist, kind="referral").values_list("text", flat=True))
    assert texts == [
        "A referral you made reached its first visit.",
        "A referral you made is scheduled.",
        "A referral you made was triaged.",
    ]
    assert AuditEvent.objects.filter(target_type="referral", target_id=str(referral.public_id)).count() >= 5
