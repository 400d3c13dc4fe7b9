"""Revocation, expiry, emergency access and the accounting of disclosures."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.audit.models import Action, AuditEvent
from tandem.consent import services
from tandem.consent.models import BreakGlass, Disclosure
from tandem.consent.tests.helpers import META, pdf_text
from tandem.messaging.models import Notification
from tandem.records.models import Document, PsychotherapyNote
from tandem.test import Cast, grant_authorization, sign_in


def _records(cast: Cast) -> tuple[Document, PsychotherapyNote]:
    document = Document.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        info_class="medications",
        title="Medication list from primary care",
        body="Sertraline 50 mg daily",
        occurred_on=datetime.date(2026, 2, 1),
    )
    note = PsychotherapyNote.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        body="private process notes",
        occurred_on=datetime.date(2026, 2, 1),
    )
    return document, note


@pytest.mark.django_db
def test_revocation_takes_effect_on_the_next_request_and_keeps_past_disclosures(cast: Cast) -> None:
    document, _note = _records(cast)
    authorization = grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    prescriber = sign_in(Client(), cast.prescriber)
    doc_url = reverse("records:document", args=[cast.patient.public_id, document.public_id])
    assert prescriber.get(doc_url).status_code == 200
    assert Disclosure.objects.count() == 1

    admin = sign_in(Client(), cast.admin)
    response = admin.post(
        reverse("consent:revoke", args=[cast.patient.public_id, authorization.public_id]),
        {"note": "Revocation letter received"},
    )
    assert response.status_code == 302
    assert prescriber.get(doc_url).status_code == 404
    chart = prescriber.get(reverse("patients:chart", args=[cast.patient.public_id])).content.decode()
    assert "Medication list" not in chart
    assert "Some information is not shared with you." in chart
    # Revoking does not undo what was disclosed: the record of it stays.
    assert Disclosure.objects.count() == 1
    # The prescriber is told, with no health information and no name.
    notice = Notification.objects.get(recipient=cast.prescriber, kind="consent_revoked")
    for secret in ["Quintero", "Avery", "Medication", "Sertraline"]:
        assert secret not in notice.text
    assert AuditEvent.objects.filter(action=Action.REVOKE, target_id=str(authorization.public_id)).exists()
    # Revoking again is refused, and changes nothing.
    again = admin.post(
        reverse("consent:revoke", args=[cast.patient.public_id, authorization.public_id]), {"note": "again"}
    )
    assert again.status_code == 302
    # Both ways: each organization's clinicians on the team were told once.
    told = Notification.objects.filter(kind="consent_revoked")
    assert sorted(n.recipient.email for n in told) == sorted([cast.prescriber.email, cast.therapist.email])


@pytest.mark.django_db
def test_an_authorization_expires_at_the_end_of_its_last_day_and_by_event(cast: Cast) -> None:
    document, _note = _records(cast)
    last_day = datetime.date(2026, 6, 30)
    with time_machine.travel(datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC), tick=False):
        authorization = grant_authorization(cast.patient, cast.riverbend, cast.northstar, expires_on=last_day)
    # 23:30 in Portland on the last day is still in force; 00:30 the next day is not.
    with time_machine.travel(datetime.datetime(2026, 7, 1, 6, 30, tzinfo=datetime.UTC), tick=False):
        assert policy.visible_documents(policy.sharing_for(cast.prescriber, cast.patient)) == [document]
    with time_machine.travel(datetime.datetime(2026, 7, 1, 7, 30, tzinfo=datetime.UTC), tick=False):
        assert policy.visible_documents(policy.sharing_for(cast.prescriber, cast.patient)) == []
        assert authorization.state_at() == "expired"

    event = grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    event.expiry_event = "When treatment at Northstar ends"
    event.save()
    assert policy.visible_documents(policy.sharing_for(cast.prescriber, cast.patient)) == [document]
    services.record_expiry_event(actor=cast.admin, authorization=event, meta=META)
    assert policy.visible_documents(policy.sharing_for(cast.prescriber, cast.patient)) == []


@pytest.mark.django_db
def test_emergency_access_expires_on_time_is_audited_and_never_shows_psychotherapy_notes(cast: Cast) -> None:
    document, note = _records(cast)
    client = sign_in(Client(), cast.prescriber)
    chart_url = reverse("patients:chart", args=[cast.patient.public_id])
    doc_url = reverse("records:document", args=[cast.patient.public_id, document.public_id])
    note_url = reverse("records:pn", args=[cast.patient.public_id, note.public_id])
    assert client.get(doc_url).status_code == 404
    assert "Emergency access" in client.get(chart_url).content.decode()

    url = reverse("consent:break_glass", args=[cast.patient.public_id])
    assert client.post(url, {"reason": "too short"}).status_code == 400
    assert not BreakGlass.objects.exists()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert (
            client.post(url, {"reason": "Patient called in crisis; I need the medication history."}).status_code == 302
        )
    grant = BreakGlass.objects.get()
    assert grant.expires_at - grant.started_at == datetime.timedelta(minutes=settings.BREAK_GLASS_MINUTES)
    assert AuditEvent.objects.filter(action=Action.EMERGENCY_ACCESS, actor_id=cast.prescriber.pk).count() == 1
    alert = Notification.objects.get(recipient=cast.admin, kind="break_glass")
    assert "Quintero" not in alert.text

    just_before = grant.expires_at - datetime.timedelta(seconds=1)
    with time_machine.travel(just_before, tick=False):
        client = sign_in(Client(), cast.prescriber)  # a fresh session: the idle logoff is not under test
        assert client.get(doc_url).status_code == 200
        assert client.get(note_url).status_code == 404  # never under emergency access
        page = client.get(chart_url).content.decode()
        assert "Medication list" in page
        assert "private process notes" not in page
        assert client.get(url).status_code == 404  # already open: no second grant
    assert Disclosure.objects.filter(basis="emergency", break_glass=grant).exists()
    with time_machine.travel(grant.expires_at, tick=False):
        client = sign_in(Client(), cast.prescriber)
        assert client.get(doc_url).status_code == 404
        assert "Medication list" not in client.get(chart_url).content.decode()

    # Every use waits on the review page until an admin signs it off.
    admin = sign_in(Client(), cast.admin)
    review = admin.get(reverse("consent:break_glass_review")).content.decode()
    assert "Patient called in crisis" in review
    signoff = reverse("consent:break_glass_signoff", args=[grant.public_id])
    assert admin.post(signoff, {"note": ""}).status_code == 302
    assert BreakGlass.objects.get().reviewed_at is None
    assert admin.post(signoff, {"note": "Confirmed with the clinician."}).status_code == 302
    grant.refresh_from_db()
    assert grant.reviewed_by == cast.admin
    assert AuditEvent.objects.filter(action=Action.REVIEW, target_id=str(grant.public_id)).exists()


@pytest.mark.django_db
def test_a_disclosure_is_written_for_each_cross_organization_read_and_the_report_lists_them(cast: Cast) -> None:
    document, _note = _records(cast)
    authorization = grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    pid = cast.patient.public_id
    therapist = sign_in(Client(), cast.therapist)
    therapist.get(reverse("patients:chart", args=[pid]))
    therapist.get(reverse("records:document", args=[pid, document.public_id]))
    assert Disclosure.objects.count() == 0  # the practice's own records, read inside the practice

    prescriber = sign_in(Client(), cast.prescriber)
    prescriber.get(reverse("patients:chart", args=[pid]))
    prescriber.get(reverse("records:document", args=[pid, document.public_id]))
    prescriber.get(reverse("records:summary_pdf", args=[pid]))
    rows = list(Disclosure.objects.order_by("id"))
    assert [r.channel for r in rows] == ["view", "view", "pdf"]
    chart_row, document_row, pdf_row = rows
    assert set(chart_row.classes) == {"demographics", "medications"}
    assert f"document:{document.public_id}" in chart_row.records
    assert document_row.classes == ["medications"]
    assert document_row.records == [f"document:{document.public_id}"]
    for row in rows:
        assert row.authorization == authorization
        assert (row.source, row.recipient, row.recipient_user) == (cast.riverbend, cast.northstar, cast.prescriber)
        assert row.basis == "authorization"

    admin = sign_in(Client(), cast.admin)
    report = admin.get(reverse("consent:disclosures", args=[pid])).content.decode()
    assert report.count("Priya Raman") >= 3
    assert "Medication list" in report
    pdf = admin.get(reverse("consent:disclosures_pdf", args=[pid]))
    text = pdf_text(pdf.content)
    assert "Accounting of disclosures" in text
    assert text.count("Priya Raman") == 3
    assert "Northstar Psychiatry" in text


@pytest.mark.django_db
def test_the_part2_notice_travels_with_part2_records(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar, kind="part2", mutual=False)
    document = Document.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        info_class="progress_notes",
        part2=True,
        title="Substance-use counseling summary",
        body="Summary",
        occurred_on=datetime.date(2026, 2, 1),
    )
    url = reverse("records:document", args=[cast.patient.public_id, document.public_id])
    shared = sign_in(Client(), cast.prescriber).get(url).content.decode()
    assert "42 CFR Part 2" in shared
    assert "Notice about redisclosure" in shared
    own = sign_in(Client(), cast.therapist).get(url).content.decode()
    assert "Notice about redisclosure" not in own
    pdf = sign_in(Client(), cast.prescriber).get(reverse("records:summary_pdf", args=[cast.patient.public_id]))
    assert "42 CFR Part 2" in pdf_text(pdf.content)


@pytest.mark.django_db
def test_the_practice_chooses_whether_treatment_sharing_needs_an_authorization(cast: Cast) -> None:
    document, note = _records(cast)
    sharing = policy.sharing_for(cast.prescriber, cast.patient)
    assert not sharing.sees("medications", cast.riverbend.pk)
    cast.riverbend.treatment_sharing_requires_authorization = False
    cast.riverbend.save()
    cast.patient.refresh_from_db()
    sharing = policy.sharing_for(cast.prescriber, cast.patient)
    assert policy.visible_documents(sharing) == [document]
    assert sharing.grant("medications", cast.riverbend.pk).basis == "treatment"  # type: ignore[union-attr]
    assert not sharing.sees("part2", cast.riverbend.pk)
    assert policy.visible_psychotherapy_notes(sharing) == []


@pytest.mark.django_db
def test_the_practice_admin_sets_the_sharing_policy(cast: Cast) -> None:
    url = reverse("organizations:sharing_policy", args=[cast.riverbend.public_id])
    admin = sign_in(Client(), cast.admin, sudo=True)
    assert admin.post(url, {"requires_authorization": "maybe"}).status_code == 302
    cast.riverbend.refresh_from_db()
    assert cast.riverbend.treatment_sharing_requires_authorization
    assert admin.post(url, {"requires_authorization": "no"}).status_code == 302
    cast.riverbend.refresh_from_db()
    assert not cast.riverbend.treatment_sharing_requires_authorization
    assert AuditEvent.objects.filter(target_type="sharing_policy", actor_id=cast.admin.pk).count() == 1
    # Without a fresh identity check, nothing changes.
    plain = sign_in(Client(), cast.admin)
    assert plain.post(url, {"requires_authorization": "yes"})["Location"].startswith(reverse("accounts:sudo"))
    cast.riverbend.refresh_from_db()
    assert not cast.riverbend.treatment_sharing_requires_authorization
    # A group has no patients of its own to set this for.
    group = sign_in(Client(), cast.group_admin, sudo=True)
    group.post(
        reverse("organizations:sharing_policy", args=[cast.northstar.public_id]), {"requires_authorization": "no"}
    )
    cast.northstar.refresh_from_db()
    assert cast.northstar.treatment_sharing_requires_authorization
