"""Revoking in one browser session makes the partner prescriber's very next
page load omit the data.

Two people, two sessions: Riverbend's practice admin revokes the patient's
coordination authorization while Northstar's prescriber has the patient's
chart open. The prescriber reloads once, and what the authorization covered
is gone from that page, and from the record's own address.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

import pytest
from e2e_harness import CSP_LISTENER, BrowserProblems, SignIn, stand_in_for_live_socket, wait_for_scripts
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from tandem.consent.models import Authorization
from tandem.messaging.models import Notification
from tandem.patients.models import Patient
from tandem.records.models import Document
from tandem.test import Cast, build_cast, grant_authorization

# As in conftest.py's context fixture.
ACTION_TIMEOUT_MS = 10_000

PHONE = "503-555-0142"
STREET = "1410 SE Alder Street"
NOTE_TITLE = "Session 6 progress note"
NOTE_PHRASE = "practised the heron-bridge grounding exercise"
HOW_REVOKED = "Phoned the front desk and asked us to stop sharing with Northstar."
REVOKED_MESSAGE = "Revoked. It stops sharing from the next page anyone opens."
WITHHELD = "Some information is not shared with you."


@pytest.fixture
def second_page(browser: Browser, live_server: LiveServer, browser_problems: BrowserProblems) -> Iterator[Page]:
    """Another person's browser: its own context (cookies, storage), set up as
    conftest.py sets up the ``context`` and ``page`` fixtures, and reporting to
    the same problem collector."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.expose_binding("tandemCspViolation", lambda _source, report: browser_problems.on_csp_violation(report))
    context.add_init_script(CSP_LISTENER)
    context.route_web_socket(re.compile(r"/ws/live/$"), stand_in_for_live_socket)
    page = context.new_page()
    page.on("console", browser_problems.on_console)
    page.on("pageerror", browser_problems.on_page_error)
    yield page
    context.close()


def chart_path(patient: Patient) -> str:
    return f"/patients/{patient.public_id}/"


def document_path(document: Document) -> str:
    return f"/patients/{document.patient.public_id}/records/{document.public_id}/"


def authorization_path(authorization: Authorization) -> str:
    return f"/patients/{authorization.patient.public_id}/consent/{authorization.public_id}/"


def shared_patient_with_a_note(cast: Cast) -> tuple[Document, Authorization]:
    patient = cast.patient
    patient.phone = PHONE
    patient.address_line1 = STREET
    patient.city = "Portland"
    patient.postal_code = "97214"
    patient.save(update_fields=["phone", "address_line1", "city", "postal_code"])
    document = Document.objects.create(
        patient=patient,
        organization=cast.riverbend,
        author=cast.therapist,
        info_class="progress_notes",
        title=NOTE_TITLE,
        body=f"Avery {NOTE_PHRASE} between sessions and reports sleeping better.",
        occurred_on=datetime.date.today() - datetime.timedelta(days=3),
    )
    authorization = grant_authorization(patient, cast.riverbend, cast.northstar)
    return document, authorization


def flush_csp_reports(page: Page) -> None:
    """Wait until every CSP report the page raised has reached Python."""
    page.evaluate("() => window.tandemCspReported")


def test_revoking_hides_shared_data_on_the_prescribers_next_page_load(
    page: Page, second_page: Page, sign_in: SignIn, browser_problems: BrowserProblems
) -> None:
    cast = build_cast()
    document, authorization = shared_patient_with_a_note(cast)
    prescriber, admin = page, second_page
    browser_problems.allow_status(404, document_path(document))

    # Northstar's prescriber, under the authorization, sees Riverbend's note and the patient's details.
    sign_in(prescriber, cast.prescriber)
    prescriber.goto(chart_path(cast.patient))
    expect(prescriber.get_by_role("heading", name=cast.patient.display_name, level=1)).to_be_visible()
    records = prescriber.get_by_role("region", name="Shared record")
    records.get_by_role("link", name=NOTE_TITLE).click()
    expect(prescriber).to_have_url(re.compile(re.escape(document_path(document)) + "$"))
    expect(prescriber.get_by_text(NOTE_PHRASE)).to_be_visible()

    prescriber.goto(chart_path(cast.patient))
    wait_for_scripts(prescriber)
    expect(records.get_by_role("rowheader", name=NOTE_TITLE)).to_be_visible()
    details = prescriber.get_by_role("region", name="Details")
    expect(details).to_contain_text(PHONE)
    expect(details).to_contain_text(STREET)
    coverage = prescriber.get_by_role("region", name="Coverage and contacts")
    expect(coverage).to_contain_text(cast.payer.name)
    expect(prescriber.get_by_text(WITHHELD)).to_have_count(0)

    # Meanwhile, in Riverbend's office, the admin records the patient's revocation.
    sign_in(admin, cast.admin)
    admin.goto(authorization_path(authorization))
    expect(admin.get_by_role("heading", name=re.compile(r"Active$"), level=1)).to_be_visible()
    admin.get_by_label("How the patient revoked it").fill(HOW_REVOKED)
    admin.get_by_role("button", name="Revoke", exact=True).click()
    expect(admin).to_have_url(re.compile(re.escape(authorization_path(authorization)) + "$"))
    expect(admin.get_by_role("status")).to_have_text(REVOKED_MESSAGE)
    expect(admin.get_by_role("heading", name=re.compile(r"Revoked$"), level=1)).to_be_visible()
    expect(admin.get_by_text(HOW_REVOKED)).to_be_visible()

    # The prescriber's very next page load: the same chart, without what the authorization covered.
    response = prescriber.reload()
    assert response is not None and response.status == 200
    expect(prescriber.get_by_role("heading", name=cast.patient.display_name, level=1)).to_be_visible()
    expect(prescriber.get_by_role("note")).to_contain_text(WITHHELD)
    body = prescriber.locator("body")
    for gone in (NOTE_TITLE, PHONE, STREET, cast.payer.name):
        expect(body).not_to_contain_text(gone)
    expect(details).to_have_count(0)
    expect(coverage).to_have_count(0)
    expect(records.get_by_role("link", name=NOTE_TITLE)).to_have_count(0)

    # Nor does the record's own address still open.
    response = prescriber.goto(document_path(document))
    assert response is not None and response.status == 404
    expect(prescriber.get_by_role("heading", name="Not found", level=1)).to_be_visible()
    for gone in (NOTE_TITLE, NOTE_PHRASE):
        expect(prescriber.locator("body")).not_to_contain_text(gone)

    # The prescriber is told, in words that would be safe in an email.
    notices = list(Notification.objects.filter(recipient=cast.prescriber, kind="consent_revoked"))
    assert len(notices) == 1, notices
    text = notices[0].text
    for secret in (cast.patient.first_name, cast.patient.last_name, cast.patient.mrn, NOTE_TITLE, NOTE_PHRASE):
        assert secret.lower() not in text.lower(), f"{secret!r} in notification text {text!r}"

    for each in (prescriber, admin):
        flush_csp_reports(each)
    problems = browser_problems.summary()
    assert not problems, "The browser reported problems:\n  " + "\n  ".join(problems)
