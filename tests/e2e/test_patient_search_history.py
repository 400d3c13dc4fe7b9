"""The live patient search pushes each search into the browser history, and
htmx keeps a copy of each page for the Back button. Two faults follow; these
tests keep both from coming back.
"""

from __future__ import annotations

import re

from e2e_harness import SIGNED_OUT_IDLE_URL, SignIn, minutes_from_now
from playwright.sync_api import Page, expect
from time_machine import TimeMachineFixture

from tandem.test import build_cast

SEARCH_BOX = "Search by name, record number or date of birth"


def search(page: Page, term: str) -> None:
    with page.expect_response(lambda r: f"/patients/?q={term}" in r.url):
        page.get_by_role("searchbox", name=SEARCH_BOX).fill(term)


def test_idle_logoff_leaves_no_patient_list_in_the_tab(
    page: Page, sign_in: SignIn, time_machine: TimeMachineFixture
) -> None:
    cast = build_cast()
    sign_in(page, cast.therapist)
    page.goto("/patients/")
    search(page, "Quintero")

    time_machine.move_to(minutes_from_now(16), tick=True)
    page.reload()
    expect(page).to_have_url(SIGNED_OUT_IDLE_URL)

    stored = page.evaluate("() => JSON.stringify([Object.values(sessionStorage), Object.values(localStorage)])")
    assert cast.other_patient.last_name not in stored, "A patient's name outlived the session in the tab's storage"


def test_back_after_a_history_cache_miss_keeps_the_whole_page(page: Page, sign_in: SignIn) -> None:
    cast = build_cast()
    sign_in(page, cast.therapist)
    page.goto("/patients/")
    search(page, "Quintero")
    # htmx keeps ten pages, in sessionStorage: an eleventh step back, or full
    # storage, misses the cache like this.
    page.evaluate("() => sessionStorage.removeItem('htmx-history-cache')")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    # The unfiltered list is back (whichever way the page was restored)...
    other = cast.other_patient
    expect(page.get_by_role("link", name=f"{other.last_name}, {other.first_name}")).to_be_visible()
    # ...and so is the rest of the page around it.
    expect(page.get_by_role("searchbox", name=SEARCH_BOX)).to_be_visible(timeout=1_000)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible(timeout=1_000)
