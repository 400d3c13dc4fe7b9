"""The care team's thread: messages, mentions, attachments, read status,
corrections and retractions, and a consult request that ends as a booking."""

from __future__ import annotations

import datetime
import io
import uuid

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.audit.services import RequestMeta
from tandem.messaging import threads
from tandem.messaging.models import Attachment, ConsultRequest, Message, Notification
from tandem.scheduling.models import Appointment, WeeklyHours
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _url(cast: Cast) -> str:
    return reverse("messaging:thread", args=[cast.patient.public_id])


def _post(cast: Cast, who: object, body: str, files: list[SimpleUploadedFile] | None = None) -> Message:
    message, created = threads.post(
        actor=who,  # type: ignore[arg-type]
        patient=cast.patient,
        body=body,
        files=files or [],
        form_token=uuid.uuid4(),
        meta=META,
    )
    assert created
    return message


@pytest.fixture
def shared(cast: Cast) -> Cast:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    return cast


@pytest.mark.django_db
def test_the_team_talks_with_mentions_unread_counts_and_read_status(shared: Cast) -> None:
    cast = shared
    therapist, prescriber = sign_in(Client(), cast.therapist), sign_in(Client(), cast.prescriber)
    empty = page_text(therapist.get(_url(cast)))
    assert "No messages yet." in empty and cast.prescriber.display_name in empty
    token = str(uuid.uuid4())
    form = {"form_token": token, "body": f"@{cast.prescriber.display_name} she reports panic on the bus again."}
    assert therapist.post(_url(cast), form).status_code == 302
    assert therapist.post(_url(cast), form).status_code == 302  # a double submit sends one message
    message = Message.objects.get()
    assert list(message.mentions.all()) == [cast.prescriber]
    notice = Notification.objects.get(recipient=cast.prescriber)
    assert notice.kind == "thread_mention" and "mentioned you in a message about a patient" in notice.text
    assert cast.patient.first_name not in notice.text and "panic" not in notice.text
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    assert "1 unread" in page_text(prescriber.get(chart))
    assert "Not seen yet" in page_text(therapist.get(_url(cast)))
    seen = page_text(prescriber.get(_url(cast)))
    assert "panic on the bus" in seen
    assert "1 unread" not in page_text(prescriber.get(chart))
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert f"Seen by {cast.prescriber.display_name}" in page_text(therapist.get(_url(cast)))
    reply = _post(cast, cast.prescriber, "Holding the dose; try interoceptive exposure?")
    assert Notification.objects.get(recipient=cast.therapist).kind == "thread_message"
    assert threads.unread_count(cast.therapist, cast.patient) == 1 and reply.organization == cast.northstar


