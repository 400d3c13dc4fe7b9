"""A call forced through TURN: coturn runs on 127.0.0.1 for the test, Tandem
hands each participant short-lived credentials derived from the secret it
shares with coturn, and with ``TANDEM_VIDEO_RELAY_ONLY`` every connection is
made with ``iceTransportPolicy: "relay"``. Both sides decode each other's
video, the selected candidate pair is a relay at both ends, and coturn's log
shows the allocations made with the minted usernames.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_harness import SignIn, assert_receiving_video, video_visit, wait_until
from playwright.sync_api import Page, expect

from tandem.audit.services import SYSTEM
from tandem.test import build_cast
from tandem.video.models import Attendance
from tandem.video.services import issue_patient_link
from tandem.video.testing import running_coturn

BOTH_RELAYED = """() => window.tandemRoom.paths()
  .then(p => p.length === 1 && !!p[0] && p[0].local === 'relay' && p[0].remote === 'relay')"""


def test_a_call_forced_through_coturn(
    asgi_pages: Callable[[], Page], sign_in: SignIn, settings: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cast = build_cast()
    visit = video_visit(cast.northstar, cast.patient, [cast.prescriber])
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=visit, meta=SYSTEM)

    with running_coturn(tmp_path) as coturn:
        # The ASGI server is a thread of this process: it sees these settings.
        settings.TURN_URLS = [f"turn:127.0.0.1:{coturn.port}?transport=udp"]
        settings.TURN_SECRET = coturn.secret
        settings.VIDEO_RELAY_ONLY = True

        prescriber, patient = asgi_pages(), asgi_pages()
        sign_in(prescriber, cast.prescriber)
        prescriber.goto(f"/appointments/{visit.public_id}/video/")
        patient.goto(f"/video/join/{token}/")
        prescriber.get_by_role("button", name=re.compile(r"^Let .+ in$")).click()

        for page in (prescriber, patient):
            assert_receiving_video(page)
            wait_until(page, BOTH_RELAYED, 10_000)
        expect(patient.locator("#room-status")).to_have_text("Connected")

        # Each participant allocated a relay with its own opaque username:
        # "<expiry>:<attendance id>", never a name or an address.
        for attendance in Attendance.objects.filter(room__appointment=visit):
            allocated = f":{attendance.public_id}>: incoming packet ALLOCATE processed, success"
            assert coturn.wait_for_log(allocated), coturn.log_text()[-2000:]
        assert cast.patient.first_name not in coturn.log_text()
