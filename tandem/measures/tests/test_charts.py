"""Score trends as accessible SVG with severity bands and medication changes."""

from __future__ import annotations

import datetime
import uuid
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse

from tandem.audit.services import RequestMeta
from tandem.measures import charts, instruments, services
from tandem.test import Cast, sign_in

SVG = "{http://www.w3.org/2000/svg}"
DAY = datetime.timedelta(days=1)
T0 = datetime.datetime(2026, 9, 1, 15, tzinfo=datetime.UTC)


def _phq9_series(cast: Cast, totals: list[int]) -> None:
    """PHQ-9s given in session, one per total, in order."""
    meta = RequestMeta(ip_address="127.0.0.1", user_agent="test")
    for total in totals:
        services.record_in_session(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            instrument_key="phq9",
            answers={str(n): min(3, max(0, total - 3 * (n - 1))) for n in range(1, 10)},
            language="en",
            form_token=uuid.uuid4(),
            meta=meta,
        )


def test_the_chart_has_bands_points_markers_and_words_for_screen_readers() -> None:
    phq9 = instruments.get("phq9")
    points = [charts.Point(T0 + n * 14 * DAY, total) for n, total in enumerate([18, 15, 11, 8])]
    markers = [charts.Marker(T0 + 3 * DAY, 'Sertraline 50 mg <script>alert("x")</script>')]
    svg = charts.trend_svg(phq9, points, markers)
    root = ET.fromstring(svg)  # well-formed: the marker's text is escaped
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "PHQ-9 over time"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "4 scores" in desc and "first 18, latest 8 (-10)" in desc and "1 medication change marked" in desc
    assert len(root.findall(f"{SVG}rect")) == len(phq9.bands) == 5
    assert len(root.findall(f"{SVG}circle")) == 4
    assert len(root.findall(f"{SVG}g")) == 1
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    # Higher scores sit higher: the y of 18 is above (smaller than) the y of 8.
    ys = [float(c.get("cy", "0")) for c in root.findall(f"{SVG}circle")]
    assert ys == sorted(ys)
    assert charts.trend_svg(phq9, []) == ""


@pytest.mark.django_db
def test_the_questionnaire_page_draws_each_instruments_trend_with_medication_changes(cast: Cast) -> None:
    _phq9_series(cast, [15, 9])
    from tandem.test import grant_authorization, start_medication

    start_medication(cast.patient, cast.prescriber, cast.northstar)
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    page = sign_in(Client(), cast.therapist).get(reverse("measures:list", args=[cast.patient.public_id]))
    html = page.content.decode()
    assert html.count('role="img"') == 1 and "PHQ-9 over time" in html
    assert "Sertraline started 50 mg" in html and 'class="medication"' in html
    # The marker crossed from Northstar to the practice: the ledger says so.
    from tandem.consent.models import Disclosure

    assert Disclosure.objects.filter(recipient_user=cast.therapist, classes=["medications"]).exists()


@pytest.mark.django_db
def test_the_chart_summary_pdf_carries_the_trends_only_where_consent_allows(cast: Cast) -> None:
    from tandem.consent.tests.helpers import pdf_text
    from tandem.test import grant_authorization

    _phq9_series(cast, [15, 9])
    url = reverse("records:summary_pdf", args=[cast.patient.public_id])
    own = pdf_text(sign_in(Client(), cast.therapist).get(url).content)
    assert "Questionnaires" in own and "PHQ-9" in own and "15 (Moderately severe)" in own and "9 (Mild)" in own
    assert "Questionnaires" not in pdf_text(sign_in(Client(), cast.prescriber).get(url).content)
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    assert "9 (Mild)" in pdf_text(sign_in(Client(), cast.prescriber).get(url).content)


@pytest.mark.django_db
def test_the_questionnaire_page_states_the_change_from_the_first_score(cast: Cast) -> None:
    _phq9_series(cast, [18, 12, 8])
    from tandem.test import page_text

    text = page_text(sign_in(Client(), cast.therapist).get(reverse("measures:list", args=[cast.patient.public_id])))
    assert "Change from the first score: <strong>-10</strong> (18 → 8)" in text and "response (a drop of half" in text
