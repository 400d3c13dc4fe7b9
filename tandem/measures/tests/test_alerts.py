"""Safety alerts: a critical answer tells the care team at once, without
clinical detail; someone acknowledges it with the action taken; unacknowledged,
it escalates once after the configured time."""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from tandem.audit.services import RequestMeta
from tandem.measures import alerts, services
from tandem.measures.models import SafetyAlert
from tandem.messaging.models import Notification
from tandem.operations.sweeps import run_due_sweeps
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


def _phq9(cast: Cast, item9: int) -> object:
    response, _ = services.record_in_session(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_key="phq9",
        answers={**{str(n): 1 for n in range(1, 9)}, "9": item9},
        language="en",
        form_token=uuid.uuid4(),
        meta=META,
    )
    return response


@pytest.mark.django_db
def test_a_critical_answer_opens_one_alert_for_the_team_with_no_clinical_detail(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    _phq9(cast, 0)
    assert not SafetyAlert.objects.exists()
    response = _phq9(cast, 2)
    alert = SafetyAlert.objects.get()
    assert alert.response == response and alert.reasons == ["Thoughts of death or self-harm (item 9 above 0)"]
    told = Notification.objects.filter(kind="safety_alert")
    assert {n.recipient for n in told} == {cast.therapist, cast.prescriber}
    for n in told:
        assert cast.patient.first_name not in n.text and "item 9" not in n.text and "PHQ" not in n.text
    today = page_text(sign_in(Client(), cast.prescriber).get(reverse("home:today")))
    assert "Safety alerts" in today and "item 9 above 0" in today


@pytest.mark.django_db
def test_without_consent_for_assessments_the_partner_is_not_told(cast: Cast) -> None:
    _phq9(cast, 3)
    assert {n.recipient for n in Notification.objects.filter(kind="safety_alert")} == {cast.therapist}
    alert = SafetyAlert.objects.get()
    url = reverse("measures:alert", args=[cast.patient.public_id, alert.public_id])
    assert sign_in(Client(), cast.prescriber).get(url).status_code == 404


@pytest.mark.django_db
def test_acknowledging_needs_the_action_taken_and_happens_once(cast: Cast) -> None:
    _phq9(cast, 1)
    alert = SafetyAlert.objects.get()
    url = reverse("measures:alert", args=[cast.patient.public_id, alert.public_id])
    client = sign_in(Client(), cast.therapist)
    assert "Acknowledge the alert" in page_text(client.get(url))
    empty = client.post(url, {"action": "  "})
    assert empty.status_code == 400
    done = client.post(url, {"action": "Called her; passive thoughts only, safety plan reviewed."})
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.therapist and "safety plan reviewed" in alert.action_taken
    again = client.post(url, {"action": "Second try"})
    assert again.status_code == 400 and "already acknowledged" in page_text(again)
    assert "item 9 above 0" not in page_text(client.get(reverse("home:today")))


@pytest.mark.django_db
@override_settings(SAFETY_ALERT_ESCALATE_MINUTES=60)
def test_an_unacknowledged_alert_escalates_exactly_once_after_the_configured_time(cast: Cast) -> None:
    opened = timezone.now()
    with time_machine.travel(opened, tick=False):
        _phq9(cast, 2)
    mail.outbox.clear()
    with time_machine.travel(opened + datetime.timedelta(minutes=59), tick=False):
        assert alerts.escalation_sweep(timezone.now()) == 0
    later = opened + datetime.timedelta(minutes=61)
    with time_machine.travel(later, tick=False):
        assert "safety_alert_escalations" in run_due_sweeps(timezone.now())
    with time_machine.travel(later + datetime.timedelta(minutes=5), tick=False):
        run_due_sweeps(timezone.now())
        assert alerts.escalation_sweep(timezone.now()) == 0  # never twice
    alert = SafetyAlert.objects.get()
    assert alert.escalated_at == later
    escalated = Notification.objects.filter(kind="safety_alert_escalated")
    assert {n.recipient for n in escalated} == {cast.admin, cast.therapist}  # the practice admin and the team
    assert escalated.count() == 2
    # The admin it went to can open it (not acknowledge it: that is the team's).
    page = sign_in(Client(), cast.admin).get(reverse("measures:alert", args=[cast.patient.public_id, alert.public_id]))
    assert page.status_code == 200 and "Escalated" in page_text(page) and "Acknowledge the alert" not in page_text(page)
    # An acknowledged alert never escalates.
    _phq9(cast, 3)
    fresh = SafetyAlert.objects.exclude(pk=alert.pk).get()
    alerts.acknowledge(actor=cast.therapist, alert=fresh, action="Seen in clinic today.", meta=META)
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=3), tick=False):
        assert alerts.escalation_sweep(timezone.now()) == 0
