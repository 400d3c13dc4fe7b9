"""One participant drops off the network for five seconds in the middle of a
call, and the call recovers by itself: media resumes within ten seconds, with
no rejoin (the same connection, the same socket, the same tile).

The patient runs in a browser of their own, and going offline means freezing
that browser's network service, the Chromium process that owns every socket
of the browser: its UDP media and ICE checks, and its WebSocket to the server.
For five seconds nothing leaves or reaches the patient's browser, as when a
laptop's Wi-Fi drops, while the page itself keeps running. (Chromium's
offline emulation would not do: it stops HTTP and WebSockets, not WebRTC.)
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    BrowserProblems,
    SignIn,
    assert_receiving_video,
    frames_decoded,
    new_context,
    new_page,
    video_visit,
    wait_until,
)
from playwright.sync_api import Browser, Page, Playwright, expect

from tandem.audit.services import SYSTEM
from tandem.test import build_cast
from tandem.video.models import Presence, Role
from tandem.video.services import issue_patient_link

OFFLINE_SECONDS = 5
RECOVERY_MS = 10_000
NETWORK_SERVICE = b"--utility-sub-type=network.mojom.NetworkService"


def _network_services() -> set[int]:
    """The process ids of every running Chromium network service."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if NETWORK_SERVICE in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
        except OSError:  # the process ended while we looked
            continue
    return found


@pytest.fixture
def own_browser(playwright: Playwright, browser: Browser) -> Iterator[tuple[Browser, int]]:
    """A second Chromium, and the pid of its network service. The suite's
    shared browser is running already, so the new network service is the
    one that was not there before."""
    before = _network_services()
    second = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        deadline = time.monotonic() + 10
        while not (new := _network_services() - before):
            assert time.monotonic() < deadline, "the second browser's network service did not start"
            time.sleep(0.05)
        assert len(new) == 1, f"expected one new network service, found {sorted(new)}"
        yield second, new.pop()
    finally:
        second.close()


def test_a_participant_offline_for_five_seconds_recovers_without_rejoining(
    asgi_pages: Callable[[], Page],
    asgi_live_server: str,
    own_browser: tuple[Browser, int],
    browser_problems: BrowserProblems,
    sign_in: SignIn,
) -> None:
    cast = build_cast()
    visit = video_visit(cast.northstar, cast.patient, [cast.prescriber])
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=visit, meta=SYSTEM)

    prescriber = asgi_pages()
    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"/appointments/{visit.public_id}/video/")

    patient_browser, network_service = own_browser
    patient_context = new_context(patient_browser, asgi_live_server, browser_problems, stub_live_socket=False)
    patient = new_page(patient_context, browser_problems)
    patient.goto(f"/video/join/{token}/")
    prescriber.get_by_role("button", name=re.compile(r"^Let .+ in$")).click()
    for page in (prescriber, patient):
        assert_receiving_video(page)
    # Marks on the connection's tile and on the page: a rejoin would replace both.
    for page in (prescriber, patient):
        page.evaluate("() => { document.querySelector('#remote-videos figure').dataset.mark = 'before'; }")
    joins = Presence.objects.filter(attendance__room__appointment=visit).count()

    os.kill(network_service, signal.SIGSTOP)
    try:
        offline_at = time.monotonic()
        # The prescriber sees the connection go, and says so.
        expect(prescriber.locator("#room-status")).to_have_text("Reconnecting…", timeout=OFFLINE_SECONDS * 1000)
        stalled = frames_decoded(prescriber)[0]
        prescriber.wait_for_timeout(max(0, int((offline_at + OFFLINE_SECONDS - time.monotonic()) * 1000)))
        # No video reached the prescriber while the patient was offline.
        assert frames_decoded(prescriber)[0] - stalled <= 2
    finally:
        os.kill(network_service, signal.SIGCONT)
    back_at = time.monotonic()

    for page in (prescriber, patient):
        resumed_from = frames_decoded(page)[0]
        wait_until(
            page,
            f"() => window.tandemRoom.framesDecoded().then(f => f.length === 1 && f[0] > {resumed_from + 20})",
            RECOVERY_MS - int((time.monotonic() - back_at) * 1000),
        )
    for page in (prescriber, patient):
        expect(page.locator("#room-status")).to_have_text("Connected")
        expect(page.locator("#remote-videos figure")).to_have_count(1)
        expect(page.locator("#remote-videos figure")).to_have_attribute("data-mark", "before")
        assert_receiving_video(page)
    # Nobody joined again: no new presence in the room, and the patient's
    # attendance is the one admitted at the start.
    assert Presence.objects.filter(attendance__room__appointment=visit).count() == joins
    assert Presence.objects.filter(attendance__room__appointment=visit, attendance__role=Role.PATIENT).count() == 1
    patient_context.close()
