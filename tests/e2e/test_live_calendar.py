"""A booking appears on the partner's open calendar without a reload.

Issue 5: the therapist books a co-treatment visit; the prescriber, signed in
in another browser, sees it appear on the week they have open, and in the
appointments of the patient's chart if that is what they have open. This runs
against the ASGI server, so the live socket is the real one: the booking's
notification goes over the channel layer to the prescriber's socket, and the
page fetches its week again in place.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from urllib.parse import urlencode

from e2e_harness import SignIn, wait_for_scripts
from playwright.sync_api import Locator, Page, expect

from tandem.credentials.models import ClinicianProfile, Discipline, LicenseType, StateLicense
from tandem.patients.models import Patient
from tandem.scheduling import services
from tandem.scheduling.models import Kind, WeeklyHours
from tandem.test import Cast, build_cast

CO_TREATMENT = "Co-treatment visit"
NOTHING_BOOKED = "Nothing booked."
NO_UPCOMING = "No upcoming appointments."
BOOKED = "Booked. The care team has been told."
MARKER = "still the same page"


def first_monday_of_next_month(today: datetime.date) -> datetime.date:
    """A Monday far enough ahead that its hours are all still to come: the
    servers run on the real clock, so time_machine cannot pick the day."""
    first = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return first + datetime.timedelta(days=(7 - first.weekday()) % 7)


def both_clinicians_keep_hours(cast: Cast) -> None:
    """Weekday hours for both, and an Oregon licence for the prescriber, as in
    tandem/scheduling/tests/test_booking.py."""
    for user, organization in [(cast.therapist, cast.riverbend), (cast.prescriber, cast.northstar)]:
        for weekday in range(5):
            WeeklyHours.objects.create(
                clinician=user,
                organization=organization,
                weekday=weekday,
                start=datetime.time(8),
                end=datetime.time(17),
                timezone="America/Los_Angeles",
            )
    ClinicianProfile.objects.create(user=cast.prescriber, discipline=Discipline.PSYCHIATRIST)
    StateLicense.objects.create(clinician=cast.prescriber, state="OR", license_type=LicenseType.MD, number="MD-1")


def booking_path(cast: Cast, patient: Patient, day: datetime.date) -> str:
    co_treatment = next(t for t in services.ensure_types(cast.riverbend) if t.kind == Kind.CO_TREATMENT)
    query = [
        ("appointment_type", str(co_treatment.public_id)),
        ("clinicians", str(cast.therapist.public_id)),
        ("clinicians", str(cast.prescriber.public_id)),
        ("modality", "video_home"),
        ("expected_state", "OR"),
        ("first_day", day.isoformat()),
        ("days", "1"),
    ]
    return f"/patients/{patient.public_id}/appointments/new/?{urlencode(query)}"


def day_on_the_calendar(page: Page, day: datetime.date) -> Locator:
    return page.get_by_role("region", name=re.compile(rf"^{day:%A}, {day:%b} {day.day}\b"))


def therapist_books_the_first_slot(page: Page, cast: Cast, day: datetime.date, sign_in: SignIn) -> None:
    sign_in(page, cast.therapist)
    page.goto(booking_path(cast, cast.patient, day))
    page.get_by_role("region", name="Open times").get_by_role("button").first.click()
    expect(page.get_by_role("status")).to_have_text(BOOKED)


def test_a_co_treatment_visit_appears_on_the_prescribers_open_week(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    both_clinicians_keep_hours(cast)
    monday = first_monday_of_next_month(datetime.date.today())
    prescriber, therapist = asgi_pages(), asgi_pages()

    # Northstar's prescriber has that week open: nothing on the Monday yet.
    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"/calendar/?week={monday.isoformat()}")
    wait_for_scripts(prescriber)
    expect(prescriber.get_by_role("heading", name=f"Week of {monday:%b} {monday.day}, {monday:%Y}")).to_be_visible()
    that_day = day_on_the_calendar(prescriber, monday)
    expect(that_day).to_contain_text(NOTHING_BOOKED)
    expect(prescriber.get_by_text(CO_TREATMENT)).to_have_count(0)
    # Only once the socket is open is the prescriber among those the server can tell.
    expect(prescriber.locator("body")).to_have_attribute("data-live-state", "open")
    prescriber.evaluate("marker => { window.__marker = marker; }", MARKER)

    # At Riverbend, the therapist books the first time open for both of them that Monday.
    therapist_books_the_first_slot(therapist, cast, monday, sign_in)

    # The prescriber's week shows it, without a reload.
    expect(prescriber.get_by_text(CO_TREATMENT)).to_be_visible()
    expect(that_day.get_by_role("link", name=re.compile(CO_TREATMENT))).to_be_visible()
    expect(that_day).not_to_contain_text(NOTHING_BOOKED)
    assert prescriber.evaluate("() => window.__marker") == MARKER, "the prescriber's page was reloaded"
    expect(prescriber.locator("body")).to_have_attribute("data-live-state", "open")


def test_it_appears_in_the_appointments_of_the_chart_the_prescriber_has_open(
    asgi_pages: Callable[[], Page], sign_in: SignIn
) -> None:
    cast = build_cast()
    both_clinicians_keep_hours(cast)
    monday = first_monday_of_next_month(datetime.date.today())
    prescriber, therapist = asgi_pages(), asgi_pages()

    sign_in(prescriber, cast.prescriber)
    prescriber.goto(f"/patients/{cast.patient.public_id}/")
    wait_for_scripts(prescriber)
    appointments = prescriber.get_by_role("region", name="Appointments with the care team")
    expect(appointments).to_contain_text(NO_UPCOMING)
    expect(prescriber.locator("body")).to_have_attribute("data-live-state", "open")
    prescriber.evaluate("marker => { window.__marker = marker; }", MARKER)

    therapist_books_the_first_slot(therapist, cast, monday, sign_in)

    expect(appointments.get_by_role("listitem").filter(has_text=CO_TREATMENT)).to_contain_text(
        cast.therapist.display_name
    )
    expect(appointments).not_to_contain_text(NO_UPCOMING)
    assert prescriber.evaluate("() => window.__marker") == MARKER, "the prescriber's page was reloaded"
