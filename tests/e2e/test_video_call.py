"""A real two-party video call in Chromium, through the room's signalling:
the prescriber in the room, the patient through their link, admitted from the
waiting room. Each side decodes the other's video.

Runs against the ASGI server with the real WebSocket, inside the loopback-only
network namespace of the browser suite, with Chromium's fake camera and
microphone; media goes browser to browser over 127.0.0.1.
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

CALL_TIMEOUT_MS = 20_000
REMOTE_PLAYING = """() => {
  const v = document.querySelector('#remote-videos video');
  return !!v && v.videoWidth > 0 && v.currentTime > 0;
}"""


def _sees_the_other(page: Page) -> None:
    page.wait_for_function(REMOTE_PLAYING, timeout=CALL_TIMEOUT_MS)
    before = page.evaluate("() => document.querySelector('#remote-videos video').currentTime")
    page.wait_for_function(
        f"() => document.querySelector('#remote-videos video').currentTime > {before}", timeout=CALL_TIMEOUT_MS
    )
    wait_until(page, "() => window.tandemRoom.framesDecoded().then(f => f.length === 1 && f[0] > 0)", CALL_TIMEOUT_MS)


def test_a_two_party_call_between_the_prescriber_and_the_patients_link(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    visit = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=cast.therapist,
    )
    Participant.objects.create(appointment=visit, user=cast.prescriber, starts_at=start, ends_at=visit.ends_at)
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=visit, meta=SYSTEM)

    today, prescriber, patient = asgi_pages(), asgi_pages(), asgi_pages()
    sign_in(today, cast.prescriber)
    expect(today.locator("#video-waiting")).to_contain_text("Nobody is waiting for you.")
    today.wait_for_function("() => document.body.dataset.liveState === 'open'")
    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"/appointments/{visit.public_id}/video/")
    expect(prescriber.get_by_role("heading", name="Video visit", level=1)).to_be_visible()

    patient.goto(f"/video/join/{token}/")
    expect(patient.locator("#room-status")).to_have_text("Waiting for your clinician to let you in…")
    # The prescriber's "today" page, open elsewhere, shows who is waiting without a reload.
    expect(today.locator("#video-waiting")).to_contain_text(f"{cast.patient.display_name} is waiting")

    # A reload in the waiting room keeps the patient's place there: still one
    # person waiting, not a second arrival.
    expect(prescriber.locator("#waiting-list li")).to_have_count(1)
    patient.reload()
    expect(patient.locator("#room-status")).to_have_text("Waiting for your clinician to let you in…")
    expect(prescriber.locator("#waiting-list li")).to_have_count(1)
    expect(today.locator("#video-waiting li")).to_have_count(1)

    prescriber.get_by_role("button", name=re.compile(r"^Let .+ in$")).click()
    _sees_the_other(prescriber)
    _sees_the_other(patient)
    expect(patient.locator("#room-status")).to_have_text("Connected")

    # A reload keeps the patient's place: straight back into the call, no
    # waiting room, and a fresh connection on both sides.
    patient.reload()
    expect(patient.locator("#room-status")).to_have_text("Connected", timeout=CALL_TIMEOUT_MS)
    expect(prescriber.locator("#remote-videos figure")).to_have_count(1)
    expect(prescriber.locator("#waiting-list li")).to_have_count(0)
    _sees_the_other(patient)
    _sees_the_other(prescriber)
