"""Two clinicians talk about a patient in real time, and a consult request
ends as a booked provider consult.

Against the ASGI server with the real live socket, in the loopback-only
namespace: each message's notification goes over the channel layer to the
other clinician's socket, and their thread page fetches itself again in place.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Callable

from e2e_harness import SignIn, wait_for_scripts
from playwright.sync_api import Page, expect

from tandem.scheduling.models import Appointment, WeeklyHours
from tandem.test import build_cast, grant_authorization


def _live(page: Page) -> None:
    wait_for_scripts(page)
    page.wait_for_function("() => document.body.dataset.liveState === 'open'")


def test_two_clinicians_message_live_and_book_a_consult(asgi_pages: Callable[[], Page], sign_in: SignIn) -> None:
    cast = build_cast()
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    for person, org in ((cast.therapist, cast.riverbend), (cast.prescriber, cast.northstar)):
        for weekday in range(7):
            WeeklyHours.objects.create(
                clinician=person,
                organization=org,
                weekday=weekday,
                start=datetime.time(0),
                end=datetime.time(23, 59),
                timezone="UTC",
            )
    thread = f"/patients/{cast.patient.public_id}/thread/"
    therapist, prescriber = asgi_pages(), asgi_pages()
    sign_in(therapist, cast.therapist)
    therapist.goto(thread)
    _live(therapist)
    sign_in(prescriber, cast.prescriber)
    prescriber.goto(thread)
    expect(prescriber.get_by_text("No messages yet.")).to_be_visible()
    _live(prescriber)
    prescriber.evaluate("() => { window.stillTheSamePage = true; }")

    therapist.get_by_role("textbox", name="Message").fill(f"@{cast.prescriber.display_name} panic is back on the bus.")
    therapist.get_by_role("button", name="Send").click()
    messages = prescriber.locator("#thread-messages")
    expect(messages).to_contain_text("panic is back on the bus.", timeout=10_000)
    expect(messages).to_contain_text(f"Mentions {cast.prescriber.display_name}")
    assert prescriber.evaluate("() => window.stillTheSamePage === true")

    therapist.evaluate("() => { window.stillTheSamePage = true; }")
    _live(therapist)
    prescriber.get_by_role("textbox", name="Message").fill("Let's talk it through this week.")
    prescriber.get_by_role("button", name="Send").click()
    expect(therapist.locator("#thread-messages")).to_contain_text("Let's talk it through this week.", timeout=10_000)
    assert therapist.evaluate("() => window.stillTheSamePage === true")

    # The therapist asks for a consult at a time of their choosing.
    start = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)).replace(
        hour=18, minute=0, second=0, microsecond=0
    )
    local = start.astimezone(zoneinfo.ZoneInfo(cast.therapist.timezone))
    therapist.get_by_role("link", name="Request a consult").click()
    therapist.get_by_label("About").fill("Panic returned: dose or therapy?")
    therapist.get_by_label("A time that suits you").fill(local.strftime("%Y-%m-%dT%H:%M"))
    therapist.get_by_role("button", name="Send the request").click()
    expect(therapist.get_by_text("Consult requested.")).to_be_visible()

    # The prescriber sees the request arrive, and accepts it.
    expect(prescriber.locator("#thread-consults")).to_contain_text("Panic returned", timeout=10_000)
    prescriber.get_by_role("button", name="Accept and book").click()
    expect(prescriber.get_by_role("heading", level=1)).to_contain_text("Provider consult (30 min)")
    expect(prescriber.get_by_text("Booked. The consult is on both calendars.")).to_be_visible()
    appointment = Appointment.objects.get(appointment_type__kind="consult")
    assert appointment.starts_at == start
    assert {p.user_id for p in appointment.participants.all()} == {cast.therapist.pk, cast.prescriber.pk}
    therapist.reload()
    expect(therapist.locator("#thread-consults")).to_contain_text(re.compile("Booked"))
