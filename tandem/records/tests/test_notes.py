"""Encounter notes: templates, drafts that save as the author types, signing
that locks, and amendments and addenda that keep every version."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.audit.services import RequestMeta
from tandem.records import note_kinds, notes
from tandem.records.models import Document, NoteStatus
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
DAP = {"data": "Slept six hours most nights.", "assessment": "Less avoidance.", "plan": "Continue weekly CBT."}


def _draft(cast: Cast, kind: str = "therapy_dap") -> Document:
    draft, created = notes.start(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        kind=kind,
        occurred_on=datetime.date(2026, 11, 20),
        encounter=None,
        part2=False,
        form_token=uuid.uuid4(),
        meta=META,
    )
    assert created
    return draft


def _signed(cast: Cast) -> Document:
    draft = _draft(cast)
    return notes.sign(actor=cast.therapist, document=draft, values=DAP, base_revision=0, meta=META)


def _edit(cast: Cast, document: Document) -> str:
    return reverse("records:note_edit", args=[cast.patient.public_id, document.public_id])


def _autosave(cast: Cast, document: Document) -> str:
    return reverse("records:note_autosave", args=[cast.patient.public_id, document.public_id])


@pytest.mark.django_db
def test_every_template_has_fields_a_free_text_and_a_writer() -> None:
    assert {k.key for k in note_kinds.KINDS} == {
        "psychiatric_evaluation",
        "medication_management",
        "therapy_dap",
        "therapy_birp",
        "provider_consult",
        "collateral_contact",
    }
    for kind in note_kinds.KINDS:
        assert kind.roles and kind.fields[-1].key == note_kinds.FREE_TEXT
        assert any(f.required for f in kind.fields)
    evaluation = note_kinds.BY_KEY["psychiatric_evaluation"]
    labels = " ".join(f.label for f in evaluation.fields)
    for part in ["History", "Mental status exam", "Risk", "DSM-5 diagnosis", "Plan"]:
        assert part in labels
    soap = [f.label for f in note_kinds.BY_KEY["medication_management"].fields][:4]
    assert soap == ["Subjective", "Objective", "Assessment", "Plan"]


@pytest.mark.django_db
def test_a_therapist_writes_saves_and_signs_a_note_through_the_pages(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    start = reverse("records:note_new", args=[cast.patient.public_id])
    page = client.get(start)
    text = page_text(page)
    assert page.status_code == 200 and "Therapy progress note (DAP)" in text and "BIRP" in text
    assert "Medication management" not in text  # a prescriber's template
    assert "Shared once signed" in text and "Write a psychotherapy note" in text
    token = str(uuid.uuid4())
    form = {"form_token": token, "kind": "therapy_dap", "occurred_on": "2026-11-20", "encounter": ""}
    first = client.post(start, form)
    again = client.post(start, form)  # a double submit
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    draft = Document.objects.get(author=cast.therapist, status=NoteStatus.DRAFT)
    saved = client.post(_autosave(cast, draft), {"revision": "0", "data": DAP["data"]})
    assert saved.status_code == 200 and saved.json()["revision"] == 1
    # Signing with required fields empty is refused, and says which.
    early = client.post(_edit(cast, draft), {"revision": "1", "data": DAP["data"], "action": "sign"})
    assert early.status_code == 400 and "Fill in before signing: Assessment, Plan" in page_text(early)
    signed = client.post(_edit(cast, draft), {"revision": "1", **DAP, "action": "sign"})
    assert signed.status_code == 302
    draft.refresh_from_db()
    assert draft.status == NoteStatus.SIGNED and draft.signed_at is not None
    assert draft.body.startswith("Data:\nSlept six hours") and "Plan:\nContinue weekly CBT." in draft.body
    assert AuditEvent.objects.filter(action="sign", target_id=str(draft.public_id)).count() == 1
    chart = page_text(client.get(reverse("patients:chart", args=[cast.patient.public_id])))
    assert draft.title in chart


@pytest.mark.django_db
def test_bad_input_gets_a_clear_error_and_writes_nothing(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    start = reverse("records:note_new", args=[cast.patient.public_id])
    base = {"form_token": str(uuid.uuid4()), "occurred_on": "2026-11-20", "encounter": ""}
    # A prescriber's template, and a visit that is not one of this therapist's.
    wrong_kind = client.post(start, {**base, "kind": "medication_management"})
    foreign_visit = client.post(start, {**base, "kind": "therapy_dap", "encounter": str(uuid.uuid4())})
    future = client.post(start, {**base, "kind": "therapy_dap", "occurred_on": "2099-01-01"})
    assert wrong_kind.status_code == foreign_visit.status_code == future.status_code == 400
    assert "Select a valid choice" in page_text(foreign_visit)
    assert not Document.objects.filter(kind__in=["therapy_dap", "medication_management"]).exists()
    draft = _draft(cast)
    huge = client.post(_autosave(cast, draft), {"revision": "0", "data": "x" * (note_kinds.FIELD_MAX + 1)})
    assert huge.status_code == 400 and "data" in huge.json()["fields"]
    script = '<script>alert("x")</script>\'; DROP TABLE records_document; --'
    ok = client.post(_autosave(cast, draft), {"revision": "0", "data": script})
    assert ok.status_code == 200
    draft.refresh_from_db()
    assert draft.fields["data"] == script  # kept as typed, as text
    page = client.get(_edit(cast, draft)).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


@pytest.mark.django_db
def test_two_tabs_on_one_draft_conflict_and_nothing_is_lost(cast: Cast) -> None:
    draft = _draft(cast)
    client = sign_in(Client(), cast.therapist)
    # Both tabs opened the draft at revision 0.
    tab_a = client.post(_autosave(cast, draft), {"revision": "0", "data": "Typed in tab A."})
    assert tab_a.status_code == 200 and tab_a.json()["revision"] == 1
    tab_b = client.post(_autosave(cast, draft), {"revision": "0", "data": "Typed in tab B."})
    assert tab_b.status_code == 409
    body = tab_b.json()
    assert body["conflict"] is True and body["revision"] == 1 and body["fields"] == {"data": "Typed in tab A."}
    draft.refresh_from_db()
    assert draft.fields == {"data": "Typed in tab A."}  # B did not overwrite A
    # B saves on purpose, from the revision it was shown.
    keep_b = client.post(_autosave(cast, draft), {"revision": "1", "data": "Typed in tab B."})
    assert keep_b.status_code == 200
    draft.refresh_from_db()
    assert draft.fields == {"data": "Typed in tab B."} and draft.revision == 2
    # Without script, the form says the same: both texts on the page, and its own kept in the form.
    stale = client.post(_edit(cast, draft), {"revision": "1", "data": "A third text.", "action": "save"})
    text = page_text(stale)
    assert stale.status_code == 409 and "changed in another window" in text
    assert "Typed in tab B." in text and "A third text." in text
    assert 'name="revision" value="2"' in stale.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_signed_note_cannot_change_by_any_path(cast: Cast) -> None:
    note = _signed(cast)
    original = (note.body, dict(note.fields), note.title, note.signed_at)
    client = sign_in(Client(), cast.therapist)
    # The pages: no editor, and crafted posts find nothing to edit.
    assert client.get(_edit(cast, note)).status_code == 404
    for action in ["save", "sign", "discard"]:
        crafted = client.post(_edit(cast, note), {"revision": "1", "data": "Rewritten.", "action": action})
        assert crafted.status_code == 404
    assert client.post(_autosave(cast, note), {"revision": "1", "data": "Rewritten."}).status_code == 404
    page = client.get(reverse("records:document", args=[cast.patient.public_id, note.public_id])).content.decode()
    assert "<textarea" not in page and "Amend or add an addendum" in page
    # The service layer.
    with pytest.raises(notes.NoteLocked):
        notes.save_draft(actor=cast.therapist, document=note, values={"data": "Rewritten."}, base_revision=1)
    with pytest.raises(notes.NoteLocked):
        notes.sign(actor=cast.therapist, document=note, values=DAP, base_revision=1, meta=META)
    with pytest.raises(notes.NoteLocked):
        notes.discard(actor=cast.therapist, document=note, meta=META)
    # The database itself: the ORM, a queryset update, raw SQL.
    note.body = "Rewritten."
    with pytest.raises(IntegrityError), transaction.atomic():
        note.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Document.objects.filter(pk=note.pk).update(title="Rewritten")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE records_document SET status = 'draft' WHERE id = %s", [note.pk])
    note.refresh_from_db()
    assert (note.body, note.fields, note.title, note.signed_at) == original
    # A draft, though, is still the author's to change.
    draft = _draft(cast)
    Document.objects.filter(pk=draft.pk).update(title="Renamed draft")


@pytest.mark.django_db
def test_an_amendment_is_a_new_version_and_the_original_stays_readable(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    note = _signed(cast)
    client = sign_in(Client(), cast.therapist)
    amend_url = reverse("records:note_amend", args=[cast.patient.public_id, note.public_id])
    no_reason = client.post(amend_url, {"change": "amendment", "reason": ""})
    assert no_reason.status_code == 400
    opened = client.post(amend_url, {"change": "amendment", "reason": "Wrong sleep figure"})
    twice = client.post(amend_url, {"change": "amendment", "reason": "Wrong sleep figure"})
    assert opened.status_code == twice.status_code == 302 and opened["Location"] == twice["Location"]
    version = Document.objects.get(amends=note)
    assert version.status == NoteStatus.DRAFT and version.version == 2 and version.fields == note.fields
    # Until it is signed, the chart and the other clinician still read the original.
    prescriber = sign_in(Client(), cast.prescriber)
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    assert note.title in page_text(prescriber.get(chart))
    changed = {**DAP, "data": "Slept five hours most nights."}
    signed = notes.sign(actor=cast.therapist, document=version, values=changed, base_revision=0, meta=META)
    assert signed.title.endswith("(amended)")
    shown = page_text(prescriber.get(chart))
    assert "Slept five hours" not in shown  # the chart lists, it does not print bodies
    read_new = page_text(prescriber.get(reverse("records:document", args=[cast.patient.public_id, signed.public_id])))
    assert "Slept five hours most nights." in read_new
    old_page = prescriber.get(reverse("records:document", args=[cast.patient.public_id, note.public_id]))
    old_text = page_text(old_page)
    assert old_page.status_code == 200 and "Slept six hours most nights." in old_text
    assert "A newer version replaces it" in old_text
    note.refresh_from_db()
    assert note.fields == DAP and note.status == NoteStatus.SIGNED
    # The chart shows the newest version only.
    ids = [d.public_id for d in Document.objects.filter(patient=cast.patient)]
    from tandem.access import policy

    current = [d.public_id for d in policy.current_documents(cast.patient)]
    assert signed.public_id in current and note.public_id not in current and note.public_id in ids
    history = page_text(
        prescriber.get(reverse("records:note_history", args=[cast.patient.public_id, signed.public_id]))
    )
    assert "Version 1" in history and "Version 2: amendment" in history and "Wrong sleep figure" in history
    assert history.count(cast.therapist.display_name) == 2
    # An older version cannot be amended again, only the newest.
    with pytest.raises(notes.NoteError, match="already amended"):
        notes.amend(actor=cast.therapist, document=note, change="addendum", reason="More", meta=META)
    # Only the author amends.
    with pytest.raises(notes.NoteError, match="Only the author"):
        notes.amend(actor=cast.colleague, document=signed, change="addendum", reason="More", meta=META)


@pytest.mark.django_db
def test_an_addendum_reads_as_the_note_followed_by_what_it_adds(cast: Cast) -> None:
    note = _signed(cast)
    addendum, _ = notes.amend(
        actor=cast.therapist, document=note, change="addendum", reason="Collateral call", meta=META
    )
    assert addendum.fields == {} and notes.template_for(addendum) is note_kinds.ADDENDUM
    signed = notes.sign(
        actor=cast.therapist,
        document=addendum,
        values={"addendum": "Mother confirms better sleep."},
        base_revision=0,
        meta=META,
    )
    assert signed.body.startswith(note.body)
    assert "(Collateral call):\nMother confirms better sleep." in signed.body


@pytest.mark.django_db
def test_drafts_are_their_authors_alone(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    draft = _draft(cast)
    notes.save_draft(actor=cast.therapist, document=draft, values={"data": "Half a thought"}, base_revision=0)
    for who in [cast.colleague, cast.prescriber, cast.admin]:
        client = sign_in(Client(), who)
        assert client.get(_edit(cast, draft)).status_code == 404
        document = reverse("records:document", args=[cast.patient.public_id, draft.public_id])
        assert client.get(document).status_code == 404
        assert "Half a thought" not in page_text(client.get(reverse("patients:chart", args=[cast.patient.public_id])))
        with pytest.raises(notes.NoteError):
            notes.save_draft(actor=who, document=draft, values={"data": "Mine now"}, base_revision=1)
    mine = page_text(sign_in(Client(), cast.therapist).get(reverse("patients:chart", args=[cast.patient.public_id])))
    assert "Your unsigned notes" in mine and draft.title in mine


@pytest.mark.django_db
def test_note_pages_have_query_budgets(cast: Cast) -> None:
    note = _signed(cast)
    draft = _draft(cast)
    client = sign_in(Client(), cast.therapist)
    budgets = {
        reverse("records:note_new", args=[cast.patient.public_id]): 16,
        _edit(cast, draft): 14,
        reverse("records:note_history", args=[cast.patient.public_id, note.public_id]): 20,
        reverse("records:note_amend", args=[cast.patient.public_id, note.public_id]): 18,
        reverse("records:document", args=[cast.patient.public_id, note.public_id]): 20,
    }
    for url, budget in budgets.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert len(queries) <= budget, (url, len(queries))
    with CaptureQueriesContext(connection) as queries:
        saved = client.post(_autosave(cast, draft), {"revision": "0", "data": "More."})
    assert saved.status_code == 200 and len(queries) <= 14, len(queries)
    assert json.loads(saved.content)["revision"] == 1


@pytest.mark.django_db
def test_unsigned_notes_come_due_after_72_hours_and_reach_the_admin_after_a_week(cast: Cast) -> None:
    import time_machine

    started = datetime.datetime(2026, 11, 2, 17, 0, tzinfo=datetime.UTC)
    with time_machine.travel(started, tick=False):
        draft = _draft(cast)
    today = reverse("home:today")
    therapist, admin = sign_in(Client(), cast.therapist), sign_in(Client(), cast.admin)
    with time_machine.travel(started + datetime.timedelta(hours=71)):
        assert "Sign your note" not in page_text(therapist.get(today))
    with time_machine.travel(started + datetime.timedelta(hours=73)):
        due = page_text(therapist.get(today))
        assert f"Sign your note: {draft.title}" in due and "unsigned since Nov 2" in due
        assert "Unsigned for over a week" not in page_text(admin.get(today))
    with time_machine.travel(started + datetime.timedelta(days=8)):
        escalated = page_text(admin.get(today))
        assert f"{cast.therapist.display_name}'s note for {cast.patient.display_name}" in escalated
        assert "Unsigned for over a week" not in page_text(sign_in(Client(), cast.group_admin).get(today))
    notes.sign(actor=cast.therapist, document=draft, values=DAP, base_revision=0, meta=META)
    with time_machine.travel(started + datetime.timedelta(days=8)):
        assert "Sign your note" not in page_text(therapist.get(today))
        assert "Unsigned for over a week" not in page_text(admin.get(today))


@pytest.mark.django_db
def test_a_co_treatment_visit_shows_both_clinicians_notes_side_by_side(cast: Cast) -> None:
    from django.utils import timezone

    from tandem.scheduling.models import Appointment, Participant
    from tandem.scheduling.services import ensure_types

    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    kind = next(t for t in ensure_types(cast.riverbend) if t.kind == "co_treatment")
    start = timezone.now() - datetime.timedelta(hours=2)
    visit = Appointment.objects.create(
        organization=cast.riverbend,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=60),
        modality="video_office",
        status="completed",
        created_by=cast.therapist,
    )
    for person in (cast.therapist, cast.prescriber):
        Participant.objects.create(appointment=visit, user=person, starts_at=start, ends_at=visit.ends_at)
    page = reverse("scheduling:appointment", args=[visit.public_id])
    therapist, prescriber = sign_in(Client(), cast.therapist), sign_in(Client(), cast.prescriber)
    empty = page_text(therapist.get(page))
    assert "No signed notes for this visit yet." in empty and "Write your note" in empty
    # Each chooses this visit when starting their note (their own discipline's template).
    start_page = page_text(prescriber.get(reverse("records:note_new", args=[cast.patient.public_id])))
    assert "Co-treatment visit" in start_page and "Medication management" in start_page
    soap = {"subjective": "Sleeping better.", "objective": "Brighter.", "assessment": "Responding.", "plan": "Same."}
    for who, org, kind_key, values in (
        (cast.therapist, cast.riverbend, "therapy_dap", DAP),
        (cast.prescriber, cast.northstar, "medication_management", soap),
    ):
        draft, _ = notes.start(
            actor=who,
            patient=cast.patient,
            organization=org,
            kind=kind_key,
            occurred_on=timezone.localdate(),
            encounter=visit,
            part2=False,
            form_token=uuid.uuid4(),
            meta=META,
        )
        notes.sign(actor=who, document=draft, values=values, base_revision=0, meta=META)
    for client in (therapist, prescriber):
        text = page_text(client.get(page))
        assert "Therapy progress note (DAP)" in text and "Medication management" in text
        assert "Continue weekly CBT." in text and "Responding." in text
        assert cast.therapist.display_name in text and cast.prescriber.display_name in text
    # The outsider sees neither the visit nor its notes.
    outsider = sign_in(Client(), cast.outsider)
    assert outsider.get(page).status_code == 404


@pytest.mark.django_db
def test_a_signed_note_reaches_who_may_see_it_and_the_author_sees_who_read_it(cast: Cast) -> None:
    from tandem.messaging.models import Notification
    from tandem.records.models import NoteRead

    # Without an authorization the partner prescriber does not see Riverbend's notes: no notification.
    first = _signed(cast)
    assert not Notification.objects.filter(kind="note_signed", recipient=cast.prescriber).exists()
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    note = _signed(cast)
    sent = Notification.objects.filter(kind="note_signed")
    assert {n.recipient for n in sent} == {cast.prescriber}  # the care team, not the author or outsiders
    notice = sent.get()
    assert cast.patient.first_name not in notice.text and cast.patient.last_name not in notice.text
    assert "Slept" not in notice.text and notice.link.endswith(f"/records/{note.public_id}/")
    # A Part 2 note needs the Part 2 consent: coordination alone does not carry it.
    part2 = _draft(cast)
    Document.objects.filter(pk=part2.pk).update(part2=True)
    part2.refresh_from_db()
    notes.sign(actor=cast.therapist, document=part2, values=DAP, base_revision=0, meta=META)
    assert Notification.objects.filter(kind="note_signed").count() == 1
    # The prescriber opens it from the inbox: a receipt for the author, the notification read.
    prescriber = sign_in(Client(), cast.prescriber)
    inbox = page_text(prescriber.get(reverse("messaging:inbox")))
    assert "New note from" in inbox and "1 unread" in inbox
    assert prescriber.get(notice.link).status_code == 200
    prescriber.get(notice.link)  # a second look is not a second receipt
    assert NoteRead.objects.filter(document=note).count() == 1
    notice.refresh_from_db()
    assert notice.read_at is not None
    author_view = page_text(sign_in(Client(), cast.therapist).get(notice.link))
    assert "Read by" in author_view and cast.prescriber.display_name in author_view
    assert not NoteRead.objects.filter(reader=cast.therapist).exists()  # the author's own views are not receipts
    # Someone else's view of the author's page shows no receipts.
    assert "Read by" not in page_text(prescriber.get(notice.link))
    assert first.pk and not NoteRead.objects.filter(document=first).exists()


def _many_notes(cast: Cast, count: int, first: int = 0) -> None:
    from django.utils import timezone

    start = datetime.date(2023, 1, 2)
    Document.objects.bulk_create(
        Document(
            patient=cast.patient,
            organization=cast.riverbend,
            author=cast.therapist,
            info_class="progress_notes",
            kind="therapy_dap",
            title=f"Session {first + n + 1}",
            body="Data:\nA session.",
            fields={"data": "A session."},
            occurred_on=start + datetime.timedelta(days=first + n),
            status=NoteStatus.SIGNED,
            signed_at=timezone.now(),
        )
        for n in range(count)
    )


@pytest.mark.django_db
def test_a_chart_with_a_thousand_notes_pages_them_within_a_fixed_number_of_queries(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    _many_notes(cast, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(chart).status_code == 200
    _many_notes(cast, 997, first=3)
    with CaptureQueriesContext(connection) as many:
        page = client.get(chart)
    assert len(many) == len(few), (len(few), len(many))
    text = page_text(page)
    assert "1–25 of 1000" in text and "Older" in text
    # The newest first; the oldest on the last page.
    assert "Session 1000<" in text and "Session 976<" in text and "Session 975<" not in text.split("Activity")[0]
    last = page_text(client.get(chart, {"records": 40}))
    assert "976–1000 of 1000" in last and "Session 1<" in last
    activity = page_text(client.get(chart, {"activity": 2}))
    assert "Page 2 of" in activity


@pytest.mark.django_db
def test_a_supervised_clinicians_note_waits_for_the_supervisors_co_signature(cast: Cast) -> None:
    from tandem.messaging.models import Notification
    from tandem.organizations.models import Membership, Organization
    from tandem.records.models import Cosignature

    def colleague_signs() -> Document:
        draft, _ = notes.start(
            actor=cast.colleague,
            patient=cast.patient,
            organization=cast.riverbend,
            kind="therapy_birp",
            occurred_on=datetime.date(2026, 11, 20),
            encounter=None,
            part2=False,
            form_token=uuid.uuid4(),
            meta=META,
        )
        values = {"behavior": "b", "intervention": "i", "response": "r", "plan": "p"}
        return notes.sign(actor=cast.colleague, document=draft, values=values, base_revision=0, meta=META)

    Membership.objects.filter(user=cast.colleague, organization=cast.riverbend).update(supervisor=cast.therapist)
    # The practice does not ask for co-signatures yet: none is requested.
    assert not hasattr(colleague_signs(), "cosignature")
    Organization.objects.filter(pk=cast.riverbend.pk).update(notes_need_cosignature=True)
    note = colleague_signs()
    pending = Cosignature.objects.get(document=note)
    assert pending.supervisor == cast.therapist and pending.signed_at is None
    assert Notification.objects.filter(recipient=cast.therapist, kind="cosign_request").exists()
    therapist = sign_in(Client(), cast.therapist)
    assert f"Co-sign {cast.colleague.display_name}'s note" in page_text(therapist.get(reverse("home:today")))
    url = reverse("records:document", args=[cast.patient.public_id, note.public_id])
    assert "Co-sign this note" in page_text(therapist.get(url))
    cosign = reverse("records:note_cosign", args=[cast.patient.public_id, note.public_id])
    assert sign_in(Client(), cast.admin).post(cosign).status_code == 404  # only the supervisor
    assert therapist.post(cosign).status_code == 302
    assert therapist.post(cosign).status_code == 302  # twice is still once
    pending.refresh_from_db()
    assert pending.signed_at is not None
    assert f"Co-signed by {cast.therapist.display_name}" in page_text(sign_in(Client(), cast.colleague).get(url))
    assert f"Co-sign {cast.colleague.display_name}'s note" not in page_text(therapist.get(reverse("home:today")))
    note.refresh_from_db()
    assert note.status == NoteStatus.SIGNED  # the note itself never changed
