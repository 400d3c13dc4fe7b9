"""Signing in with a password and a code, finding a patient, and automatic
logoff after 15 idle minutes: on the server, in the page, and in a live search.

Server time moves with time_machine (the live server is a thread of this
process); page time moves with Playwright's clock. Nothing waits for real.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from e2e_harness import (
    CODE_URL,
    IDLE_MESSAGE,
    SIGN_IN_URL,
    SIGNED_OUT_IDLE_URL,
    BrowserProblems,
    Codes,
    SignIn,
    enter_code,
    enter_password,
    minutes_from_now,
    wait_for_scripts,
)
from playwright.sync_api import Page, Response, expect
from time_machine import TimeMachineFixture

from tandem.patients.models import Patient
from tandem.test import build_cast

SEARCH_BOX = "Search by name, record number or date of birth"


def chart_path(patient: Patient) -> str:
    return f"/patients/{patient.public_id}/"


def expect_chart(page: Page, patient: Patient) -> None:
    expect(page).to_have_url(re.compile(re.escape(chart_path(patient)) + "$"))
    expect(page.get_by_role("heading", name=patient.full_name, level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Care team", exact=True)).to_be_visible()
    wait_for_scripts(page)


def is_live_search(term: str) -> Callable[[Response], bool]:
    def match(response: Response) -> bool:
        return f"/patients/?q={term}" in response.url and response.request.headers.get("hx-request") == "true"

    return match


def test_sign_in_find_patient_then_idle_logoff(page: Page, sign_in: SignIn, time_machine: TimeMachineFixture) -> None:
    cast = build_cast()
    sign_in(page, cast.therapist)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", name="Patients", level=1)).to_be_visible()
    wait_for_scripts(page)
    results = page.locator("#patient-results")
    # Both Riverbend patients are listed until the search narrows the list.
    expect(results.get_by_role("link", name="Wexford, Tobias")).to_be_visible()

    # The list follows the typing: no submit, no page load.
    with page.expect_response(is_live_search("Quintero")):
        page.get_by_role("searchbox", name=SEARCH_BOX).fill("Quintero")
    expect(results.get_by_role("link", name="Wexford, Tobias")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/patients/\?q=Quintero$"))
    results.get_by_role("link", name="Quintero, Avery").click()

    expect_chart(page, cast.patient)
    team = page.get_by_role("region", name="Care team", exact=True)
    expect(team.get_by_role("rowheader", name="Maya Ortiz, LPC")).to_be_visible()
    expect(team.get_by_role("rowheader", name="Priya Raman, MD")).to_be_visible()

    # 16 minutes without a request: past the 15-minute idle limit.
    time_machine.move_to(minutes_from_now(16), tick=True)

    page.reload()
    expect(page).to_have_url(SIGNED_OUT_IDLE_URL)
    expect(page.get_by_role("heading", name="Signed out", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(IDLE_MESSAGE)

    # The session is over, not paused: the chart's address now asks for a sign-in.
    response = page.goto(chart_path(cast.patient))
    expect(page).to_have_url(SIGN_IN_URL)
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.get_by_text(cast.patient.last_name)).to_have_count(0)
    assert response is not None
    chart_request = response.request.redirected_from
    assert chart_request is not None and chart_request.url.endswith(chart_path(cast.patient))
    chart_response = chart_request.response()
    assert chart_response is not None and chart_response.status == 302


def test_idle_page_warns_then_signs_itself_out(
    page: Page, sign_in: SignIn, browser_problems: BrowserProblems, time_machine: TimeMachineFixture
) -> None:
    # Once the session has ended, the page's status check gets a 401: that is its cue to leave.
    browser_problems.allow_status(401, "/accounts/session/status")
    # Before the first page loads, so session.js runs on the test's clock from the start.
    page.clock.install()
    cast = build_cast()
    sign_in(page, cast.therapist)
    page.get_by_role("region", name=re.compile(r"^Your caseload")).get_by_role(
        "link", name=cast.patient.full_name
    ).click()
    expect_chart(page, cast.patient)
    warning = page.get_by_role("alertdialog", name="You will be signed out soon because of inactivity.")
    expect(warning).to_be_hidden()

    # Half a minute before the limit the page warns, and offers to stay.
    time_machine.move_to(minutes_from_now(14.5), tick=True)
    page.clock.fast_forward("14:30")
    expect(warning).to_be_visible()
    expect(warning.get_by_role("button", name="Stay signed in")).to_be_visible()

    # Past the limit, with no one at the keyboard, the page leaves on its own.
    time_machine.shift(datetime.timedelta(minutes=1.5))
    page.clock.fast_forward("01:30")
    expect(page).to_have_url(SIGNED_OUT_IDLE_URL)
    expect(page.get_by_role("status")).to_have_text(IDLE_MESSAGE)


def test_live_search_after_idle_limit_signs_out(page: Page, sign_in: SignIn, time_machine: TimeMachineFixture) -> None:
    cast = build_cast()
    sign_in(page, cast.therapist)
    page.goto("/patients/")

    time_machine.move_to(minutes_from_now(16), tick=True)
    # An htmx request gets no results but an HX-Redirect, which htmx follows.
    page.get_by_role("searchbox", name=SEARCH_BOX).fill("Quintero")
    expect(page).to_have_url(SIGNED_OUT_IDLE_URL)
    expect(page.get_by_role("status")).to_have_text(IDLE_MESSAGE)
    expect(page.get_by_text(cast.patient.last_name)).to_have_count(0)


def test_wrong_code_does_not_sign_in(page: Page, codes: Codes, browser_problems: BrowserProblems) -> None:
    # The refused code is answered with 400, which Chromium logs.
    browser_problems.allow_status(400, CODE_URL)
    cast = build_cast()
    enter_password(page, cast.therapist)
    enter_code(page, codes.wrong())

    expect(page).to_have_url(CODE_URL)
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"That code did not work"))
    page.goto("/today/")
    expect(page).to_have_url(SIGN_IN_URL)
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()


def test_therapist_of_another_practice_gets_not_found(
    page: Page, sign_in: SignIn, browser_problems: BrowserProblems
) -> None:
    cast = build_cast()
    browser_problems.allow_status(404, chart_path(cast.patient))
    sign_in(page, cast.outsider)

    # Their own patient's chart opens, so the 404 below is the access rule at work.
    page.goto(chart_path(cast.foreign_patient))
    expect_chart(page, cast.foreign_patient)

    response = page.goto(chart_path(cast.patient))
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()
    expect(page.get_by_text(cast.patient.last_name)).to_have_count(0)
