"""Signing: the patient's single-use, expiring link; signing in the office;
the signed PDF with every element of the template, kept with its SHA-256."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import Action, AuditEvent
from tandem.consent import documents, services
from tandem.consent.models import Authorization, SigningLink, Status
from tandem.consent.tests.helpers import META, pdf_text, prepare, sign
from tandem.messaging import sms
from tandem.test import Cast, sign_in

SIGN_POST = {"signer_role": "patient", "signer_name": "Avery Quintero", "agree": "on", "drawing": "M 10 10 L 50 60"}


def _send(cast: Cast, channel: str = "email") -> tuple[Authorization, SigningLink, str]:
    cast.patient.email = "avery@example.test"
    cast.patient.phone = "(503) 555-0142"
    cast.patient.save()
    authorization = prepare(cast)
    link, token = services.send_link(actor=cast.therapist, authorization=authorization, channel=channel, meta=META)
    return authorization, link, token


def _normalize(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.django_db
@pytest.mark.parametrize("template", ["coordination", "psychotherapy_notes", "part2", "telehealth"])
def test_the_signed_pdf_holds_every_required_element_word_for_word(template: str, cast: Cast) -> None:
    authorization = sign(
        prepare(cast, template),
        signature=services.Signature(
            name="Rosa Quintero",
            agreed=True,
            role="representative",
            representative_authority="Parent of a minor",
            drawing="M 10 10 L 200 80 L 300 40",
        ),
    )
    content = services.signed_pdf(authorization)
    text = pdf_text(content)
    signed = documents.load(authorization.template_key, authorization.template_version)
    elements = {s["element"]: s for s in authorization.text}
    for element in signed.required_elements():
        section = elements[element]
        assert _normalize(section["heading"]) in text, element
        for paragraph in section["text"].split("\n\n"):
            assert _normalize(paragraph) in text, f"{element}: {paragraph[:60]}"
    # The signature block: who, with what authority, when, from where.
    assert "Rosa Quintero" in text
    assert "Parent of a minor" in text
    assert f"{authorization.signed_at:%B} {authorization.signed_at.day}, {authorization.signed_at.year}" in text
    assert "127.0.0.1" in text
    assert authorization.pdf_sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.django_db
def test_the_stored_pdf_is_checked_against_its_fingerprint(cast: Cast) -> None:
    authorization = sign(prepare(cast))
    with authorization.pdf.open("wb") as handle:
        handle.write(b"%PDF-1.7 altered")
    with pytest.raises(Exception, match="fingerprint"):
        services.signed_pdf(authorization)


@pytest.mark.django_db
def test_an_authorization_records_the_template_version_it_was_signed_on(cast: Cast) -> None:
    authorization = prepare(cast)
    current = documents.load("coordination")
    assert (authorization.template_key, authorization.template_version) == ("coordination", current.version)
    assert authorization.template_sha256 == current.sha256
    assert all("{" not in section["text"] for section in authorization.text)
    assert "Avery Quintero" in str(authorization.text)


@pytest.mark.django_db
def test_the_patient_signs_through_the_emailed_link(cast: Cast) -> None:
    authorization, _link, token = _send(cast)
    assert len(mail.outbox) == 1
    assert token in mail.outbox[0].body
    assert SigningLink.objects.get().token_hash != token  # only its hash is kept
    client = Client()
    url = reverse("consent:sign", args=[token])
    page = client.get(url)
    assert page.status_code == 200
    assert "Avery Quintero" in page.content.decode()
    done = client.post(url, SIGN_POST, REMOTE_ADDR="203.0.113.9")
    assert done.status_code == 200
    authorization.refresh_from_db()
    assert authorization.status == Status.SIGNED
    assert authorization.signer_ip == "203.0.113.9"
    assert authorization.signature_drawing == "M 10 10 L 50 60"
    assert authorization.signed_via == "link"
    # The patient gets their copy by email, and can download it for a while.
    assert mail.outbox[-1].attachments[0][2] == "application/pdf"
    copy = client.get(reverse("consent:sign_copy", args=[token]))
    assert copy.status_code == 200
    assert hashlib.sha256(copy.content).hexdigest() == authorization.pdf_sha256
    assert AuditEvent.objects.filter(action=Action.SIGN, target_id=str(authorization.public_id)).count() == 1


@pytest.mark.django_db
def test_the_link_goes_by_text_message(cast: Cast) -> None:
    sms.outbox.clear()
    _authorization, link, token = _send(cast, "sms")
    assert link.sent_to == "(503) 555-0142"
    assert sms.outbox[-1].to == "+15035550142"
    assert token in sms.outbox[-1].body
    assert "Quintero" not in sms.outbox[-1].body


@pytest.mark.django_db
def test_a_used_link_is_refused_with_a_clear_page_and_nothing_changes(cast: Cast) -> None:
    authorization, _link, token = _send(cast)
    client = Client()
    url = reverse("consent:sign", args=[token])
    assert client.post(url, SIGN_POST).status_code == 200
    authorization.refresh_from_db()
    before = (authorization.signed_at, authorization.signer_name, authorization.pdf_sha256)
    events = AuditEvent.objects.count()
    again = client.post(url, {**SIGN_POST, "signer_name": "Someone Else"})
    assert again.status_code == 410
    assert "This link was already used" in again.content.decode()
    assert client.get(url).status_code == 410
    authorization.refresh_from_db()
    assert (authorization.signed_at, authorization.signer_name, authorization.pdf_sha256) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_an_expired_link_is_refused_and_nothing_changes(cast: Cast) -> None:
    authorization, _link, token = _send(cast)
    later = timezone.now() + datetime.timedelta(hours=settings.SIGNING_LINK_HOURS, seconds=1)
    with time_machine.travel(later, tick=False):
        response = Client().post(reverse("consent:sign", args=[token]), SIGN_POST)
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    authorization.refresh_from_db()
    assert authorization.status == Status.PENDING
    assert not authorization.pdf_sha256


@pytest.mark.django_db
def test_a_newer_link_withdraws_the_older_one(cast: Cast) -> None:
    authorization, _link, first = _send(cast)
    services.send_link(actor=cast.therapist, authorization=authorization, channel="email", meta=META)
    response = Client().get(reverse("consent:sign", args=[first]))
    assert response.status_code == 410
    assert "no longer works" in response.content.decode()


@pytest.mark.django_db
def test_made_up_tokens_are_refused(cast: Cast) -> None:
    for token in ["x", "A" * 43, "' OR 1=1 --"]:
        response = Client().get(reverse("consent:sign", args=[token]))
        assert response.status_code == 410
        assert "This link does not work" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"agree": ""},
        {"signer_name": ""},
        {"signer_name": "<script>alert(1)</script>"},
        {"signer_name": "x" * 121},
        {"signer_role": "representative", "representative_authority": ""},
        {"drawing": "M 1 1 <path onload=x>"},
        {"drawing": "M 1 1 " + "L 2 2 " * 4000},
    ],
)
def test_bad_signatures_are_refused_and_the_link_still_works(change: dict[str, str], cast: Cast) -> None:
    authorization, _link, token = _send(cast)
    url = reverse("consent:sign", args=[token])
    response = Client().post(url, {**SIGN_POST, **change})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    authorization.refresh_from_db()
    assert authorization.status == Status.PENDING
    assert Client().get(url).status_code == 200


@pytest.mark.django_db
def test_signing_twice_at_once_signs_once(cast: Cast) -> None:
    authorization, link, _token = _send(cast)
    sign(authorization, via="link", link=link)
    with pytest.raises(services.LinkRefused):
        sign(authorization, via="link", link=link)
    with pytest.raises(services.LinkRefused):
        sign(authorization)  # in the office, after the patient signed at home
    assert Authorization.objects.get(pk=authorization.pk).status == Status.SIGNED


@pytest.mark.django_db
def test_the_patient_signs_in_the_office_on_the_clinicians_device(cast: Cast) -> None:
    authorization = prepare(cast)
    client = sign_in(Client(), cast.therapist)
    url = reverse("consent:office_sign", args=[cast.patient.public_id, authorization.public_id])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "signer_role": "representative",
            "signer_name": "Rosa Quintero",
            "representative_authority": "Legal guardian",
            "agree": "on",
        },
    )
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert authorization.signed_via == "office"
    assert authorization.witnessed_by == cast.therapist
    assert authorization.representative_authority == "Legal guardian"
    pdf = client.get(reverse("consent:pdf", args=[cast.patient.public_id, authorization.public_id]))
    assert pdf.status_code == 200
    assert "Legal guardian" in pdf_text(pdf.content)


@pytest.mark.django_db
def test_preparing_checks_the_template_rules(cast: Cast) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="cannot cover"):
        prepare(cast, classes=["part2"])
    with pytest.raises(ValidationError, match="names the clinician"):
        prepare(cast, "psychotherapy_notes", recipient_clinician=None)
    with pytest.raises(ValidationError, match="partner groups"):
        prepare(cast, recipient=cast.lakeside)
    with pytest.raises(ValidationError, match="expiry"):
        prepare(cast, expires_on=None, expiry_event="")
    with pytest.raises(ValidationError, match="already passed"):
        prepare(cast, expires_on=datetime.date(2020, 1, 1))
    assert Authorization.objects.count() == 0


@pytest.mark.django_db
def test_the_new_authorization_form_survives_a_double_submit_and_bad_input(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    url = reverse("consent:new", args=[cast.patient.public_id, "coordination"])
    page = client.get(url).content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token
    data = {
        "form_token": token.group(1),
        "discloser": str(cast.riverbend.public_id),
        "recipient": str(cast.northstar.public_id),
        "mutual": "on",
        "classes": ["appointments", "medications"],
        "purpose": "Coordination of care",
        "expires_on": "2099-01-01",
    }
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Authorization.objects.count() == 1
    bad = client.post(url, {**data, "form_token": "", "recipient": str(cast.lakeside.public_id)})
    assert bad.status_code == 400
    bad = client.post(url, {**data, "purpose": "<script>alert(1)</script>", "form_token": str(cast.patient.public_id)})
    assert bad.status_code == 400
    assert Authorization.objects.count() == 1
