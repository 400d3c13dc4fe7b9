"""Search over notes and messages finds only what the searcher may see."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.audit.services import RequestMeta
from tandem.messaging import threads
from tandem.records import notes
from tandem.records.models import Document, PsychotherapyNote
from tandem.records.search import search
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")


def _note(cast: Cast, data: str, *, part2: bool = False, sign: bool = True) -> Document:
    draft, _ = notes.start(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        kind="therapy_dap",
        occurred_on=datetime.date(2026, 11, 2),
        encounter=None,
        part2=part2,
        form_token=uuid.uuid4(),
        meta=META,
    )
    values = {"data": data, "assessment": "Improving.", "plan": "Continue."}
    if not sign:
        notes.save_draft(actor=cast.therapist, document=draft, values=values, base_revision=0)
        return draft
    return notes.sign(actor=cast.therapist, document=draft, values=values, base_revision=0, meta=META)


@pytest.fixture
def world(cast: Cast) -> Cast:
    authorization = grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    shared = _note(cast, "Insomnia most nights; wakes at four.")
    _note(cast, "Insomnia and cravings discussed.", part2=True)
    _note(cast, "Insomnia draft, half written.", sign=False)
    old = _note(cast, "Insomnia figure wrong in this version.")
    version, _ = notes.amend(actor=cast.therapist, document=old, change="amendment", reason="Fix", meta=META)
    notes.sign(
        actor=cast.therapist,
        document=version,
        values={"data": "Sleep corrected.", "assessment": "Improving.", "plan": "Continue."},
        base_revision=0,
        meta=META,
    )
    PsychotherapyNote.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        body="Insomnia as a defence against dreams.",
        occurred_on=datetime.date(2026, 11, 2),
    )
    threads.post(
        actor=cast.prescriber,
        patient=cast.patient,
        body="Her insomnia is worse on the higher dose.",
        form_token=uuid.uuid4(),
        meta=META,
    )
    retracted, _ = threads.post(
        actor=cast.prescriber, patient=cast.patient, body="Insomnia typo message.", form_token=uuid.uuid4(), meta=META
    )
    threads.retract(actor=cast.prescriber, message=retracted, meta=META)
    cast.authorization = authorization  # type: ignore[attr-defined]
    cast.shared_note = shared  # type: ignore[attr-defined]
    return cast


def _found(who: object, query: str = "insomnia") -> set[str]:
    return {h.snippet.split(";")[0].split(".")[0].strip("…") for h in search(who, query)}  # type: ignore[arg-type]


@pytest.mark.django_db
def test_each_searcher_finds_only_what_they_may_see(world: Cast) -> None:
    cast = world
    therapist = _found(cast.therapist)
    assert any("Insomnia most nights" in s for s in therapist)
    assert any("Insomnia and cravings" in s for s in therapist)  # their own Part 2 note
    assert any("insomnia is worse" in s for s in therapist)
    prescriber = _found(cast.prescriber)
    assert any("Insomnia most nights" in s for s in prescriber) and any("insomnia is worse" in s for s in prescriber)
    assert not any("cravings" in s for s in prescriber)  # Part 2 needs its own consent
    for found in (therapist, prescriber):
        assert not any("draft" in s or "defence" in s or "typo" in s or "figure wrong" in s for s in found)
    # The colleague reads the practice's chart but is not in the care team's thread.
    colleague = _found(cast.colleague)
    assert any("Insomnia most nights" in s for s in colleague) and not any("worse" in s for s in colleague)
    assert _found(cast.outsider) == set() and _found(cast.unrelated) == set()
    # Every word must match.
    assert any("Insomnia most nights" in s for s in _found(cast.therapist, "insomnia nights"))
    assert _found(cast.therapist, "insomnia zebra") == set()
    # Revoked consent: the prescriber no longer finds the practice's notes or the thread.
    type(cast.authorization).objects.filter(pk=cast.authorization.pk).update(revoked_at=timezone.now())  # type: ignore[attr-defined]
    assert _found(cast.prescriber) == set()


@pytest.mark.django_db
def test_the_search_page_is_audited_escapes_what_was_typed_and_has_a_budget(world: Cast) -> None:
    cast = world
    client = sign_in(Client(), cast.prescriber)
    url = reverse("records:search")
    assert "Words to find" in page_text(client.get(url))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"q": "insomnia"})
    assert page.status_code == 200 and len(queries) <= 16, len(queries)
    text = page_text(page)
    assert "2 results" in text and cast.shared_note.title in text  # type: ignore[attr-defined]
    event = AuditEvent.objects.filter(action="search", target_type="notes_and_messages").latest("seq")
    assert event.detail == {"results": 2, "query_length": 8}
    hostile = client.get(url, {"q": "<script>alert(1)</script> ' OR 1=1 --"})
    assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.content.decode()
    assert "Nothing matches" in page_text(hostile)


@pytest.mark.django_db
def test_on_the_demo_both_engines_find_the_same_hits() -> None:
    """The same words find the same notes and messages on SQLite and on
    PostgreSQL (this test runs in both suites against one reference)."""
    from tandem.access import policy
    from tandem.demo.seed import seed
    from tandem.messaging.models import Message

    users = seed()
    maya = users["therapist@riverbend.demo"]
    for word in ["panic", "sertraline", "exposure", "partner"]:
        hits = search(maya, word)
        expected_records = set()
        for patient in policy.visible_patients(maya):
            sharing = policy.sharing_for(maya, patient)
            expected_records |= {
                d.title for d in policy.visible_documents(sharing) if word in d.title.lower() or word in d.body.lower()
            }
        expected_messages = {
            m.public_id
            for m in Message.objects.filter(retracted_at__isnull=True, body__icontains=word)
            if policy.can_use_thread(maya, m.thread.patient)
        }
        found_records = {h.title for h in hits if h.kind == "record"}
        found_messages = {h.link.rsplit("#message-", 1)[1] for h in hits if h.kind == "message"}
        assert hits and len(hits) < 50, word
        assert found_records == expected_records, word
        assert found_messages == {str(i) for i in expected_messages}, word
