"""The practice records a patient's reminder choices from the chart."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tandem.reminders.models import ReminderPreference
from tandem.test import Cast, sign_in


@pytest.mark.django_db
def test_the_practice_records_reminder_opt_outs(cast: Cast) -> None:
    url = reverse("reminders:preference", args=[cast.patient.public_id])
    client = sign_in(Client(), cast.therapist)
    assert client.post(url, {"email": "on"}).status_code == 302
    preference = ReminderPreference.objects.get(patient=cast.patient)
    assert (preference.email_opt_out, preference.sms_opt_out) == (False, True)
    chart = client.get(reverse("patients:chart", args=[cast.patient.public_id])).content.decode()
    assert 'id="rem-sms">' in chart and 'id="rem-email" checked>' in chart
    assert sign_in(Client(), cast.prescriber).post(url, {}).status_code == 404
    assert ReminderPreference.objects.get(patient=cast.patient).email_opt_out is False
