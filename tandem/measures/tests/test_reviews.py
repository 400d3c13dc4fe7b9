"""Psychiatric case review: the flagged list, and a recommendation that
reaches the chart and the therapist's inbox."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.measures.models import CaseReview, Response, ResponseStatus, Source
from tandem.messaging.models import Notification
from tandem.records.models import Document
from tandem.test import Cast, grant_authorization, page_text, sign_in


@pytest.mark.django_db
def test_a_flagged_patient_is_reviewed_and_the_recommendation_reaches_the_therapist(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    now = timezone.now()
    Response.objects.bulk_create(
        Response(
            patient=cast.patient,
            organization=cast.riverbend,
            instrument="phq9",
            instrument_version="1",
            source=Source.IN_SESSION,
            answers={},
            status=ResponseStatus.COMPLETE,
            total=total,
            completed_at=now - datetime.timedelta(weeks=weeks),
        )
        for weeks, total in ((10, 16), (1, 15))
    )
    prescriber = sign_in(Client(), cast.prescriber)
    url = reverse("measures:case_review")
    page = prescriber.get(url)
    text = page_text(page)
    assert cast.patient.display_name in text and "Not improving at 8+ weeks" in text and "Not reviewed yet" in text
    token = re.search(r'name="form_token" value="([0-9a-f-]+)"', page.content.decode())
    assert token is not None
    form = {
        "form_token": token[1],
        "patient": str(cast.patient.public_id),
        "recommendation": "Increase sertraline to 150 mg; add behavioural activation; review in 4 weeks.",
    }
    assert prescriber.post(url, form).status_code == 302
    assert prescriber.post(url, form).status_code == 302  # a double submit: one review
    review = CaseReview.objects.get()
    assert review.flags == ["not_improving", "no_follow_up"] and review.document is not None
    assert "Last reviewed" in page_text(prescriber.get(url))
    # On the chart, and in the therapist's inbox, without clinical detail in the notice.
    document = Document.objects.get(pk=review.document.pk)
    assert document.info_class == "care_plan" and document.organization == cast.northstar
    notice = Notification.objects.get(kind="case_review")
    assert notice.recipient == cast.therapist and "sertraline" not in notice.text.lower()
    chart = page_text(sign_in(Client(), cast.therapist).get(reverse("patients:chart", args=[cast.patient.public_id])))
    assert "Psychiatric case review" in chart
    # Bad input: nothing written.
    empty = prescriber.post(url, {"form_token": str(uuid.uuid4()), "patient": str(cast.patient.public_id)})
    foreign = prescriber.post(
        url, {"form_token": str(uuid.uuid4()), "patient": str(cast.foreign_patient.public_id), "recommendation": "x"}
    )
    assert empty.status_code == 302 and foreign.status_code == 404 and CaseReview.objects.count() == 1
