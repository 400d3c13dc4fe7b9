"""A critical answer reaches the other care-team member's browser without a
reload: the therapist gives a PHQ-9 in session with item 9 answered; the
prescriber's open Today page shows the safety alert, and they acknowledge it.

Against the ASGI server with the real live socket, in the loopback-only
namespace.
"""

from __future__ import annotations

from collections.abc import Callable

from e2e_harness import SignIn, wait_for_scripts
from playwright.sync_api import Page, expect

from tandem.measures.models import SafetyAlert
from tandem.test import build_cast, grant_authorization


def test_a_critical_answer_reaches_the_partner_live_and_is_acknowledged(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    therapist, prescriber = asgi_pages(), asgi_pages()
    sign_in(prescriber, cast.prescriber)
    wait_for_scripts(prescriber)
    prescriber.wait_for_function("() => document.body.dataset.liveState === 'open'")
    prescriber.evaluate("() => { window.stillTheSamePage = true; }")
    expect(prescriber.locator("#safety-alerts")).not_to_contain_text("item 9")

    sign_in(therapist, cast.therapist)
    therapist.goto(f"/patients/{cast.patient.public_id}/measures/phq9/new/")
    for n in range(1, 10):
        group = therapist.get_by_role("group", name=f"{n}. ")
        answer = "Several days" if n == 9 else "More than half the days"
        group.get_by_role("radio", name=answer).check()
    therapist.get_by_role("button", name="Score and save").click()
    expect(therapist.get_by_text("Critical answer: Thoughts of death or self-harm")).to_be_visible()

    alerts = prescriber.locator("#safety-alerts")
    expect(alerts).to_contain_text("Thoughts of death or self-harm (item 9 above 0)", timeout=10_000)
    assert prescriber.evaluate("() => window.stillTheSamePage === true")
    alerts.get_by_role("link").click()
    prescriber.get_by_label("What was done").fill("Called at once: passive thoughts, no plan; safety plan reviewed.")
    prescriber.get_by_role("button", name="Acknowledge the alert").click()
    expect(prescriber.get_by_text("Acknowledged. The care team can see what was done.")).to_be_visible()
    alert = SafetyAlert.objects.get()
    assert alert.acknowledged_by_id == cast.prescriber.pk and alert.escalated_at is None
