"""Edges found in review: times in PDFs, secrets in logs, proxies, named
clinicians, same-organization reads, stale forms and second submits."""

from __future__ import annotations

import datetime
import json
import logging
import uuid

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from tandem.audit.services import client_ip
from tandem.consent import services
from tandem.consent.models import Authorization, BreakGlass, Disclosure
from tandem.consent.tests.helpers import META, pdf_text, prepare, sign
from tandem.lib.request_log import JsonFormatter
from tandem.records.models import Document, PsychotherapyNote
from tandem.test import Cast, grant_authorization, sign_in


@pytest.mark.django_db
def test_pdf_times_are_utc_whoever_signs_them_in(cast: Cast) -> None:
    cast.therapist.timezone = "America/Los_Angeles"
    cast.therapist.save()
    authorization = prepare(cast)
    client = sign_in(Client(), cast.therapist)
    client.post(
        reverse("consent:office_sign", args=[cast.patient.public_id, authorization.public_id]),
        {"signer_role": "patient", "signer_name": "Avery Quintero", "agree": "on"},
    )
    authorization.refresh_from_db()
    text = pdf_text(services.signed_pdf(authorization))
    utc = authorization.signed_at.astimezone(datetime.UTC)
    assert f"{utc:%H:%M} UTC" in text


def test_signing_tokens_and_request_objects_never_reach_the_logs() -> None:
    record = logging.makeLogRecord(
        {
            "name": "django.security.csrf",
            "levelname": "WARNING",
            "msg": "Forbidden (%s): %s",
            "args": ("CSRF cookie not set.", "/sign/Zk3_secret-Token9/"),
            "request": "<WSGIRequest: POST '/sign/Zk3_secret-Token9/'>",
        }
    )
    line = JsonFormatter().format(record)
    assert "Zk3_secret-Token9" not in line
    assert json.loads(line)["msg"] == "Forbidden (CSRF cookie not set.): /sign/[token]/"
    feed = logging.makeLogRecord({"msg": "Not Found: /calendar/feed/AbC_d-9.ics", "levelname": "WARNING"})
    assert "AbC_d-9" not in JsonFormatter().format(feed)
    manage = logging.makeLogRecord({"msg": "Not Found: /calendar/feed/revoke/", "levelname": "WARNING"})
    assert "/calendar/feed/revoke/" in JsonFormatter().format(manage)


def test_the_client_address_behind_the_proxy(settings: object) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7")
    settings.BEHIND_PROXY = False  # type: ignore[attr-defined]
    assert client_ip(request) == "127.0.0.1"
    settings.BEHIND_PROXY = True  # type: ignore[attr-defined]
    assert client_ip(request) == "198.51.100.7"
    forged = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_ip(forged) == "127.0.0.1"


@pytest.mark.django_db
def test_the_chart_carries_the_part2_notice_where_part2_records_are_listed(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar, kind="part2", mutual=False)
    Document.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        info_class="progress_notes",
        part2=True,
        title="Counseling summary",
        body="Text",
        occurred_on=datetime.date(2026, 2, 1),
    )
    url = reverse("patients:chart", args=[cast.patient.public_id])
    assert "42 CFR Part 2" in sign_in(Client(), cast.prescriber).get(url).content.decode()
    assert "Notice about redisclosure" not in sign_in(Client(), cast.therapist).get(url).content.decode()


@pytest.mark.django_db
def test_named_clinicians_must_work_where_the_form_says(cast: Cast) -> None:
    from tandem.patients.models import CareTeamMember

    CareTeamMember.objects.create(
        patient=cast.patient,
        user=cast.colleague,
        organization=cast.riverbend,
        role="therapist",
        starts_on=datetime.date(2020, 1, 1),
    )
    with pytest.raises(ValidationError, match="must work at the recipient"):
        prepare(cast, "psychotherapy_notes", recipient_clinician=cast.colleague)
    with pytest.raises(ValidationError, match="goes one way only"):
        prepare(cast, recipient_clinician=cast.prescriber, mutual=True)
    assert Authorization.objects.count() == 0


