"""A referral from the therapist's chart to a booked evaluation, in two browsers.

The therapist refers a patient who will be in Washington for her visits. At
Northstar, the coordinator opens it from the queue, triages it and sees the
ranked offers: Priya, the psychiatrist licensed in WA, first; Lee, the NP
licensed in OR and ID only, left out as not licensed in WA. The coordinator
books Priya's first opening, and the referral the therapist still has open
turns to "Scheduled" without a reload.

This runs against the ASGI server, so the live socket is the real one: the
booking's notification reaches the therapist's socket over the channel layer,
and the page's status region fetches itself again in place. Both servers run
on the real clock, so the openings come from the weekday hours the referral
world gives both prescribers (09:00 to 17:00 in Denver), which always leave
some within the search window.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from e2e_harness import SignIn, wait_for_scripts
from playwright.sync_api import Page, expect

from tandem.patients.models import Patient
from tandem.referrals.models import Referral, State
from tandem.referrals.tests.world import build
from tandem.test import build_cast

REASON = "Depression not improving with therapy alone"
QUESTION = "Would medication help? PHQ-9 has stayed above 15 for 8 weeks."
SENT = "The referral is sent to the partner group."
TRIAGED = "Triaged."
BOOKED = "The evaluation is booked and the referring therapist is told."
NOT_LICENSED = "not licensed in WA"
MARKER = "still the same page"
# The notification travels server to socket to a fetch of the region: allow a busy machine.
LIVE_TIMEOUT_MS = 15_000

REFERRAL_URL = re.compile(r"/referrals/[^/]+/$")


def chart_path(patient: Patient) -> str:
    return f"/patients/{patient.public_id}/"


def test_the_coordinator_books_a_referral_and_the_therapist_sees_it_scheduled_live(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    world = build(build_cast())
    cast, patient = world.cast, world.wa_patient
    therapist, coordinator = asgi_pages(), asgi_pages()

    # 1. From the WA patient's chart, the therapist refers her to psychiatry.
    sign_in(therapist, cast.therapist)
    therapist.goto(chart_path(patient))
    expect(therapist.get_by_role("heading", name=patient.full_name, level=1)).to_be_visible()
    therapist.get_by_role("link", name="Refer to psychiatry").click()
    expect(therapist.get_by_role("heading", name="Refer to psychiatry", level=1)).to_be_visible()
    therapist.get_by_label("Reason for referral").fill(REASON)
    therapist.get_by_label("Clinical question for the prescriber").fill(QUESTION)
    # Urgency, state, language and insurance keep what the chart filled in.
    expect(therapist.get_by_label("State the patient will be in for visits")).to_have_value("WA")
    therapist.get_by_role("button", name="Submit referral").click()

    expect(therapist).to_have_url(REFERRAL_URL)
    expect(therapist.get_by_role("status")).to_have_text(SENT)
    state = therapist.get_by_test_id("referral-state")
    expect(state).to_have_text("Submitted")
    expect(therapist.get_by_text(REASON)).to_be_visible()
    wait_for_scripts(therapist)
    # Only once the socket is open is the therapist among those the server can tell.
    expect(therapist.locator("body")).to_have_attribute("data-live-state", "open")
    therapist.evaluate("marker => { window.__marker = marker; }", MARKER)
    referral = Referral.objects.get(patient=patient)
    assert referral.status == State.SUBMITTED
    assert therapist.url.endswith(f"/referrals/{referral.public_id}/")

    # 2. Northstar's coordinator finds it in the queue and triages it.
    sign_in(coordinator, world.coordinator)
    coordinator.get_by_role("navigation", name="Main").get_by_role("link", name="Referrals").click()
    expect(coordinator.get_by_role("heading", name="Referrals", level=1)).to_be_visible()
    waiting = coordinator.get_by_role("region", name="Waiting for a first visit to be booked")
    waiting.get_by_role("link", name=patient.display_name).click()
    expect(coordinator).to_have_url(re.compile(re.escape(f"/referrals/{referral.public_id}/") + "$"))
    expect(coordinator.get_by_test_id("referral-state")).to_have_text("Submitted")
    expect(coordinator.get_by_text(REASON)).to_be_visible()
    coordinator.get_by_role("button", name="Triage", exact=True).click()
    expect(coordinator.get_by_role("status")).to_have_text(TRIAGED)
    expect(coordinator.get_by_test_id("referral-state")).to_have_text("Triaged")

    # The ranked offers: the psychiatrist first, the NP left out for the state.
    offers = coordinator.get_by_test_id("offer")
    first = offers.first
    expect(first.get_by_role("heading", level=3)).to_contain_text(cast.prescriber.display_name)
    expect(offers.filter(has_text=cast.unrelated.display_name)).to_have_count(0)
    left_out = coordinator.get_by_test_id("excluded").filter(has_text=cast.unrelated.display_name)
    expect(left_out).to_have_count(1)
    expect(left_out).to_contain_text(NOT_LICENSED)
    expect(coordinator.get_by_test_id("excluded").filter(has_text=cast.prescriber.display_name)).to_have_count(0)

    # 3. The coordinator books the first offer.
    book = first.get_by_role("button", name=re.compile(rf"^Book .* with {re.escape(cast.prescriber.display_name)}$"))
    book.click()
    expect(coordinator.get_by_role("status")).to_have_text(BOOKED)
    expect(coordinator.get_by_test_id("referral-state")).to_have_text("Scheduled")
    referral.refresh_from_db()
    assert referral.status == State.SCHEDULED
    assert referral.prescriber == cast.prescriber

    # 4. The therapist's page shows it, without a reload.
    expect(state).to_have_text("Scheduled", timeout=LIVE_TIMEOUT_MS)
    expect(therapist.locator("#referral-status")).to_contain_text(cast.prescriber.display_name)
    assert therapist.evaluate("() => window.__marker") == MARKER, "the therapist's page was reloaded"
    expect(therapist.locator("body")).to_have_attribute("data-live-state", "open")
