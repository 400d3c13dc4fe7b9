"""Giving a questionnaire in session, its score, its FHIR form, and who sees it."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from fhir.resources.observation import Observation
from fhir.resources.questionnaireresponse import QuestionnaireResponse

from tandem.access import policy
from tandem.audit.models import AuditEvent
from tandem.audit.services import RequestMeta
from tandem.measures import fhir, services
from tandem.measures.models import Response
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


def _phq9(cast: Cast, points: list[int]) -> Response:
    response, _ = services.record_in_session(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_key="phq9",
        answers={str(n + 1): p for n, p in enumerate(points)},
        language="en",
        form_token=uuid.uuid4(),
        meta=META,
    )
    return response


@pytest.mark.django_db
def test_a_clinician_gives_a_phq9_in_session_and_it_is_scored(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    url = reverse("measures:administer", args=[cast.patient.public_id, "phq9"])
    page = page_text(client.get(url))
    assert "Over the last 2 weeks" in page and "Little interest or pleasure in doing things" in page
    assert 'type="radio"' in client.get(url).content.decode()
    spanish = page_text(client.get(url, {"lang": "es"}))
    assert "Poco interés o placer en hacer cosas" in spanish and "Casi todos los días" in spanish
    token = str(uuid.uuid4())
    answers = {f"item_{n}": "2" for n in range(1, 10)} | {"item_9": "1", "item_10": "1"}
    first = client.post(url, {"form_token": token, **answers})
    again = client.post(url, {"form_token": token, **answers})  # a double submit
    assert first.status_code == again.status_code == 302
    response = Response.objects.get()
    assert (response.total, response.band, response.positive) == (17, "Moderately severe", True)
    assert response.critical == [{"item": "9", "label": "Thoughts of death or self-harm (item 9 above 0)"}]
    assert AuditEvent.objects.filter(target_type="assessment", action="create").count() == 1
    listed = page_text(client.get(reverse("measures:list", args=[cast.patient.public_id])))
    assert "17" in listed and "Moderately severe" in listed and "critical answer" in listed


@pytest.mark.django_db
def test_an_incomplete_or_bad_questionnaire_is_refused_and_nothing_is_saved(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    url = reverse("measures:administer", args=[cast.patient.public_id, "phq9"])
    partial = client.post(url, {"form_token": str(uuid.uuid4()), "item_1": "3", "item_2": "3"})
    assert partial.status_code == 400 and "Answer every question first: 3, 4, 5, 6, 7, 8, 9." in page_text(partial)
    out_of_range = client.post(url, {"form_token": str(uuid.uuid4()), **{f"item_{n}": "7" for n in range(1, 10)}})
    assert out_of_range.status_code == 400 and "Select a valid choice" in page_text(out_of_range)
    assert client.get(reverse("measures:administer", args=[cast.patient.public_id, "nope"])).status_code == 404
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_every_score_is_a_valid_fhir_observation_linked_to_its_answers(cast: Cast) -> None:
    response = _phq9(cast, [1, 1, 2, 2, 1, 0, 1, 0, 0])
    observation = Observation.model_validate(fhir.observation(response))
    assert observation.code.coding[0].system == "http://loinc.org"
    assert observation.code.coding[0].code == "44261-6"  # the total, not the 44249-1 panel
    assert observation.valueInteger == 8
    assert observation.derivedFrom[0].reference == f"QuestionnaireResponse/{response.public_id}"
    answers = QuestionnaireResponse.model_validate(fhir.questionnaire_response(response))
    assert answers.status == "completed" and len(answers.item) == 9
    # An instrument with no confirmed LOINC code is coded in Tandem's own system, not guessed.
    pcl5, _ = services.record_in_session(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_key="pcl5",
        answers={str(n): 1 for n in range(1, 21)},
        language="en",
        form_token=uuid.uuid4(),
        meta=META,
    )
    coded = Observation.model_validate(fhir.observation(pcl5))
    assert coded.code.coding[0].system == fhir.TANDEM_INSTRUMENTS and coded.valueInteger == 20


@pytest.mark.django_db
def test_assessments_are_their_own_consent_class(cast: Cast) -> None:
    _phq9(cast, [2] * 9)
    prescriber = sign_in(Client(), cast.prescriber)
    url = reverse("measures:list", args=[cast.patient.public_id])
    assert "No questionnaires yet" in page_text(prescriber.get(url))
    # An authorization for everything but assessments still keeps them back.
    grant_authorization(
        cast.patient, cast.riverbend, cast.northstar, classes=["progress_notes", "medications", "diagnoses"]
    )
    assert policy.visible_responses(policy.sharing_for(cast.prescriber, cast.patient)) == []
    grant_authorization(cast.patient, cast.riverbend, cast.northstar, classes=["assessments"])
    assert len(policy.visible_responses(policy.sharing_for(cast.prescriber, cast.patient))) == 1
    assert "Moderately severe" in page_text(prescriber.get(url))
    assert sign_in(Client(), cast.outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_the_questionnaire_pages_have_query_budgets(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    url = reverse("measures:list", args=[cast.patient.public_id])
    _phq9(cast, [1] * 9)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(30):
        _phq9(cast, [2] * 9)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    # The chart of each instrument reads the medication records too; PostgreSQL takes one more (audit lock).
    assert len(many) == len(few) and len(many) <= 16, (len(few), len(many))
    with CaptureQueriesContext(connection) as form:
        client.get(reverse("measures:administer", args=[cast.patient.public_id, "phq9"]))
    assert len(form) <= 12, len(form)


@pytest.mark.django_db
def test_an_organization_can_switch_an_instrument_off(cast: Cast) -> None:
    from tandem.measures import links
    from tandem.organizations.models import Organization

    Organization.objects.filter(pk=cast.riverbend.pk).update(instruments_off=["cssrs_screener", "asrs_a"])
    cast.riverbend.refresh_from_db()
    client = sign_in(Client(), cast.therapist)
    listed = page_text(client.get(reverse("measures:list", args=[cast.patient.public_id])))
    assert "PHQ-9" in listed and "C-SSRS" not in listed and "ASRS" not in listed
    assert (
        client.get(reverse("measures:administer", args=[cast.patient.public_id, "cssrs_screener"])).status_code == 404
    )
    with pytest.raises(services.MeasureError, match="not available"):
        services.record_in_session(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            instrument_key="cssrs_screener",
            answers={"1": 0, "2": 0, "6": 0},
            language="en",
            form_token=uuid.uuid4(),
            meta=META,
        )
    with pytest.raises(services.MeasureError, match="Not available here: asrs_a"):
        links.send(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            instrument_keys=["phq9", "asrs_a"],
            language="en",
            channel="none",
            meta=META,
        )
    # The partner group has not switched it off.
    assert (
        sign_in(Client(), cast.prescriber)
        .get(reverse("measures:administer", args=[cast.patient.public_id, "cssrs_screener"]))
        .status_code
        == 200
    )
