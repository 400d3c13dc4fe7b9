"""The pre-call check in Chromium: camera, microphone, speaker, the signalling
socket and the TURN relay, through the patient's link and for a signed-in
clinician.

Runs against the ASGI server (real WebSockets) inside the loopback-only
network namespace of the browser suite, with Chromium's fake camera and
microphone (the microphone beeps) and Debian's coturn on 127.0.0.1. The ASGI
server is a thread of this process, so the ``settings`` fixture decides which
TURN server the page is given.
"""

from __future__ import annotations

import datetime
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_harness import SignIn
from playwright.sync_api import Locator, Page, expect
from pytest_django import Settings

from tandem.audit.services import SYSTEM
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, build_cast
from tandem.video.models import Attendance
from tandem.video.services import issue_patient_link
from tandem.video.testing import Coturn, running_coturn

# The page gives each automatic check 10 seconds; this leaves room for a busy machine.
CHECK_TIMEOUT_MS = 20_000
# A relay that cannot be reached fails at the page's 10-second limit, not later.
RELAY_GIVES_UP_SECONDS = 15
RELAY_FAILED = "Your browser could not reach the video relay server, so video may not connect from this network."


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    with running_coturn(tmp_path) as server:
        yield server


def _visit(cast: Cast, minutes: int = 5) -> Appointment:
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
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
    return visit


def _patient_token(cast: Cast) -> str:
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=_visit(cast), meta=SYSTEM)
    return token


def _closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening, for UDP or TCP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return int(udp.getsockname()[1])


def _use_turn(settings: Settings, port: int, secret: str) -> None:
    settings.STUN_URLS = []
    settings.TURN_URLS = [f"turn:127.0.0.1:{port}?transport=udp"]
    settings.TURN_SECRET = secret


def _check(page: Page, name: str) -> Locator:
    return page.locator(f'#precheck-list > li[data-check="{name}"]')


def _passes(page: Page, name: str) -> None:
    expect(_check(page, name)).to_have_attribute("data-state", "passed", timeout=CHECK_TIMEOUT_MS)
    expect(_check(page, name).get_by_role("status")).to_contain_text("Passed")


def _answer_the_speaker_check(page: Page) -> None:
    speaker = _check(page, "speaker")
    expect(speaker).to_have_attribute("data-state", "waiting")
    expect(page.get_by_role("button", name="I heard it")).to_be_disabled()
    page.get_by_role("button", name="Play a test sound").click()
    page.get_by_role("button", name="I heard it").click()
    _passes(page, "speaker")


def test_the_patients_check_passes_with_turn_reachable(
    asgi_pages: Callable[[], Page], coturn: Coturn, settings: Settings
) -> None:
    _use_turn(settings, coturn.port, coturn.secret)
    token = _patient_token(build_cast())
    page = asgi_pages()
    page.goto(f"/video/join/{token}/check/")
    expect(page.get_by_role("heading", name="Check your device for video visits", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Back to your visit")).to_have_attribute("href", f"/video/join/{token}/")
    expect(page.locator("#precheck-progress-label")).to_have_text("Not started")

    page.get_by_role("button", name="Start the check").click()
    for name in ("camera", "microphone", "signalling", "relay"):
        _passes(page, name)
    assert page.evaluate("() => document.getElementById('precheck-video').videoWidth") > 0
    assert page.evaluate("() => document.getElementById('precheck-level').value") > 0
    expect(_check(page, "signalling")).to_contain_text(re.compile(r"about \d+ ms there and back"))
    expect(page.locator("#precheck-summary")).to_be_hidden()  # the speaker has not been answered
    expect(page.locator("#precheck-progress-label")).to_have_text("4 of 5 checks finished")

    _answer_the_speaker_check(page)
    summary = page.locator("#precheck-summary")
    expect(summary.get_by_role("heading", name="Ready for your visit")).to_be_visible()
    expect(page.locator("#precheck-progress-label")).to_have_text("5 of 5 checks finished")
    # coturn handed out a relay to the check's opaque reference, never a person's.
    assert coturn.wait_for_log(":check-"), coturn.log_text()
    # Checking is not joining: nobody entered the room.
    assert not Attendance.objects.exists()


def test_an_unreachable_relay_fails_in_plain_words_while_the_rest_passes(
    asgi_pages: Callable[[], Page], settings: Settings
) -> None:
    _use_turn(settings, _closed_port(), "a-secret-nobody-checks")
    token = _patient_token(build_cast())
    page = asgi_pages()
    page.goto(f"/video/join/{token}/check/")
    started = time.monotonic()
    page.get_by_role("button", name="Start the check").click()

    relay = _check(page, "relay")
    expect(relay).to_have_attribute("data-state", "failed", timeout=CHECK_TIMEOUT_MS)
    assert time.monotonic() - started < RELAY_GIVES_UP_SECONDS
    expect(relay.get_by_role("status")).to_contain_text(RELAY_FAILED)
    expect(relay.get_by_role("status")).to_contain_text("What to do: Try another network")
    for name in ("camera", "microphone", "signalling"):
        _passes(page, name)
    _answer_the_speaker_check(page)

    summary = page.locator("#precheck-summary")
    expect(summary.get_by_role("heading", name="Fix this before your visit")).to_be_visible()
    expect(summary).to_contain_text("Video relay server (TURN): Try another network")
    expect(summary).not_to_contain_text("Ready for your visit")


def test_a_clinicians_check_without_turn_warns_and_leads_back_to_the_room(
    asgi_pages: Callable[[], Page], sign_in: SignIn, settings: Settings
) -> None:
    settings.STUN_URLS = []
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""
    cast = build_cast()
    page = asgi_pages()
    sign_in(page, cast.prescriber)
    room = f"/appointments/{_visit(cast, minutes=180).public_id}/video/"
    page.goto(f"/video/check/?next={room}")
    expect(page.get_by_role("link", name="Back to the video visit")).to_have_attribute("href", room)

    page.get_by_role("button", name="Start the check").click()
    for name in ("camera", "microphone", "signalling"):
        _passes(page, name)
    relay = _check(page, "relay")
    expect(relay).to_have_attribute("data-state", "warning")
    expect(relay.get_by_role("status")).to_contain_text(
        "No TURN server is configured; calls from restrictive networks may fail."
    )
    _answer_the_speaker_check(page)
    summary = page.locator("#precheck-summary")
    expect(summary.get_by_role("heading", name="Ready for your visit")).to_be_visible()
    expect(summary).to_contain_text("Good to know:")
    expect(summary).to_contain_text("calls from restrictive networks may fail")
