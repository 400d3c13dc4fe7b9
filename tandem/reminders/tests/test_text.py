"""What a reminder says: the practice and the local time, nothing clinical, in
the patient's zone across daylight-saving changes."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

import pytest
import time_machine
from django.core import mail

from tandem.messaging import sms
from tandem.reminders import services
from tandem.reminders.tests.helpers import appointment, reachable
from tandem.reminders.text import compose, local_when
from tandem.scheduling.models import Kind, Modality
from tandem.test import Cast

UTC = datetime.UTC
H = datetime.timedelta(hours=1)
# Words that would tell a reader of the patient's phone or inbox what care they get, or who they are.
FORBIDDEN = [
    "Psychiatr",
    "psychiatr",
    "Medication",
    "medication",
    "evaluation",
    "Evaluation",
    "Northstar",
    "Priya",
    "Raman",
    "prescriber",
    "MD",
    "Avery",
    "Quintero",
    "therapy",
    "Therapy",
]


@pytest.fixture(autouse=True)
def _empty_sms_outbox() -> Iterator[None]:
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def sent_words(cast: Cast, starts_at: datetime.datetime, at: datetime.datetime, **extra: str) -> list[str]:
    appointment(cast, starts_at, **extra)
    with time_machine.travel(at, tick=False):
        assert services.send_due_reminders(at) == 2
    message = mail.outbox[-1]
    return [message.subject, message.body, sms.outbox[-1].body]


@pytest.mark.parametrize("kind", [Kind.PSYCH_EVAL, Kind.MED_MANAGEMENT, Kind.THERAPY])
@pytest.mark.django_db
def test_no_clinical_detail_and_no_names_only_the_practice_and_the_local_time(cast: Cast, kind: str) -> None:
    reachable(cast)
    # Monday March 9, 2026, 17:00 UTC: 10:00 AM in Portland, on the first Monday of daylight time.
    start = datetime.datetime(2026, 3, 9, 17, tzinfo=UTC)
    subject, email, text = sent_words(cast, start, start - 2 * H, kind=kind)
    assert cast.prescriber.full_name == "Priya Raman"
    assert cast.patient.full_name == "Avery Quintero"
    for words in (subject, email, text):
        # The video link's random token can hold any letters ("MD" among them): read around it.
        prose = re.sub(r"https?://\S+", "<link>", words)
        for forbidden in FORBIDDEN:
            assert forbidden not in prose
        assert "Riverbend Counseling" in words
    for words in (email, text):
        assert "Monday, March 9 at 10:00 AM PDT" in words
        assert "video visit" in words
    assert "Reply STOP to opt out." in text
    assert "To stop these email reminders, contact Riverbend Counseling." in email
    # One SMS segment without a link; a video visit's link makes it two (306 characters).
    assert len(text) <= 306 and len(text.split(" Join: ")[0]) <= 160


@pytest.mark.django_db
def test_a_video_visits_reminder_carries_a_link_to_its_own_room(cast: Cast) -> None:
    import re

    from tandem.access import policy

    reachable(cast)
    start = datetime.datetime(2026, 3, 9, 17, tzinfo=UTC)
    _subject, email, text = sent_words(cast, start, start - 2 * H)
    tokens = {m for words in (email, text) for m in re.findall(r"/video/join/([A-Za-z0-9_-]+)/", words)}
    assert len(tokens) == 2  # one link per message; both keep working
    for token in tokens:
        link = policy.patient_link_for(token)
        assert link.room.appointment.starts_at == start and link.revoked_at is None


@pytest.mark.django_db
def test_the_48_hour_reminder_sent_before_the_clocks_change_gives_the_time_after(cast: Cast) -> None:
    reachable(cast)
    start = datetime.datetime(2026, 3, 9, 17, tzinfo=UTC)
    # Sent on Saturday March 7 (still PST) for Monday (PDT).
    _, email, text = sent_words(cast, start, start - 48 * H)
    assert "Monday, March 9 at 10:00 AM PDT" in email
    assert "Monday, March 9 at 10:00 AM PDT" in text


@pytest.mark.django_db
def test_after_the_clocks_go_back_the_same_utc_hour_is_an_hour_earlier_locally(cast: Cast) -> None:
    reachable(cast)
    start = datetime.datetime(2026, 11, 2, 17, tzinfo=UTC)  # Monday after November 1
    _, email, text = sent_words(cast, start, start - 2 * H)
    assert "Monday, November 2 at 9:00 AM PST" in email
    assert "Monday, November 2 at 9:00 AM PST" in text


@pytest.mark.django_db
def test_the_time_is_given_in_the_patients_zone_not_the_clinicians(cast: Cast) -> None:
    patient = reachable(cast)
    patient.timezone = "America/New_York"
    patient.save(update_fields=["timezone"])
    start = datetime.datetime(2026, 6, 8, 17, tzinfo=UTC)
    _, email, text = sent_words(cast, start, start - 2 * H)
    assert "Monday, June 8 at 1:00 PM EDT" in email
    assert "Monday, June 8 at 1:00 PM EDT" in text


@pytest.mark.django_db
def test_an_in_person_visit_is_a_visit_and_spanish_speakers_get_spanish(cast: Cast) -> None:
    patient = reachable(cast)
    patient.preferred_language = "es"
    patient.save(update_fields=["preferred_language"])
    start = datetime.datetime(2026, 6, 8, 17, tzinfo=UTC)
    subject, email, text = sent_words(cast, start, start - 2 * H, modality=Modality.IN_PERSON)
    assert subject == "Recordatorio de su cita con Riverbend Counseling"
    assert "Le recordamos su cita con Riverbend Counseling el lunes 8 de junio a las 10:00 a. m. PDT." in email
    assert "Responda STOP" in text
    assert "video" not in email


@pytest.mark.django_db
def test_each_email_has_a_message_id_of_its_own_reminder(cast: Cast) -> None:
    reachable(cast)
    start = datetime.datetime(2026, 6, 8, 17, tzinfo=UTC)
    sent_words(cast, start, start - 2 * H)
    reminder = services.Reminder.objects.get(channel="email")
    assert mail.outbox[-1].extra_headers["Message-ID"] == f"<reminder-{reminder.public_id}@tandem.invalid>"


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        (datetime.datetime(2026, 3, 8, 9, 59, tzinfo=UTC), "America/Los_Angeles", "Sunday, March 8 at 1:59 AM PST"),
        (datetime.datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "America/Los_Angeles", "Sunday, March 8 at 3:00 AM PDT"),
        (datetime.datetime(2026, 11, 1, 8, 30, tzinfo=UTC), "America/Los_Angeles", "Sunday, November 1 at 1:30 AM PDT"),
        (datetime.datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "America/Los_Angeles", "Sunday, November 1 at 1:30 AM PST"),
        (datetime.datetime(2026, 7, 1, 19, 0, tzinfo=UTC), "America/Phoenix", "Wednesday, July 1 at 12:00 PM MST"),
        (datetime.datetime(2026, 7, 1, 4, 5, tzinfo=UTC), "America/Denver", "Tuesday, June 30 at 10:05 PM MDT"),
        (datetime.datetime(2026, 1, 1, 6, 0, tzinfo=UTC), "America/Chicago", "Thursday, January 1 at 12:00 AM CST"),
    ],
)
def test_local_when(instant: datetime.datetime, zone: str, expected: str) -> None:
    assert local_when(instant, zone) == expected


def test_an_audio_visit_is_a_visit() -> None:
    words = compose(
        practice="Riverbend Counseling",
        starts_at=datetime.datetime(2026, 7, 1, 19, tzinfo=UTC),
        zone="America/Los_Angeles",
        modality=Modality.AUDIO,
        language="ko",
    )
    assert "reminder of your visit on Wednesday, July 1 at 12:00 PM PDT" in words.sms
