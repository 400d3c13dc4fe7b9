"""Screen share, mute and camera off in a two-party call.

Headless Chromium has no screen to pick, and its picker never answers, so
the test gives the page a stand-in for ``getDisplayMedia``: an animated
16:9 canvas, captured as a stream. Everything after the capture is real: the
room swaps the video each connection sends, the other side decodes the 16:9
picture and labels the tile, and stopping the share brings the 4:3 camera back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from e2e_harness import SignIn, assert_receiving_video, video_visit, wait_until
from playwright.sync_api import Page, expect

from tandem.audit.services import SYSTEM
from tandem.test import build_cast
from tandem.video.services import issue_patient_link

FAKE_SCREEN = """
navigator.mediaDevices.getDisplayMedia = () => {
  const canvas = document.createElement("canvas");
  canvas.width = 1280;
  canvas.height = 720;
  const g = canvas.getContext("2d");
  let n = 0;
  window.setInterval(() => {
    n += 1;
    g.fillStyle = n % 2 ? "#1d4ed8" : "#f59e0b";
    g.fillRect(0, 0, 1280, 720);
    g.fillStyle = "#fff";
    g.fillRect((n * 37) % 1180, 300, 100, 100);
  }, 66);
  return Promise.resolve(canvas.captureStream(15));
};
"""


def _aspect(page: Page, wide: bool) -> None:
    check = "s[0][0] * 9 === s[0][1] * 16" if wide else "s[0][0] * 3 === s[0][1] * 4"
    wait_until(page, f"() => window.tandemRoom.sizes().then(s => s.length === 1 && !!s[0] && {check})", 15_000)


def test_screen_share_mute_and_camera_off_reach_the_other_side(asgi_pages: Callable[[], Page], sign_in: SignIn) -> None:
    cast = build_cast()
    visit = video_visit(cast.northstar, cast.patient, [cast.prescriber])
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=visit, meta=SYSTEM)
    prescriber, patient = asgi_pages(), asgi_pages()
    prescriber.context.add_init_script(FAKE_SCREEN)
    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"/appointments/{visit.public_id}/video/")
    patient.goto(f"/video/join/{token}/")
    prescriber.get_by_role("button", name=re.compile(r"^Let .+ in$")).click()
    for page in (prescriber, patient):
        assert_receiving_video(page)
    _aspect(patient, wide=False)
    tile = patient.locator("#remote-videos figure")

    share = prescriber.get_by_role("button", name="Share screen")
    share.click()
    expect(prescriber.get_by_role("button", name="Stop sharing")).to_have_attribute("aria-pressed", "true")
    expect(tile.locator("figcaption")).to_contain_text("(sharing their screen)")
    _aspect(patient, wide=True)
    assert_receiving_video(patient)

    prescriber.get_by_role("button", name="Stop sharing").click()
    expect(prescriber.get_by_role("button", name="Share screen")).to_have_attribute("aria-pressed", "false")
    expect(tile.locator("figcaption")).not_to_contain_text("sharing")
    _aspect(patient, wide=False)

    prescriber.get_by_role("button", name="Mute").click()
    expect(tile.locator("figcaption")).to_contain_text("(muted)")
    prescriber.get_by_role("button", name="Camera off").click()
    expect(tile.locator("figcaption")).to_contain_text("(muted, camera off)")
    prescriber.get_by_role("button", name="Unmute").click()
    prescriber.get_by_role("button", name="Camera on").click()
    expect(tile.locator("figcaption")).to_have_text(re.compile(r"^[^()]+$"))
    assert_receiving_video(patient)
