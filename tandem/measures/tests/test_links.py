"""The patient's questionnaire link: single use, expiring, resumable, in
English or Spanish, with crisis resources on a critical answer."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.audit.services import RequestMeta
from tandem.measures import links
from tandem.measures.models import MeasureLink, Response, SafetyAlert
from tandem.measures.services import MeasureError
from tandem.messaging import sms
from tandem.test import Cast, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


def _link(cast: Cast, keys: list[str], language: str = "en", channel: str = "none") -> str:
    _row, token = links.send(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_keys=keys,
        language=language,
        channel=channel,
        meta=META,
    )
    return reverse("measures:patient", args=[token])


def _answers(points: list[int]) -> dict[str, str]:
    return {f"item_{n + 1}": str(p) for n, p in enumerate(points)}


@pytest.mark.django_db
def test_the_patient_answers_a_phq9_and_gad7_through_one_link(cast: Cast) -> None:
    url = _link(cast, ["phq9", "gad7"])
    patient = Client()
    page = page_text(patient.get(url))
    assert "PHQ-9" in page and "(1/2)" in page and "Little interest or pleasure" in page
    # Half now, the rest later: nothing is lost, nothing scored yet.
    saved = patient.post(url, {**_answers([1, 1, 2]), "action": "save"})
    assert saved.status_code == 200 and "You can come back to this link" in page_text(saved)
    response = Response.objects.get()
    assert response.status == "in_progress" and response.total is None and response.answers == {"1": 1, "2": 1, "3": 2}
    resumed = patient.get(url).content.decode()
    assert re.search(r'name="item_3" value="2"[^>]*checked', resumed)
    assert len(re.findall(r"<input[^>]*\bchecked\b", resumed)) == 3
    partial = patient.post(url, {**_answers([1, 1, 2]), "action": "submit"})
    assert partial.status_code == 400 and "Still to answer: 4, 5, 6, 7, 8, 9" in page_text(partial)
    done = patient.post(url, {**_answers([1, 1, 2, 1, 0, 1, 1, 0, 0]), "action": "submit"})
    assert done.status_code == 302
    response.refresh_from_db()
    assert response.status == "complete" and response.total == 7 and response.band == "Mild"
    assert "GAD-7" in page_text(patient.get(url))
    last = patient.post(url, {**_answers([0, 1, 0, 1, 0, 1, 0]), "action": "submit"})
    assert last.status_code == 200 and "Your answers have reached your care team" in page_text(last)
    # Single use: the link is done.
    closed = patient.get(url)
    assert closed.status_code == 410 and "cannot be used again" in page_text(closed)
    assert MeasureLink.objects.get().completed_at is not None
    assert Response.objects.filter(status="complete").count() == 2


@pytest.mark.django_db
def test_a_critical_answer_shows_crisis_resources_at_once_and_alerts_the_team(cast: Cast) -> None:
    url = _link(cast, ["phq9"], language="es")
    patient = Client()
    spanish = page_text(patient.get(url))
    assert "Poco interés o placer en hacer cosas" in spanish and "Enviar mis respuestas" in spanish
    assert 'lang="es"' in patient.get(url).content.decode()
    crisis = patient.post(url, {**_answers([2, 2, 1, 1, 1, 1, 1, 1, 2]), "action": "submit", "lang": "es"})
    text = page_text(crisis)
    assert crisis.status_code == 200 and "988" in text and "911" in text and "no está solo" in text
    assert SafetyAlert.objects.get().reasons == ["Thoughts of death or self-harm (item 9 above 0)"]
    # Even a questionnaire sent unfinished raises it: item 9 answered, the rest not.
    other = _link(cast, ["phq9"])
    halfway = patient.post(other, {"item_9": "1", "action": "submit"})
    assert "988" in page_text(halfway) and SafetyAlert.objects.count() == 2


@pytest.mark.django_db
def test_expired_unknown_and_bad_input(cast: Cast) -> None:
    url = _link(cast, ["phq9"])
    assert Client().get(reverse("measures:patient", args=["not-a-token"])).status_code == 404
    assert Client().get(reverse("measures:patient", args=["x" * 200])).status_code == 404
    bad = Client().post(url, {"item_1": "9", "action": "submit"})
    assert bad.status_code == 400 and not Response.objects.exists()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        expired = Client().get(url)
        assert expired.status_code == 410 and "expired" in page_text(expired)
        with pytest.raises(MeasureError, match="expired"):
            links.save(
                link=MeasureLink.objects.get(), instrument_key="phq9", answers={"1": 1}, language="en", submit=False
            )


@pytest.mark.django_db
def test_the_clinician_sends_it_by_email_or_text_with_no_clinical_detail(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    from tandem.patients.models import Patient

    client = sign_in(Client(), cast.therapist)
    url = reverse("measures:send_link", args=[cast.patient.public_id])
    assert "Send questionnaires" in page_text(client.get(url))
    nowhere = client.post(url, {"instruments": ["phq9"], "language": "en", "channel": "email"})
    assert nowhere.status_code == 400 and "no email address on file" in page_text(nowhere)
    Patient.objects.filter(pk=cast.patient.pk).update(email="avery@example.com", phone="+15035550123")
    cast.patient.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url, {"instruments": ["phq9", "gad7"], "language": "en", "channel": "email"})
    assert sent.status_code == 302
    message = mail.outbox[-1]
    assert message.to == [cast.patient.email] and "/q/" in message.body
    for word in ["PHQ", "depress", cast.patient.first_name]:
        assert word not in message.body and word not in message.subject
    with django_capture_on_commit_callbacks(execute=True):
        texted = client.post(url, {"instruments": ["phq9"], "language": "es", "channel": "sms"})
    assert texted.status_code == 302 and "cuestionario" in sms.outbox[-1].body
    # Spanish is refused for a questionnaire not yet translated.
    refused = client.post(url, {"instruments": ["pcl5"], "language": "es", "channel": "none"})
    assert refused.status_code == 400 and "Not available in that language yet: PCL-5" in page_text(refused)
    shown = client.post(url, {"instruments": ["phq9"], "language": "en", "channel": "none"})
    assert shown.status_code == 200 and "/q/" in page_text(shown)
    assert MeasureLink.objects.count() == 3
