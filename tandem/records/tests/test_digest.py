"""The "since your last visit" digest, exact on a scripted scenario."""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tandem.audit.services import RequestMeta
from tandem.records import notes
from tandem.records.models import Document, PsychotherapyNote
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, grant_authorization, page_text, sign_in

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
DAP = {"data": "Better week.", "assessment": "Improving.", "plan": "Continue."}
T1 = datetime.datetime(2026, 10, 6, 17, 0, tzinfo=datetime.UTC)  # the prescriber's last visit ends
DAY = datetime.timedelta(days=1)


def _at(moment: datetime.datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


def _visit(cast: Cast, who: object, start: datetime.datetime, kind: str, status: str) -> Appointment:
    organization = cast.northstar if kind == "med_management" else cast.riverbend
    appointment_type = next(t for t in ensure_types(organization) if t.kind == kind)
    visit = Appointment.objects.create(
        organization=organization,
        appointment_type=appointment_type,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        status=status,
        created_by=who,
    )
    Participant.objects.create(appointment=visit, user=who, starts_at=start, ends_at=visit.ends_at)
    return visit


def _note(cast: Cast, who: object, organization: object) -> Document:
    kind = "therapy_dap" if who == cast.therapist else "medication_management"
    values = DAP if kind == "therapy_dap" else {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}
    draft, _ = notes.start(
        actor=who,  # type: ignore[arg-type]
        patient=cast.patient,
        organization=organization,  # type: ignore[arg-type]
        kind=kind,
        occurred_on=datetime.date(2026, 10, 1),
        encounter=None,
        part2=False,
        form_token=uuid.uuid4(),
        meta=META,
    )
    return notes.sign(actor=who, document=draft, values=values, base_revision=0, meta=META)  # type: ignore[arg-type]


def _record(cast: Cast, info_class: str, title: str) -> Document:
    return Document.objects.create(
        patient=cast.patient,
        organization=cast.riverbend,
        author=cast.therapist,
        info_class=info_class,
        title=title,
        body=title,
        occurred_on=datetime.date(2026, 10, 8),
    )


@pytest.mark.django_db
def test_the_digest_lists_exactly_what_others_did_since_the_last_visit(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar, signed_at=T1 - 30 * DAY)
    with _at(T1 - 3 * DAY):
        before = _note(cast, cast.therapist, cast.riverbend)  # before the visit: not in the digest
    _visit(cast, cast.prescriber, T1 - datetime.timedelta(minutes=30), "med_management", "completed")
    _visit(cast, cast.prescriber, T1 - 20 * DAY, "med_management", "completed")  # an older visit
    with _at(T1 + DAY):
        new_note = _note(cast, cast.therapist, cast.riverbend)
        _note(cast, cast.prescriber, cast.northstar)  # the prescriber's own: not news to them
        notes.start(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            kind="therapy_dap",
            occurred_on=datetime.date(2026, 10, 7),
            encounter=None,
            part2=False,
            form_token=uuid.uuid4(),
            meta=META,
        )  # a draft: never in anyone's digest
        PsychotherapyNote.objects.create(
            patient=cast.patient,
            organization=cast.riverbend,
            author=cast.therapist,
            body="Private.",
            occurred_on=datetime.date(2026, 10, 7),
        )
    with _at(T1 + 2 * DAY):
        meds = _record(cast, "medications", "Medication list: sertraline 100 mg")
        scores = _record(cast, "assessments", "PHQ-9: 9")
        plan = _record(cast, "care_plan", "Plan: add sleep goal")
        amended_from, _ = notes.amend(
            actor=cast.therapist, document=before, change="amendment", reason="Typo", meta=META
        )
        amended = notes.sign(actor=cast.therapist, document=amended_from, values=DAP, base_revision=0, meta=META)
    held = _visit(cast, cast.therapist, T1 + 3 * DAY, "therapy", "completed")
    _visit(cast, cast.therapist, T1 + 3 * DAY + datetime.timedelta(hours=2), "therapy", "cancelled")
    with _at(T1 + 4 * DAY):
        booked = _visit(cast, cast.therapist, T1 + 9 * DAY, "therapy", "booked")
    early_booking = _visit(cast, cast.therapist, T1 + 12 * DAY, "therapy", "booked")
    Appointment.objects.filter(pk=early_booking.pk).update(created_at=T1 - DAY)  # booked before the visit: not news

    from tandem.access import policy
    from tandem.patients import selectors
    from tandem.records.digest import since_last_visit

    with _at(T1 + 5 * DAY):
        sharing = policy.sharing_for(cast.prescriber, cast.patient)
        digest = since_last_visit(
            cast.prescriber,
            selectors.care_team(cast.patient),
            policy.visible_documents(sharing),
            policy.visible_appointments(sharing),
        )
        assert digest is not None and digest.basis == "visit" and digest.since == T1
        assert [d.pk for d in digest.notes] == [amended.pk, new_note.pk]
        assert [d.pk for d in digest.medications] == [meds.pk]
        assert [d.pk for d in digest.scores] == [scores.pk]
        assert [d.pk for d in digest.plan] == [plan.pk]
        assert [a.pk for a in digest.visits] == [held.pk]
        assert [a.pk for a in digest.booked] == [booked.pk]
        page = page_text(
            sign_in(Client(), cast.prescriber).get(reverse("patients:chart", args=[cast.patient.public_id]))
        )
    assert "Since your last visit" in page and "New notes:" in page and "Medication records:" in page
    assert "Private." not in page


@pytest.mark.django_db
def test_the_digest_lists_the_prescribers_dose_change_new_scores_and_a_signed_plan(cast: Cast) -> None:
    """The therapist's digest, from the medication list, the questionnaires and
    the plan: what the prescriber did and the patient answered since her visit."""
    from decimal import Decimal

    from tandem.measures import services as measures
    from tandem.medications import services as medications
    from tandem.plans import services as plans
    from tandem.test import start_medication

    grant_authorization(cast.patient, cast.riverbend, cast.northstar, signed_at=T1 - 30 * DAY)
    _visit(cast, cast.therapist, T1 - datetime.timedelta(hours=1), "therapy", "completed")
    with _at(T1 - 3 * DAY):
        medication = start_medication(cast.patient, cast.prescriber, cast.northstar, dose="50")
        version, _ = plans.start_draft(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            problem_list=[],
            form_token=uuid.uuid4(),
            meta=META,
        )
        plans.save_overview(
            actor=cast.therapist,
            version=version,
            summary="Low mood",
            review_on=datetime.date(2027, 1, 31),
            change_note="",
            problem_list=None,
            meta=META,
        )
        plans.save_goal(
            actor=cast.therapist,
            version=version,
            goal=None,
            text="Sleep seven hours",
            discipline="shared",
            target_date=None,
            instrument="",
            comparison="",
            target_score=None,
            status="active",
            meta=META,
        )
        plans.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    with _at(T1 + DAY):
        medications.change(
            actor=cast.prescriber,
            medication=medication,
            kind="dose",
            dose=Decimal("100"),
            sig="",
            reason="Partial response",
            effective_on=datetime.date(2026, 10, 7),
            form_token=uuid.uuid4(),
            meta=META,
        )
        plans.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)
        measures.record_in_session(
            actor=cast.prescriber,
            patient=cast.patient,
            organization=cast.northstar,
            instrument_key="phq9",
            answers={str(n): 1 for n in range(1, 11)},
            language="en",
            form_token=uuid.uuid4(),
            meta=META,
        )
    with _at(T1 + 2 * DAY):
        page = page_text(
            sign_in(Client(), cast.therapist).get(reverse("patients:chart", args=[cast.patient.public_id]))
        )
    assert "Since your last visit" in page
    assert "Medication changes:" in page and "Sertraline: dose changed 50 → 100 mg" in page
    assert "New scores:" in page and "PHQ9 9" in page
    assert "Treatment plan:" in page and "version 1, in force" in page
    # The medication's start, before her visit, is not in it.
    assert "Sertraline: started" not in page


@pytest.mark.django_db
def test_without_a_visit_the_digest_starts_when_they_joined_and_says_so(cast: Cast) -> None:
    page = page_text(sign_in(Client(), cast.prescriber).get(reverse("patients:chart", args=[cast.patient.public_id])))
    assert "Since you joined the care team" in page and "Nothing new from the rest of the care team" in page
    # No digest for someone who is neither on the team nor has seen the patient.
    admin = page_text(sign_in(Client(), cast.admin).get(reverse("patients:chart", args=[cast.patient.public_id])))
    assert "Since your last visit" not in admin and "Since you joined" not in admin
