"""The consent gate, case by case: every information class, every consent
state, every member of the cast, on every page and list that shows records.

Each case is either visible, or absent (a 404 for pages of its own). The
expected answer comes from ``expected()`` below, a plain restatement of the
rules, written apart from ``access/policy.py`` so the two check each other.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from tandem.access.classes import RECORD_CLASSES, TREATMENT_CLASSES
from tandem.records.models import Document, PsychotherapyNote
from tandem.test import Cast, grant_authorization, sign_in

PRACTICE = {"therapist", "colleague", "admin"}
PARTNER = {"prescriber", "group_admin"}
NOBODY = {"unrelated", "outsider", "patient_user"}
VIEWERS = sorted(PRACTICE | PARTNER | NOBODY)
STATES = [
    "none",
    "active",
    "expired",
    "revoked",
    "psychotherapy_notes_only",
    "part2_missing",
    "part2_consent",
    "treatment_without_authorization",
]
PHONE = "503-555-0199"
STREET = "77 Marker Lane"
PN_MARKER = "pn-marker-therapist-only"
SHARING_STATES = {"active", "part2_missing", "part2_consent", "treatment_without_authorization"}


def expected(info_class: str, source: str, state: str, who: str) -> bool:
    """Whether this viewer sees this class of this organization's information."""
    if who in NOBODY:
        return False
    if info_class == "psychotherapy_notes":
        return who == "therapist" or (state == "psychotherapy_notes_only" and who == "prescriber")
    own = (source == "riverbend" and who in PRACTICE) or (source == "northstar" and who in PARTNER)
    if own:
        return True
    if info_class == "part2":
        return state == "part2_consent" and source == "riverbend"
    return state in SHARING_STATES


def apply_state(cast: Cast, state: str) -> None:
    now = timezone.now()
    rb, ns = cast.riverbend, cast.northstar
    if state in {"active", "part2_missing", "part2_consent"}:
        grant_authorization(cast.patient, rb, ns)
    elif state == "expired":
        grant_authorization(
            cast.patient,
            rb,
            ns,
            signed_at=now - datetime.timedelta(days=400),
            expires_on=rb.local_date() - datetime.timedelta(days=1),
        )
    elif state == "revoked":
        grant_authorization(cast.patient, rb, ns, revoked_at=now - datetime.timedelta(minutes=5))
    elif state == "psychotherapy_notes_only":
        grant_authorization(
            cast.patient, rb, ns, kind="psychotherapy_notes", mutual=False, recipient_clinician=cast.prescriber
        )
    elif state == "treatment_without_authorization":
        rb.treatment_sharing_requires_authorization = False
        rb.save()
    if state == "part2_consent":
        grant_authorization(cast.patient, rb, ns, kind="part2", mutual=False)


def build_records(cast: Cast) -> dict[str, tuple[str, str, Document]]:
    """One record of every class from the practice, a Part 2 record, and one
    from the partner group; keyed by a marker in its title."""
    cast.patient.phone = PHONE
    cast.patient.address_line1 = STREET
    cast.patient.save()
    day = datetime.date(2026, 3, 2)
    records: dict[str, tuple[str, str, Document]] = {}
    for info_class in RECORD_CLASSES:
        marker = f"rb-marker-{info_class}"
        records[marker] = (
            info_class,
            "riverbend",
            Document.objects.create(
                patient=cast.patient,
                organization=cast.riverbend,
                author=cast.therapist,
                info_class=info_class,
                title=marker,
                body=f"body of {marker}",
                occurred_on=day,
            ),
        )
    records["rb-marker-part2"] = (
        "part2",
        "riverbend",
        Document.objects.create(
            patient=cast.patient,
            organization=cast.riverbend,
            author=cast.therapist,
            info_class="progress_notes",
            part2=True,
            title="rb-marker-part2",
            body="body of rb-marker-part2",
            occurred_on=day,
        ),
    )
    records["ns-marker-progress_notes"] = (
        "progress_notes",
        "northstar",
        Document.objects.create(
            patient=cast.patient,
            organization=cast.northstar,
            author=cast.prescriber,
            info_class="progress_notes",
            title="ns-marker-progress_notes",
            body="body of ns-marker-progress_notes",
            occurred_on=day,
        ),
    )
    return records


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.django_db
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("who", VIEWERS)
def test_each_class_is_visible_or_absent(state: str, who: str, cast: Cast) -> None:
    records = build_records(cast)
    note = PsychotherapyNote.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        body=PN_MARKER,
        occurred_on=datetime.date(2026, 3, 2),
    )
    apply_state(cast, state)
    client = sign_in(Client(), cast.everyone()[who])
    pid = cast.patient.public_id
    sees_demographics = expected("demographics", "riverbend", state, who)

    # The chart: demographics, the record list and the timeline.
    chart = client.get(reverse("patients:chart", args=[pid]))
    if who in NOBODY:
        assert chart.status_code == 404
    else:
        assert chart.status_code == 200
        text = chart.content.decode()
        assert (PHONE in text) is sees_demographics
        assert (STREET in text) is sees_demographics
        for marker, (info_class, source, _doc) in records.items():
            assert (marker in text) is expected(info_class, source, state, who), marker
        assert PN_MARKER not in text  # never in shared views, not even the author's
        pn_link = reverse("records:pn_list", args=[pid]) in text
        assert pn_link is (
            who in {"therapist", "colleague"} or (state == "psychotherapy_notes_only" and who == "prescriber")
        )
        withheld = any(not expected(c, s, state, who) for c in TREATMENT_CLASSES for s in ("riverbend", "northstar"))
        assert ("Some information is not shared with you." in text) is withheld

    # Each record's own page: visible, or 404.
    for marker, (info_class, source, doc) in records.items():
        page = client.get(reverse("records:document", args=[pid, doc.public_id]))
        assert page.status_code == (200 if expected(info_class, source, state, who) else 404), marker
    pn_page = client.get(reverse("records:pn", args=[pid, note.public_id]))
    assert pn_page.status_code == (200 if expected("psychotherapy_notes", "riverbend", state, who) else 404)

    # Lists and search: the patient's insurance is demographics.
    for query in ("", "?q=Quintero"):
        listing = client.get(reverse("patients:list") + query).content.decode()
        assert (reverse("patients:chart", args=[pid]) in listing) is (who not in NOBODY)
        assert ("Aetna" in listing) is sees_demographics
        assert PN_MARKER not in listing

    # The chart summary PDF.
    summary = client.get(reverse("records:summary_pdf", args=[pid]))
    if who in NOBODY:
        assert summary.status_code == 404
    else:
        assert summary.status_code == 200
        text = pdf_text(summary.content)
        assert (PHONE in text) is sees_demographics
        for marker, (info_class, source, _doc) in records.items():
            assert (marker in text) is expected(info_class, source, state, who), marker
        assert PN_MARKER not in text


def test_the_expected_table_covers_every_class_and_state() -> None:
    """The table above is not trivially true or false anywhere that matters."""
    classes = [*TREATMENT_CLASSES, "psychotherapy_notes", "part2"]
    for info_class in classes:
        answers = {expected(info_class, "riverbend", s, w) for s in STATES for w in VIEWERS}
        assert answers == {True, False}, info_class
    assert expected("progress_notes", "riverbend", "active", "prescriber")
    assert not expected("progress_notes", "riverbend", "revoked", "prescriber")
    assert not expected("part2", "riverbend", "part2_missing", "prescriber")
    assert not expected("psychotherapy_notes", "riverbend", "active", "prescriber")
    assert not expected("psychotherapy_notes", "riverbend", "active", "colleague")