@pytest.mark.django_db
def test_attachments_are_checked_by_content_and_size(shared: Cast) -> None:
    cast = shared
    message = _post(
        cast,
        cast.therapist,
        "Discharge summary and a sleep diary.",
        [SimpleUploadedFile("summary.pdf", PDF, "application/pdf"), SimpleUploadedFile("diary.png", PNG, "image/png")],
    )
    assert sorted(a.content_type for a in message.attachments.all()) == ["application/pdf", "image/png"]
    for name, data, words in [
        ("notes.pdf", b"MZ\x90\x00 not a pdf", "only PDF files and PNG or JPEG images"),
        ("page.html", b"<html><script>alert(1)</script>", "only PDF files and PNG or JPEG images"),
        ("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "at most 10 MB"),
    ]:
        with pytest.raises(threads.ThreadError, match=words):
            _post(cast, cast.therapist, "See attached.", [SimpleUploadedFile(name, data, "application/pdf")])
    assert Message.objects.count() == 1 and Attachment.objects.count() == 2  # nothing half-written
    client = sign_in(Client(), cast.prescriber)
    pdf = message.attachments.get(content_type="application/pdf")
    response = client.get(reverse("messaging:attachment", args=[cast.patient.public_id, pdf.public_id]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf" and "attachment" in response["Content-Disposition"]
    # Through the page: a bad file is a clear error, and the text typed stays in the form.
    bad = client.post(
        _url(cast),
        {"form_token": str(uuid.uuid4()), "body": "Keep this text", "files": io.BytesIO(b"GIF89a")},
    )
    assert bad.status_code == 400 and "only PDF files" in page_text(bad) and "Keep this text" in page_text(bad)


@pytest.mark.django_db
def test_messages_can_be_corrected_for_five_minutes_never_deleted_and_retracted_with_a_marker(shared: Cast) -> None:
    cast = shared
    sent_at = timezone.now()
    with time_machine.travel(sent_at, tick=False):
        message = _post(cast, cast.therapist, "Sertraline 50 mg")
    client = sign_in(Client(), cast.therapist)
    edit = reverse("messaging:message_edit", args=[cast.patient.public_id, message.public_id])
    with time_machine.travel(sent_at + datetime.timedelta(minutes=4)):
        assert client.post(edit, {"body": "Sertraline 100 mg"}).status_code == 302
    message.refresh_from_db()
    assert message.body == "Sertraline 100 mg" and message.edited_at is not None
    with time_machine.travel(sent_at + datetime.timedelta(minutes=6)):
        late = client.post(edit, {"body": "Sertraline 150 mg"})
        assert late.status_code == 400 and "five minutes" in page_text(late)
    message.refresh_from_db()
    assert message.body == "Sertraline 100 mg"
    # Someone else's message cannot be edited or retracted, even by a crafted post.
    prescriber = sign_in(Client(), cast.prescriber)
    assert prescriber.post(edit, {"body": "Mine now"}).status_code == 404
    retract = reverse("messaging:message_retract", args=[cast.patient.public_id, message.public_id])
    assert prescriber.post(retract).status_code == 404
    # There is no way to delete; a retraction keeps the row and shows a marker.
    assert client.post(retract).status_code == 302
    message.refresh_from_db()
    assert message.retracted_at is not None and Message.objects.filter(pk=message.pk).exists()
    page = page_text(prescriber.get(_url(cast)))
    assert f"Retracted by {cast.therapist.display_name}" in page and "Sertraline 100 mg" not in page
    with pytest.raises(threads.ThreadError):
        threads.edit(actor=cast.therapist, message=message, body="Back again", meta=META)


@pytest.mark.django_db
def test_without_consent_the_thread_is_closed_to_both_sides(cast: Cast) -> None:
    for who in (cast.therapist, cast.prescriber):
        assert sign_in(Client(), who).get(_url(cast)).status_code == 404
    with pytest.raises(threads.ThreadError):
        _post(cast, cast.therapist, "Hello?")
    authorization = grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    assert sign_in(Client(), cast.prescriber).get(_url(cast)).status_code == 200
    type(authorization).objects.filter(pk=authorization.pk).update(revoked_at=timezone.now())
    assert sign_in(Client(), cast.prescriber).get(_url(cast)).status_code == 404


@pytest.mark.django_db
def test_a_consult_request_ends_as_a_booked_provider_consult(shared: Cast) -> None:
    cast = shared
    for person, org in ((cast.therapist, cast.riverbend), (cast.prescriber, cast.northstar)):
        for weekday in range(7):
            WeeklyHours.objects.create(
                clinician=person,
                organization=org,
                weekday=weekday,
                start=datetime.time(0),
                end=datetime.time(23, 59),
                timezone="UTC",
            )
    soon = (timezone.now() + datetime.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    options = [soon, soon + datetime.timedelta(hours=2)]
    therapist = sign_in(Client(), cast.therapist)
    ask = reverse("messaging:consult_new", args=[cast.patient.public_id])
    assert "Request a provider consult" in page_text(therapist.get(ask))
    consult, _ = threads.request_consult(
        actor=cast.therapist,
        patient=cast.patient,
        of=cast.prescriber,
        topic="Panic returned; dose or therapy?",
        times=options,
        form_token=uuid.uuid4(),
        meta=META,
    )
    assert Notification.objects.filter(recipient=cast.prescriber, kind="consult_request").exists()
    prescriber = sign_in(Client(), cast.prescriber)
    page = page_text(prescriber.get(_url(cast)))
    assert "Accept and book" in page and "Panic returned" in page
    answer = reverse("messaging:consult_answer", args=[cast.patient.public_id, consult.public_id])
    # The therapist cannot answer their own request; a time not proposed is refused.
    assert therapist.post(answer, {"answer": "accept", "start": options[1].isoformat()}).status_code == 404
    prescriber.post(answer, {"answer": "accept", "start": (soon + datetime.timedelta(hours=5)).isoformat()})
    assert not Appointment.objects.exists()
    booked = prescriber.post(answer, {"answer": "accept", "start": options[1].isoformat()})
    assert booked.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.appointment_type.kind == "consult" and appointment.starts_at == options[1]
    assert {p.user for p in appointment.participants.all()} == {cast.therapist, cast.prescriber}
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=30)
    consult.refresh_from_db()
    assert consult.status == "booked" and consult.appointment == appointment
    again = prescriber.post(answer, {"answer": "accept", "start": options[1].isoformat()})  # a double submit
    assert again.status_code == 302 and Appointment.objects.count() == 1
    assert "Booked" in page_text(therapist.get(_url(cast)))
    assert ConsultRequest.objects.count() == 1


@pytest.mark.django_db
def test_thread_pages_have_query_budgets_that_do_not_grow_with_messages(shared: Cast) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cast = shared
    client = sign_in(Client(), cast.therapist)

    def used(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        return len(queries)

    _post(cast, cast.prescriber, "First.", [SimpleUploadedFile("a.pdf", PDF, "application/pdf")])
    used(_url(cast))  # the first visit records how far the reader has read
    _post(cast, cast.prescriber, "Second.")
    few = used(_url(cast))
    for n in range(60):
        _post(cast, cast.prescriber if n % 2 else cast.therapist, f"Message {n} @{cast.prescriber.display_name}")
    many = used(_url(cast))
    assert many == few and many <= 32, (few, many)
    # The newest 50 show; the earlier ones are a page away.
    newest = page_text(client.get(_url(cast)))
    assert "Message 59" in newest and "Message 9 " not in newest and "Earlier messages" in newest
    earlier = page_text(client.get(_url(cast), {"page": 2}))
    assert "First." in earlier and "Message 59" not in earlier
    mine = Message.objects.filter(author=cast.therapist).latest("created_at")
    budgets = {
        reverse("messaging:inbox"): 10,
        reverse("messaging:consult_new", args=[cast.patient.public_id]): 30,
        reverse("messaging:message_edit", args=[cast.patient.public_id, mine.public_id]): 24,
    }
    for url, budget in budgets.items():
        assert used(url) <= budget, (url, used(url))
