"""The demo's notes: both disciplines, a co-treatment visit with both notes,
versions, a stale draft, and psychotherapy notes kept to their author."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tandem.access import policy
from tandem.demo.seed import reset, seed
from tandem.records.models import Document, NoteStatus, PsychotherapyNote
from tandem.scheduling.models import Kind


@pytest.mark.django_db
def test_the_demo_has_a_history_of_notes_from_both_sides() -> None:
    users = seed()
    notes = Document.objects.exclude(kind="record")
    kinds = set(notes.values_list("kind", flat=True))
    assert {"therapy_dap", "therapy_birp", "medication_management", "psychiatric_evaluation"} <= kinds
    assert {"provider_consult", "collateral_contact"} <= kinds
    assert notes.filter(status=NoteStatus.SIGNED).count() > 20
    assert all(n.signed_at <= timezone.now() for n in notes.filter(status=NoteStatus.SIGNED))
    # The co-treatment visit has one note from each clinician, of each discipline.
    co = notes.filter(encounter__appointment_type__kind=Kind.CO_TREATMENT)
    assert sorted(co.values_list("kind", flat=True)) == ["medication_management", "therapy_dap"]
    assert co.values("encounter").distinct().count() == 1
    # An amendment and an addendum, each a second version of a note.
    assert set(notes.filter(version=2).values_list("change", flat=True)) == {"amendment", "addendum"}
    # The chart shows each note once, at its newest version.
    showcase = notes.get(change="amendment").patient
    current = list(policy.current_documents(showcase).filter(kind="psychiatric_evaluation"))
    assert [d.version for d in current] == [2]
    # Maya's draft, four days old.
    draft = notes.get(status=NoteStatus.DRAFT)
    assert draft.author == users["therapist@riverbend.demo"]
    assert timezone.now() - draft.created_at > datetime.timedelta(hours=72)
    assert PsychotherapyNote.objects.values("patient").distinct().count() == 3
    from tandem.records.models import Cosignature

    waiting = Cosignature.objects.get(signed_at__isnull=True)
    assert waiting.supervisor == users["therapist@riverbend.demo"]
    assert waiting.document.author == users["therapist2@riverbend.demo"]
    reset()  # signed notes, versions and all, go with the demo
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_the_demo_has_a_care_team_thread_with_consult_requests() -> None:
    from tandem.messaging.models import ConsultRequest, Message, Thread

    seed()
    thread = Thread.objects.filter(consults__status="proposed").distinct().get()
    assert thread.messages.count() >= 5 and thread.messages.filter(retracted_at__isnull=False).count() == 1
    assert Message.objects.filter(mentions__isnull=False).exists()
    assert all(m.created_at <= timezone.now() for m in Message.objects.all())
    booked = ConsultRequest.objects.get(status="booked")
    assert booked.appointment is not None and booked.appointment.appointment_type.kind == "consult"
    # Its members may use it: the patient's consent lets notes travel both ways.
    members = {u.email for u in policy.thread_members(thread.patient)}
    assert {"therapist@riverbend.demo", "prescriber@northstar.demo"} <= members
    reset()
    assert not Thread.objects.exists()


@pytest.mark.django_db
def test_the_demo_has_score_histories_in_four_shapes_and_one_open_safety_alert() -> None:
    from tandem.measures import instruments, scoring
    from tandem.measures.models import Response, SafetyAlert

    seed()
    phq9 = instruments.get("phq9")
    latest_by_patient: dict[int, list[int]] = {}
    for r in Response.objects.filter(instrument="phq9").order_by("completed_at"):
        latest_by_patient.setdefault(r.patient_id, []).append(r.total or 0)
        # Every stored score is what the engine gives its answers.
        assert scoring.score(phq9, r.answers).total == r.total
        assert r.completed_at <= timezone.now()
    assert len(latest_by_patient) >= 30
    outcomes = [scoring.change(phq9, totals[0], totals[-1]) for totals in latest_by_patient.values() if len(totals) > 1]
    assert any(o.remission for o in outcomes) and any(o.response and not o.remission for o in outcomes)
    assert any(not o.response and o.change > -3 for o in outcomes)  # flat
    alert = SafetyAlert.objects.get()
    assert alert.is_open and alert.response.answers["9"] == 1
    reset()
    assert not Response.objects.exists() and not SafetyAlert.objects.exists()
