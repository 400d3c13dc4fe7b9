"""A call between Chromium and a scripted Python participant: aiortc joins the
video room through the patient's link, over the same WebSocket and JSON
signalling as the browsers (tests/e2e/aiortc_peer.py), waits, is let in by
the prescriber through the real page, and media flows both ways: Chromium
decodes aiortc's synthetic video, and aiortc decodes Chromium's fake camera.
When aiortc leaves, the prescriber's page drops its tile.

In a pair, the side whose participant id is the greater makes the first
offer (room.js: ``polite = me < id``). Ids are random, so the test gives
aiortc's device its place in the room beforehand, as a page refresh would
find it, with the smallest or the greatest id: each run covers aiortc
offering to Chromium and aiortc answering Chromium's offer.

A scripted peer is what later tests and benchmarks can drive where a browser
would be too heavy or too opaque: it sees exactly what it receives. Like
every browser test this runs in the loopback-only network namespace, against
the ASGI server; aiortc runs in a thread of its own with its own event loop.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from aiortc_peer import ScriptedParticipant, Snapshot, new_device_key
from e2e_harness import SignIn, wait_until
from playwright.sync_api import Page, expect

from tandem.audit.services import SYSTEM
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import build_cast
from tandem.video.models import Attendance, Role
from tandem.video.services import issue_patient_link, room_for

logger = logging.getLogger(__name__)

CALL_TIMEOUT_MS = 20_000
CALL_TIMEOUT = CALL_TIMEOUT_MS / 1000
WIDTH, HEIGHT = 320, 240  # aiortc's picture, which Chromium must show at that size
ENOUGH_FRAMES = 10
REMOTE_VIDEO = "document.querySelector('#remote-videos video')"
SHOWS_AIORTC = f"""() => {{
  const v = {REMOTE_VIDEO};
  return !!v && v.videoWidth === {WIDTH} && v.videoHeight === {HEIGHT} && v.currentTime > 0;
}}"""
DECODED = "() => window.tandemRoom.framesDecoded().then(f => f.length === 1 && f[0] > 0)"

# Participant ids below and above any uuid4, compared as strings as room.js does.
LOWEST_ID = uuid.UUID(int=0)
HIGHEST_ID = uuid.UUID(int=2**128 - 1)

JoinRoom = Callable[[str, str], ScriptedParticipant]


@pytest.fixture
def join_room(asgi_live_server: str) -> Iterator[JoinRoom]:
    """Starts scripted participants on the ASGI server, given the socket's
    path and a device key; each is stopped (socket closed, connections
    closed, thread joined) when the test ends, pass or fail, before the
    test's data is flushed."""
    with contextlib.ExitStack() as stack:

        def join(path: str, device: str) -> ScriptedParticipant:
            participant = ScriptedParticipant(asgi_live_server, path, device=device, width=WIDTH, height=HEIGHT)
            return stack.enter_context(participant)

        yield join


def _visit_with_a_patient_link() -> tuple[Appointment, str]:
    """A video visit from home with the prescriber, as in test_video_call."""
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
    return visit, token


def _sees_aiortc(page: Page) -> None:
    """aiortc's own picture plays in the page, and the page's decoder counts its frames."""
    page.wait_for_function(SHOWS_AIORTC, timeout=CALL_TIMEOUT_MS)
    before = page.evaluate(f"() => {REMOTE_VIDEO}.currentTime")
    page.wait_for_function(f"() => {REMOTE_VIDEO}.currentTime > {before}", timeout=CALL_TIMEOUT_MS)
    wait_until(page, DECODED, CALL_TIMEOUT_MS)


def _id_of(participant: ScriptedParticipant, name: str) -> str:
    """The participant id of ``name``, from the roster the room sent ``participant``."""
    roster = participant.wait_for(lambda s: name in {e.name for e in s.roster}, CALL_TIMEOUT, f"{name} in the roster")
    return roster.named(name).id


def _decodes(participant: ScriptedParticipant, sender: str) -> Snapshot:
    """aiortc decodes ``sender``'s video, and keeps on decoding it."""
    got = participant.wait_for(
        lambda s: s.received_from(sender).video_frames >= ENOUGH_FRAMES and s.received_from(sender).width > 0,
        CALL_TIMEOUT,
        f"{ENOUGH_FRAMES} decoded frames from {sender}",
    )
    so_far = got.received_from(sender).video_frames
    return participant.wait_for(
        lambda s: s.received_from(sender).video_frames >= so_far + ENOUGH_FRAMES,
        CALL_TIMEOUT,
        f"more frames from {sender} after {so_far}",
    )


@pytest.mark.parametrize("aiortc_offers", [True, False], ids=["aiortc-offers", "chromium-offers"])
def test_aiortc_joins_through_the_patients_link_and_media_flows_both_ways(
    asgi_pages: Callable[[], Page], sign_in: SignIn, join_room: JoinRoom, aiortc_offers: bool
) -> None:
    visit, token = _visit_with_a_patient_link()
    prescriber_user = visit.participants.get().user
    assert visit.patient is not None
    patient_name = visit.patient.first_name
    device, aiortc_id = new_device_key(), HIGHEST_ID if aiortc_offers else LOWEST_ID
    Attendance.objects.create(room=room_for(visit), role=Role.PATIENT, device=device, public_id=aiortc_id)

    prescriber = asgi_pages()
    sign_in(prescriber, prescriber_user)
    prescriber.goto(f"/appointments/{visit.public_id}/video/")
    expect(prescriber.locator("#room-status")).to_have_text("Waiting for the others to join…")

    aiortc = join_room(f"/ws/video/join/{token}/", device)
    welcomed = aiortc.snapshot()
    assert (welcomed.you, welcomed.role, welcomed.state) == (str(aiortc_id), "patient", "waiting")
    admit = prescriber.get_by_role("button", name=f"Let {patient_name} in")
    expect(admit).to_be_visible()
    assert not aiortc.snapshot().received, "media reached a participant still in the waiting room"

    admitted = time.monotonic()
    admit.click()
    aiortc.wait_for(lambda s: s.state == "admitted", CALL_TIMEOUT, "admission")
    expect(prescriber.locator("#remote-videos figcaption")).to_have_text([patient_name])

    # Chromium decodes aiortc's video.
    wait_until(prescriber, DECODED, CALL_TIMEOUT_MS)
    browser_first_frame = time.monotonic() - admitted
    _sees_aiortc(prescriber)
    expect(prescriber.locator("#room-status")).to_have_text("Connected")

    # aiortc decodes Chromium's video, and the sender is the prescriber.
    prescriber_id = _id_of(aiortc, prescriber_user.display_name)
    seen = _decodes(aiortc, prescriber_id)
    assert set(seen.received) == {prescriber_id}
    assert dict(seen.negotiated) == {prescriber_id: "offered" if aiortc_offers else "answered"}
    first_video_at = seen.received_from(prescriber_id).first_video_at
    assert first_video_at is not None
    logger.info(
        "admit to first decoded frame: Chromium %.2f s (polled), aiortc %.2f s",
        browser_first_frame,
        first_video_at - admitted,
    )

    # aiortc leaves: the roster the prescriber's page gets drops it, from the
    # list of who is in the call and from the call itself. (room.js may keep
    # the tile of someone whose socket closed for a while, marked as gone, in
    # case they come back after a network change: that tile no longer counts.)
    aiortc.stop()
    assert aiortc.snapshot().state == "closed"
    expect(prescriber.locator("#in-room-list li")).to_have_count(0)
    expect(prescriber.locator('#remote-videos figure:not([data-gone="1"])')).to_have_count(0)
