"""Every kind of note, against the whole cast and each state of the patient's
consent, on every surface a note can reach: its own page, the chart's record
list and activity timeline, the "since your last visit" digest, search, and
notifications.

The expectation is written out here by hand (``sees``), from the rules, not
computed by the policy under test:

* a shared note travels to the partner group under a coordination authorization;
* a Part 2 note only under a Part 2 consent;
* a psychotherapy note is its author's alone, unless a psychotherapy-notes
  authorization names the reader; even then it never reaches a shared surface
  (list, timeline, digest, search, notification).
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.audit.services import RequestMeta
from tandem.messaging.models import Notification
from tandem.records import notes
from tandem.records.models import PsychotherapyNote
from tandem.records.search import search
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
WORD = "kestrel"  # in every note's text, and nowhere else
STATES = ["none", "coordination", "part2", "psychotherapy", "revoked"]
KINDS = ["shared", "part2", "psychotherapy"]
PRACTICE = {"therapist", "colleague", "admin"}
GROUP = {"prescriber", "group_admin"}
EVERYONE = ["therapist", "colleague", "prescriber", "unrelated", "outsider", "admin", "group_admin", "patient_user"]


def sees(state: str, kind: str, who: str) -> bool:
    """Whether ``who`` may read the note, by the rules."""
    if kind == "psychotherapy":
        return who == "therapist" or (state == "psychotherapy" and who == "prescriber")
    if who in PRACTICE:
        return True
    if who in GROUP:
        if kind == "shared":
            return state in {"coordination", "part2", "psychotherapy"}
        return state == "part2"
    return False


def _consent(cast: Cast, state: str) -> None:
    signed = timezone.now() - datetime.timedelta(days=1)
    if state == "none":
        return
    coordination = grant_authorization(cast.patient, cast.riverbend, cast.northstar, signed_at=signed)
    if state == "part2":
        grant_authorization(cast.patient, cast.riverbend, cast.northstar, kind="part2", mutual=False, signed_at=signed)
    if state == "psychotherapy":
        grant_authorization(
            cast.patient,
            cast.riverbend,
            cast.northstar,
            kind="psychotherapy_notes",
            mutual=False,
            recipient_clinician=cast.prescriber,
            signed_at=signed,
        )
    if state == "revoked":
        type(coordination).objects.filter(pk=coordination.pk).update(revoked_at=timezone.now())


def _write(cast: Cast, kind: str) -> tuple[str, str]:
    """The note, as its author writes it now; its page and its title."""
    if kind == "psychotherapy":
        note = PsychotherapyNote.objects.create(
            patient=cast.patient,
            organization=cast.riverbend,
            author=cast.therapist,
            body=f"Process notes: {WORD} dream.",
            occurred_on=timezone.localdate(),
        )
        return reverse("records:pn", args=[cast.patient.public_id, note.public_id]), "Process notes"
    draft, _ = notes.start(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        kind="therapy_dap",
        occurred_on=timezone.localdate(),
        encounter=None,
        part2=kind == "part2",
        form_token=uuid.uuid4(),
        meta=META,
    )
    values = {"data": f"Talked about the {WORD} at the window.", "assessment": "Calmer.", "plan": "Weekly."}
    signed = notes.sign(actor=cast.therapist, document=draft, values=values, base_revision=0, meta=META)
    return reverse("records:document", args=[cast.patient.public_id, signed.public_id]), signed.title


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("state", STATES)
def test_a_note_reaches_exactly_who_may_see_it_everywhere(state: str, kind: str, cast: Cast) -> None:
    _consent(cast, state)
    page, title = _write(cast, kind)
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    people = cast.everyone()
    for who in EVERYONE:
        allowed = sees(state, kind, who)
        client = sign_in(Client(), people[who])
        # Its own page: 200, or 404 exactly as if it did not exist.
        assert client.get(page).status_code == (200 if allowed else 404), (who, "page")
        # The chart's record list and activity timeline, for those who may open the chart.
        response = client.get(chart)
        if response.status_code == 200:
            text = page_text(response)
            shared_surface = allowed and kind != "psychotherapy"
            assert (title in text) == shared_surface, (who, "chart")
            assert WORD not in text, (who, "chart shows no note text")
            if who == "prescriber":  # on the care team: the chart opens with the digest
                digest = text.split("Since you", 1)[1].split("</section>", 1)[0]
                assert (title in digest) == shared_surface, (who, "digest")
        # Search finds it only for those who may see it, and never a psychotherapy note.
        found = search(people[who], WORD)
        assert bool(found) == (allowed and kind != "psychotherapy"), (who, "search")
    # Notifications: the care team's other members who may see it; never a psychotherapy note.
    told = set(Notification.objects.filter(kind="note_signed").values_list("recipient__email", flat=True))
    expected = {people["prescriber"].email} if kind != "psychotherapy" and sees(state, kind, "prescriber") else set()
    assert told == expected
    assert not Notification.objects.filter(text__icontains=WORD).exists()
