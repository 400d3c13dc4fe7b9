"""The daily digest of appointment changes: once a day, counts only, opt-out."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from tandem.messaging.digest import send_digests
from tandem.messaging.models import DigestPreference, Notification
from tandem.test import Cast, sign_in

UTC = datetime.UTC
# 08:00 in Denver, where the prescriber is.
MORNING = datetime.datetime(2026, 6, 9, 14, tzinfo=UTC)


def _changes(cast: Cast, n: int, at: datetime.datetime) -> None:
    for _ in range(n):
        Notification.objects.create(
            recipient=cast.prescriber,
            kind="appointment",
            text="An appointment of a patient you share was booked.",
            created_at=at,
        )


@pytest.mark.django_db
def test_one_digest_a_day_with_counts_and_no_health_information(cast: Cast) -> None:
    cast.prescriber.timezone = "America/Denver"
    cast.prescriber.save()
    _changes(cast, 3, MORNING - datetime.timedelta(hours=5))
    assert send_digests(MORNING - datetime.timedelta(hours=2)) == 0  # 06:00 there: too early
    assert send_digests(MORNING) == 1
    assert send_digests(MORNING + datetime.timedelta(hours=3)) == 0  # once a day
    message = mail.outbox[-1]
    assert message.to == [cast.prescriber.email]
    assert "3 appointment changes" in message.body
    for secret in ["Quintero", "Avery", "Therapy", "evaluation"]:
        assert secret not in message.body
    _changes(cast, 1, MORNING + datetime.timedelta(hours=20))
    assert send_digests(MORNING + datetime.timedelta(days=1)) == 1


@pytest.mark.django_db
def test_a_clinician_turns_the_digest_off(cast: Cast) -> None:
    client = sign_in(Client(), cast.prescriber)
    assert client.get(reverse("messaging:preferences")).status_code == 200
    assert client.post(reverse("messaging:preferences"), {}).status_code == 302
    assert not DigestPreference.objects.get(user=cast.prescriber).appointment_digest
    _changes(cast, 2, MORNING - datetime.timedelta(hours=1))
    assert send_digests(MORNING) == 0
    assert mail.outbox == []
