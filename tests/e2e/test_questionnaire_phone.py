"""A patient answers a PHQ-9 through the link, on a phone, in Spanish: no
account, large targets, the whole questionnaire usable at a phone's width,
and the score reaches the chart."""

from __future__ import annotations

from e2e_harness import BrowserProblems, new_context, new_page
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from tandem.audit.services import SYSTEM
from tandem.measures import links
from tandem.measures.models import Response
from tandem.test import build_cast

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "es-US",
}
ANSWERS = [
    "Varios días",
    "Más de la mitad de los días",
    "Varios días",
    "Casi todos los días",
    "Ningún día",
    "Varios días",
    "Ningún día",
    "Ningún día",
    "Ningún día",
]


def test_a_patient_answers_a_phq9_on_a_phone_in_spanish(
    browser: Browser, live_server: LiveServer, browser_problems: BrowserProblems
) -> None:
    cast = build_cast()
    _link, token = links.send(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        instrument_keys=["phq9"],
        language="es",
        channel="none",
        meta=SYSTEM,
    )
    browser_problems.allow_status(400, f"/q/{token}/")  # sending it unfinished, on purpose
    context = new_context(browser, live_server.url, browser_problems, **PHONE)
    page = new_page(context, browser_problems)
    page.goto(f"/q/{token}/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_text("Durante las últimas 2 semanas")).to_be_visible()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    # Save part of it, leave, and come back: the answers are still there.
    for n, answer in enumerate(ANSWERS[:4], start=1):
        page.get_by_role("group", name=f"{n}.").get_by_role("radio", name=answer, exact=True).tap()
    page.get_by_role("button", name="Guardar y terminar más tarde").tap()
    expect(page.get_by_role("status")).to_contain_text("Puede volver a este enlace")
    page.goto(f"/q/{token}/")
    expect(page.get_by_role("group", name="4.").get_by_role("radio", name="Casi todos los días")).to_be_checked()
    # Sending it unfinished says what is missing, in Spanish.
    page.get_by_role("button", name="Enviar mis respuestas").tap()
    expect(page.get_by_role("alert")).to_contain_text("Faltan: 5, 6, 7, 8, 9")
    for n, answer in enumerate(ANSWERS, start=1):
        page.get_by_role("group", name=f"{n}.").get_by_role("radio", name=answer, exact=True).check()
    target = page.get_by_role("button", name="Enviar mis respuestas")
    box = target.bounding_box()
    assert box is not None and box["height"] >= 40  # a thumb-sized target
    target.tap()
    expect(page.get_by_text("Gracias. Sus respuestas han llegado a su equipo de atención.")).to_be_visible()
    response = Response.objects.get()
    assert (response.total, response.band, response.language) == (8, "Mild", "es")
    assert response.critical == []
    context.close()
    problems = browser_problems.summary()
    assert not problems, problems