@pytest.mark.django_db
def test_a_colleague_reading_under_a_notes_authorization_is_not_a_disclosure(cast: Cast) -> None:
    from tandem.patients.models import CareTeamMember

    CareTeamMember.objects.create(
        patient=cast.patient,
        user=cast.colleague,
        organization=cast.riverbend,
        role="therapist",
        starts_on=datetime.date(2020, 1, 1),
    )
    grant_authorization(
        cast.patient,
        cast.riverbend,
        cast.riverbend,
        kind="psychotherapy_notes",
        mutual=False,
        recipient_clinician=cast.colleague,
    )
    note = PsychotherapyNote.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        body="Process",
        occurred_on=datetime.date(2026, 2, 1),
    )
    response = sign_in(Client(), cast.colleague).get(
        reverse("records:pn", args=[cast.patient.public_id, note.public_id])
    )
    assert response.status_code == 200
    assert Disclosure.objects.count() == 0


@pytest.mark.django_db
def test_a_form_past_its_end_date_cannot_be_signed(cast: Cast) -> None:
    authorization = prepare(cast)
    Authorization.objects.filter(pk=authorization.pk).update(expires_on=datetime.date(2020, 1, 1))
    authorization.refresh_from_db()
    with pytest.raises(ValidationError, match="end date has passed"):
        sign(authorization)
    authorization.refresh_from_db()
    assert authorization.status == "pending"


@pytest.mark.django_db
def test_someone_elses_form_token_is_a_clear_error_not_a_crash(cast: Cast) -> None:
    token = uuid.uuid4()
    Document.objects.create(
        patient=cast.other_patient,
        organization=cast.riverbend,
        author=cast.colleague,
        info_class="progress_notes",
        title="Other",
        body="Other",
        occurred_on=datetime.date(2026, 1, 1),
        form_token=token,
    )
    client = sign_in(Client(), cast.therapist)
    response = client.post(
        reverse("records:document_new", args=[cast.patient.public_id]),
        {
            "form_token": str(token),
            "info_class": "progress_notes",
            "title": "Mine",
            "body": "Mine",
            "occurred_on": "2026-01-02",
        },
    )
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert not Document.objects.filter(patient=cast.patient).exists()


@pytest.mark.django_db
def test_emergency_access_submitted_twice_opens_one_grant_and_cannot_be_self_reviewed(cast: Cast) -> None:
    reason = "Patient in crisis at the ED; I need the medication list now."
    first = services.break_glass(actor=cast.prescriber, patient=cast.patient, reason=reason, meta=META)
    second = services.break_glass(actor=cast.prescriber, patient=cast.patient, reason=reason, meta=META)
    assert first == second
    assert BreakGlass.objects.count() == 1
    with pytest.raises(ValidationError, match="Another admin"):
        services.review_break_glass(actor=cast.prescriber, grant=first, note="Fine", meta=META)


@pytest.mark.django_db
def test_a_mail_failure_after_signing_still_shows_the_signed_page(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    cast.patient.email = "avery@example.test"
    cast.patient.save()
    authorization = prepare(cast)
    _link, token = services.send_link(actor=cast.therapist, authorization=authorization, channel="email", meta=META)
    sent = len(mail.outbox)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("mail server down")

    monkeypatch.setattr(services, "email_copy", broken)
    response = Client().post(
        reverse("consent:sign", args=[token]),
        {"signer_role": "patient", "signer_name": "Avery Quintero", "agree": "on"},
    )
    assert response.status_code == 200
    assert "Download your copy" in response.content.decode()
    assert "on its way to your email" not in response.content.decode()
    assert len(mail.outbox) == sent
    authorization.refresh_from_db()
    assert authorization.status == "signed"
