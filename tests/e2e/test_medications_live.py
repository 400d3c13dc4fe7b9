"""Medications in the browser: the prescriber changes a dose and the
therapist's open medication page shows it without a reload; the therapist
reports a side effect and it is waiting in the prescriber's inbox, live.

Against the ASGI server with the real live socket, in the loopback-only
namespace. The patient has a signed coordination authorization both ways.
"""

from __future__ import annotations

from collections.abc import Callable

from e2e_harness import SignIn, wait_for_scripts
from playwright.sync_api import Page, expect

from tandem.medications.models import MedicationChange, Observation
from tandem.test import build_cast, grant_authorization, start_medication


def _live(page: Page) -> None:
    page.wait_for_function("() => document.body.dataset.liveState === 'open'")


def test_a_dose_change_reaches_the_therapist_live_and_a_side_effect_reaches_the_prescriber(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    # Started before consent lets the therapist see it: nobody is told (no live push from the test's thread).
    medication = start_medication(cast.patient, cast.prescriber, cast.northstar, dose="50")
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    meds_url = f"/patients/{cast.patient.public_id}/medications/"

    therapist, prescriber = asgi_pages(), asgi_pages()
    sign_in(therapist, cast.therapist)
    therapist.goto(meds_url)
    expect(therapist.get_by_test_id("dose-sertraline")).to_contain_text("50 mg")
    _live(therapist)
    therapist.evaluate("() => { window.stillTheSamePage = true; }")

    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"{meds_url}{medication.public_id}/")
    wait_for_scripts(prescriber)
    prescriber.get_by_role("radio", name="Dose changed").check()
    prescriber.get_by_label("New dose per administration").fill("100")
    prescriber.get_by_label("Reason").fill("Partial response at six weeks; room to go up.")
    prescriber.get_by_role("button", name="Save the change").click()
    expect(prescriber.get_by_text("Saved: Sertraline is now 100 mg")).to_be_visible()
    assert MedicationChange.objects.filter(medication=medication, kind="dose").count() == 1

    # The therapist's open page shows the new dose and the change on the timeline, without a reload.
    expect(therapist.get_by_test_id("dose-sertraline")).to_contain_text("100 mg", timeout=10_000)
    expect(therapist.locator("#timeline")).to_contain_text("Sertraline dose changed: 50 → 100 mg")
    expect(therapist.locator("#timeline")).to_contain_text("Partial response at six weeks")
    assert therapist.evaluate("() => window.stillTheSamePage === true")

    # The prescriber waits on the inbox; the therapist reports a side effect.
    prescriber.goto("/inbox/")
    _live(prescriber)
    prescriber.evaluate("() => { window.stillTheSamePage = true; }")
    therapist.get_by_role("radio", name="Side effect").check()
    therapist.get_by_label("About").select_option(label="Sertraline")
    therapist.get_by_label("What you saw or heard").fill("Nausea every morning since the increase.")
    therapist.get_by_role("button", name="Report to the prescriber").click()
    expect(therapist.get_by_text("Reported to the prescriber.")).to_be_visible()
    expect(therapist.locator("#timeline")).to_contain_text("Nausea every morning since the increase.")
    observation = Observation.objects.get(patient=cast.patient)
    assert observation.medication == medication and observation.kind == "side_effect"

    inbox = prescriber.locator("#inbox-list")
    expect(inbox).to_contain_text(f"{cast.therapist.display_name} reported a side effect", timeout=10_000)
    assert prescriber.evaluate("() => window.stillTheSamePage === true")
    inbox.get_by_role("link", name=f"{cast.therapist.display_name} reported a side effect", exact=False).first.click()
    expect(prescriber.locator(f"#obs-{observation.public_id}")).to_contain_text("Nausea every morning")
