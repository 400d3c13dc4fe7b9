"""Notes in the browser: a signed note reaches the other clinician live and
comes back as a read receipt; two windows on one draft never overwrite each
other.

Against the ASGI server with the real live socket, in the loopback-only
namespace. The patient has a signed coordination authorization both ways, so
each side may see the other's notes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from e2e_harness import BrowserProblems, SignIn, wait_for_scripts
from playwright.sync_api import Page, expect

from tandem.records.models import Document, NoteStatus
from tandem.test import build_cast, grant_authorization

SOAP = {
    "Subjective": "Sleeping better on the higher dose; no nausea.",
    "Objective": "Brighter affect. PHQ-9 today 9.",
    "Assessment": "Responding to sertraline 100 mg.",
    "Plan": "Keep the dose; review in four weeks.",
}
SAVED = re.compile(r"^Saved at \d\d:\d\d:\d\d\.$")


def _live(page: Page) -> None:
    page.wait_for_function("() => document.body.dataset.liveState === 'open'")


def _start_note(page: Page, patient_id: object, kind: str) -> None:
    page.goto(f"/patients/{patient_id}/notes/new/")
    page.get_by_role("radio", name=kind).check()
    page.get_by_role("button", name="Start the note").click()
    expect(page.get_by_text("Only you see this draft.")).to_be_visible()
    wait_for_scripts(page)


def test_a_signed_note_arrives_live_and_its_author_sees_it_read(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    chart = f"/patients/{cast.patient.public_id}/"
    therapist, prescriber = asgi_pages(), asgi_pages()
    sign_in(therapist, cast.therapist)
    therapist.goto(chart)
    expect(therapist.locator("#shared-record")).to_contain_text("No records yet.")
    _live(therapist)
    therapist.evaluate("() => { window.stillTheSamePage = true; }")

    sign_in(prescriber, cast.prescriber)
    _start_note(prescriber, cast.patient.public_id, "Medication management")
    for label, text in SOAP.items():
        prescriber.get_by_label(label, exact=True).fill(text)
    expect(prescriber.locator("#note-save-state")).to_have_text(SAVED, timeout=10_000)
    prescriber.get_by_role("button", name="Sign and lock").click()
    expect(prescriber.get_by_text("Signed. The note is locked")).to_be_visible()
    expect(prescriber.locator("#note-reads")).to_contain_text("Nobody else on the care team has opened it yet.")
    _live(prescriber)
    note = Document.objects.get(kind="medication_management", status=NoteStatus.SIGNED)

    # The therapist's open chart shows it without a reload.
    expect(therapist.locator("#shared-record")).to_contain_text(note.title, timeout=10_000)
    assert therapist.evaluate("() => window.stillTheSamePage === true")
    therapist.get_by_role("link", name=note.title).click()
    expect(therapist.get_by_text("Responding to sertraline 100 mg.")).to_be_visible()

    # And the prescriber's page for the note shows it read, without a reload.
    expect(prescriber.locator("#note-reads")).to_contain_text(cast.therapist.display_name, timeout=10_000)


def test_two_windows_on_one_draft_conflict_and_no_text_is_lost(
    asgi_pages: Callable[[], Page], sign_in: SignIn, browser_problems: BrowserProblems
) -> None:
    cast = build_cast()
    # The refused save is a 409, which Chromium logs as it does any 4xx.
    browser_problems.allow_status(409, re.compile(r"/notes/[0-9a-f-]+/autosave/$"))
    first, second = asgi_pages(), asgi_pages()
    sign_in(first, cast.therapist)
    _start_note(first, cast.patient.public_id, "Therapy progress note (DAP)")
    editor = first.url
    sign_in(second, cast.therapist)
    second.goto(editor)
    wait_for_scripts(second)

    first.get_by_label("Data", exact=True).fill("Typed in the first window.")
    expect(first.locator("#note-save-state")).to_have_text(SAVED, timeout=10_000)
    second.get_by_label("Data", exact=True).fill("Typed in the second window.")
    conflict = second.locator("#note-conflict-live")
    expect(conflict).to_be_visible(timeout=10_000)
    expect(conflict).to_contain_text("Typed in the first window.")
    expect(second.get_by_label("Data", exact=True)).to_have_value("Typed in the second window.")
    draft = Document.objects.get(status=NoteStatus.DRAFT)
    assert draft.fields == {"data": "Typed in the first window."}

    # Typing on does not save over the other window until the author chooses.
    second.get_by_label("Assessment", exact=True).fill("Still mine.")
    second.wait_for_timeout(2_500)
    draft.refresh_from_db()
    assert draft.fields == {"data": "Typed in the first window."}

    second.get_by_role("button", name="Keep my text").click()
    expect(second.locator("#note-save-state")).to_have_text(SAVED, timeout=10_000)
    draft.refresh_from_db()
    assert draft.fields == {"data": "Typed in the second window.", "assessment": "Still mine."}
    # The first window, reloaded, has the text that was kept.
    first.reload()
    expect(first.get_by_label("Data", exact=True)).to_have_value("Typed in the second window.")
