"""People who do not belong in a video room are refused in the browser: a
clear page, no call script, and a signalling socket that never opens.

For each of the four (an expired link, a link for another appointment, the
outsider clinician, a signed-out visitor) the test opens the page they would
use and then, from that same page with its cookies, tries the room's socket
itself, as a hand-made client would. The server must refuse the handshake, so
the socket closes without ever opening or carrying a message. In the same
test the people who do belong (the prescriber, the patient's own link) open
the same sockets from the same kind of page and get the server's welcome, so
the probe is shown to tell the two apart.

Runs against the ASGI server inside the loopback-only network namespace.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import time_machine
from e2e_harness import SIGN_IN_URL, BrowserProblems, SignIn, video_visit
from playwright.sync_api import Page, expect

from tandem.audit.services import SYSTEM
from tandem.scheduling.models import Appointment
from tandem.test import build_cast
from tandem.video.services import issue_patient_link

# Opens ``path`` as a WebSocket from the page, as the browser with ``device``
# as its device key, and reports what happened: did it open, the type of the
# first message, and the close code. A socket that opens is closed by the
# probe once the first message arrives.
PROBE = """async ([path, device]) => {
  const url = "ws://" + location.host + path + "?device=" + device + "&page=probe";
  return await new Promise((resolve) => {
    const socket = new WebSocket(url);
    const seen = { opened: false, first: null, code: null };
    socket.onopen = () => { seen.opened = true; };
    socket.onmessage = (event) => {
      if (seen.first === null) { seen.first = JSON.parse(event.data).type; socket.close(1000); }
    };
    socket.onclose = (event) => { seen.code = event.code; resolve(seen); };
    setTimeout(() => resolve(seen), 10000);
  });
}"""
# Chromium logs a refused handshake on the console, as it does a 4xx page.
REFUSED_HANDSHAKE = re.compile(r"^WebSocket connection to 'ws://[^']+/ws/video/[^']*' failed")
NO_CALL_SCRIPT = "() => !document.querySelector('script[src*=\"room.js\"]') && !window.tandemRoom"


def _device(page: Page) -> str:
    """One device key per browser context, as room.js keeps one per browser."""
    return f"probe-device-{id(page.context):020d}"


def _refused(page: Page, path: str) -> None:
    seen: dict[str, Any] = page.evaluate(PROBE, [path, _device(page)])
    assert seen["opened"] is False and seen["first"] is None, (path, seen)
    assert seen["code"] is not None, (path, seen)  # closed, not left hanging


def _welcomed(page: Page, path: str) -> None:
    seen: dict[str, Any] = page.evaluate(PROBE, [path, _device(page)])
    assert seen["opened"] is True and seen["first"] == "welcome", (path, seen)


def test_people_who_do_not_belong_get_a_clear_page_and_a_closed_socket(
    asgi_pages: Callable[[], Page], sign_in: SignIn, browser_problems: BrowserProblems
) -> None:
    cast = build_cast()
    visit = video_visit(cast.northstar, cast.patient, [cast.prescriber])
    room_page, room_socket = f"/appointments/{visit.public_id}/video/", f"/ws/video/{visit.public_id}/"
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=visit, meta=SYSTEM)
    # The same patient's visit next week, with its own link.
    next_week = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=visit.appointment_type,
        patient=cast.patient,
        starts_at=visit.starts_at + datetime.timedelta(days=7),
        ends_at=visit.ends_at + datetime.timedelta(days=7),
        modality="video_home",
        created_by=cast.prescriber,
    )
    next_week.participants.create(user=cast.prescriber, starts_at=next_week.starts_at, ends_at=next_week.ends_at)
    _other, other_token = issue_patient_link(actor=cast.prescriber, appointment=next_week, meta=SYSTEM)
    # A link whose visit ended yesterday: issued then, expired now.
    yesterday = datetime.timedelta(days=1)
    old = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=visit.appointment_type,
        patient=cast.patient,
        starts_at=visit.starts_at - yesterday,
        ends_at=visit.ends_at - yesterday,
        modality="video_home",
        created_by=cast.prescriber,
    )
    old.participants.create(user=cast.prescriber, starts_at=old.starts_at, ends_at=old.ends_at)
    with time_machine.travel(old.starts_at, tick=False):
        _expired, expired_token = issue_patient_link(actor=cast.prescriber, appointment=old, meta=SYSTEM)

    browser_problems.allow_console(REFUSED_HANDSHAKE)
    browser_problems.allow_status(410, f"/video/join/{expired_token}/")
    browser_problems.allow_status(404, room_page)

    # An expired link: a page that says so, no call, and its socket refused.
    expired = asgi_pages()
    expired.goto(f"/video/join/{expired_token}/")
    expect(expired.get_by_role("alert")).to_contain_text("This link has expired")
    assert expired.evaluate(NO_CALL_SCRIPT)
    _refused(expired, f"/ws/video/join/{expired_token}/")

    # A link for another appointment opens that appointment's room only, and
    # not before its time: today's room is out of its reach.
    other = asgi_pages()
    other.goto(f"/video/join/{other_token}/")
    expect(other.get_by_role("status")).to_contain_text("The room opens at")
    assert other.evaluate(NO_CALL_SCRIPT)
    _refused(other, f"/ws/video/join/{other_token}/")
    _refused(other, room_socket)
    other.goto(room_page)
    expect(other).to_have_url(SIGN_IN_URL)
    # The right link, from a page just like it, is let into the waiting room.
    _welcomed(other, f"/ws/video/join/{token}/")

    # The outsider clinician: signed in, but not in this visit or its practice.
    outsider = asgi_pages()
    sign_in(outsider, cast.outsider)
    outsider.goto(room_page)
    expect(outsider.get_by_role("heading", level=1)).to_have_text(re.compile("not found", re.IGNORECASE))
    assert outsider.evaluate(NO_CALL_SCRIPT)
    _refused(outsider, room_socket)

    # Someone signed out: sent to sign in, and the socket refused.
    signed_out = asgi_pages()
    signed_out.goto(room_page)
    expect(signed_out).to_have_url(SIGN_IN_URL)
    _refused(signed_out, room_socket)

    # The prescriber, from their own signed-in page, is welcomed.
    prescriber = asgi_pages()
    sign_in(prescriber, cast.prescriber)
    _welcomed(prescriber, room_socket)
