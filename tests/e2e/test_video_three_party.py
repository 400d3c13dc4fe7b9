"""A three-party mesh call in Chromium: the therapist's office device in room
mode (the patient sits with the therapist), the prescriber far away, and a
third participant through the patient's link. Every page decodes both others.

Like every browser test it runs in the loopback-only namespace with Chromium's
fake camera and microphone, against the ASGI server and its real WebSockets.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from e2e_harness import SignIn, wait_until
from playwright.sync_api import Page, expect

from tandem.audit.services import SYSTEM
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import build_cast
from tandem.video.services import issue_patient_link

CALL_TIMEOUT_MS = 30_000
BOTH_PLAYING = """() => {
  const videos = Array.from(document.querySelectorAll('#remote-videos video'));
  return videos.length === 2 && videos.every(v => v.videoWidth > 0 && v.currentTime > 0);
}"""
BOTH_DECODED = "() => window.tandemRoom.framesDecoded().then(f => f.length === 2 && f.every(n => n > 0))"


def test_a_three_party_call_with_the_patient_in_the_therapists_office(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    kind = next(t for t in ensure_types(cast.riverbend) if t.kind == "co_treatment")
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    visit = Appointment.objects.create(
        organization=cast.riverbend,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=60),
        modality="video_office",
        created_by=cast.therapist,
    )
    for person in (cast.therapist, cast.prescriber):
        Participant.objects.create(appointment=visit, user=person, starts_at=start, ends_at=visit.ends_at)
    _link, token = issue_patient_link(actor=cast.therapist, appointment=visit, meta=SYSTEM)

    office, prescriber, third = asgi_pages(), asgi_pages(), asgi_pages()
    sign_in(office, cast.therapist)
    office.goto(f"/appointments/{visit.public_id}/video/")
    expect(office.locator("#room-status")).not_to_have_text("Connecting…")
    office.get_by_label(re.compile(r"is here with me, on this device")).check()

    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"/appointments/{visit.public_id}/video/")
    # The office device carries both names.
    expect(prescriber.locator("#remote-videos figcaption")).to_have_text(
        [f"{cast.therapist.display_name} with {cast.patient.first_name}"], timeout=CALL_TIMEOUT_MS
    )

    third.goto(f"/video/join/{token}/")
    expect(third.locator("#room-status")).to_have_text("Waiting for your clinician to let you in…")
    office.get_by_role("button", name=re.compile(r"^Let .+ in$")).click()

    for page in (office, prescriber, third):
        page.wait_for_function(BOTH_PLAYING, timeout=CALL_TIMEOUT_MS)
        wait_until(page, BOTH_DECODED, CALL_TIMEOUT_MS)

    # The patient is marked as in the office, and a patient device joined too:
    # the clinicians are warned of echo, and one click silences that device.
    warning = office.locator("#echo-warning")
    expect(warning).to_contain_text("sound may echo")
    warning.get_by_role("button", name=re.compile(r"^Mute .+ microphone and speaker$")).click()
    expect(third.locator("#room-status")).to_have_text(
        "Your clinician muted this device's microphone and speaker to stop an echo."
    )
    assert third.evaluate("() => Array.from(document.querySelectorAll('#remote-videos video')).every(v => v.muted)")
