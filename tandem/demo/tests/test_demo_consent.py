"""The demo's consent world: signed, revoked, expired and pending authorizations,
chart records on both sides, and who sees what of them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit.services import verify_chain
from tandem.consent import services
from tandem.consent.models import Authorization, BreakGlass, Kind, SigningLink, Status, in_force
from tandem.demo import seed
from tandem.organizations.models import Organization
from tandem.patients.models import CareTeamMember, CareTeamRole, Patient
from tandem.records.models import Document, PsychotherapyNote


@pytest.fixture
def signed_pdfs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Signed PDFs go to this test's own folder, not the data directory."""
    storage = FileSystemStorage(location=tmp_path / "authorizations", base_url=None)
    monkeypatch.setattr(Authorization._meta.get_field("pdf"), "storage", storage)
    return tmp_path / "authorizations"


def prescriber_of(patient: Patient) -> User:
    return CareTeamMember.objects.get(patient=patient, role=CareTeamRole.PRESCRIBER).user


def riverbend_documents_seen(viewer: User, patient: Patient) -> list[Document]:
    sharing = policy.sharing_for(viewer, patient)
    return [d for d in policy.visible_documents(sharing) if d.organization_id == patient.practice_id]


@pytest.mark.django_db
def test_the_demo_shows_consent_in_every_state(signed_pdfs: Path) -> None:
    seed.seed()
    now = timezone.now()
    riverbend = Organization.objects.get(slug="riverbend-counseling")
    northstar = Organization.objects.get(slug="northstar-psychiatry")
    assert riverbend.treatment_sharing_requires_authorization
    assert not Organization.objects.get(slug="lakeside-therapy").treatment_sharing_requires_authorization

    shared = set(
        Patient.objects.filter(practice=riverbend, care_team__organization=northstar).values_list("pk", flat=True)
    )
    rows = list(Authorization.objects.select_related("patient__practice"))
    coordination = [a for a in rows if a.kind == Kind.COORDINATION]
    states = Counter(a.state_at(now) for a in coordination)
    active = {a.patient_id for a in coordination if a.state_at(now) == "active"}
    assert active <= shared and len(active) >= len(shared) / 2
    assert states["revoked"] == 1
    assert states["expired"] >= 1
    # The display state and the query that gates disclosure agree.
    gate = Authorization.objects.filter(in_force(now, riverbend.timezone), kind=Kind.COORDINATION)
    assert set(gate.values_list("patient_id", flat=True)) == active

    # Every signed form has its real PDF, matching the fingerprint kept at signing.
    signed = [a for a in rows if a.status == Status.SIGNED]
    assert len(signed) == len(rows) - 1  # all but the one waiting for signature
    for a in signed:
        assert services.signed_pdf(a).startswith(b"%PDF")
        assert a.signed_at is not None and a.signed_at <= now
        assert a.signer_name == a.patient.full_name

    # Part 2: one consent in force, for a patient whose coordination is active too.
    part2 = [a for a in rows if a.kind == Kind.PART2]
    assert len(part2) == 1 and part2[0].state_at(now) == "active"
    assert part2[0].classes == ["part2"] and not part2[0].mutual
    assert part2[0].expiry_event == seed.PART2_EXPIRY_EVENT
    part2_patient = part2[0].patient
    assert part2_patient.pk in active
    part2_record = Document.objects.get(part2=True)
    assert part2_record.patient == part2_patient
    assert part2_record in policy.visible_documents(policy.sharing_for(prescriber_of(part2_patient), part2_patient))

    # Waiting for signature, with a live link sent by email: the token is only in the message.
    pending = [a for a in rows if a.status == Status.PENDING]
    assert len(pending) == 1
    waiting = pending[0].patient
    assert not any(a.patient_id == waiting.pk and a.status == Status.SIGNED for a in rows)
    link = SigningLink.objects.get(authorization=pending[0])
    assert link.usable_at(now) and link.channel == "email" and link.sent_to == waiting.email
    [message] = mail.outbox
    token = re.search(r"/sign/([^/\s]+)/", message.body)
    assert token is not None and services.open_link(token.group(1)) == link

    # Revoked: the prescriber no longer sees the practice's records; their own stay theirs.
    revoked = next(a for a in coordination if a.state_at(now) == "revoked")
    assert revoked.revoked_by is not None and revoked.revocation_note.startswith("Patient asked in writing on")
    patient = revoked.patient
    prescriber = prescriber_of(patient)
    assert Document.objects.filter(patient=patient, organization=riverbend).exists()
    assert riverbend_documents_seen(prescriber, patient) == []
    assert Document.objects.filter(patient=patient, organization=northstar, author=prescriber).exists()
    assert {d.organization_id for d in policy.visible_documents(policy.sharing_for(prescriber, patient))} == {
        northstar.pk
    }

    # Its emergency access is over and waits for the privacy officer's review.
    grant = BreakGlass.objects.get()
    assert grant.patient == patient and grant.user == prescriber
    assert grant.expires_at <= now and grant.reviewed_at is None
    assert not policy.sharing_for(prescriber, patient).in_emergency

    # Active: the practice's records cross over to the prescriber on the team.
    showcase = Document.objects.get(title="Psychiatric evaluation summary", patient__in=active).patient
    # Every signed record of the practice, each note at its newest version (drafts stay with their author).
    expected = set(policy.current_documents(showcase).filter(organization=riverbend))
    assert Document.objects.filter(patient=showcase, organization=riverbend).count() > len(expected)
    assert expected and set(riverbend_documents_seen(prescriber_of(showcase), showcase)) == expected
    for klass in ("progress_notes", "medications", "assessments", "diagnoses", "care_plan", "appointments"):
        assert Document.objects.filter(patient=showcase, info_class=klass).exists()

    # Each psychotherapy note is its author's alone.
    colleague = User.objects.get(email="therapist2@riverbend.demo")
    for note in PsychotherapyNote.objects.all():
        assert policy.visible_psychotherapy_notes(policy.sharing_for(note.author, note.patient)) == [note]
        for other in (prescriber_of(note.patient), colleague):
            assert policy.visible_psychotherapy_notes(policy.sharing_for(other, note.patient)) == []

    assert verify_chain().ok

    seed.reset()
    assert not Authorization.objects.exists()
    assert not Document.objects.exists() and not PsychotherapyNote.objects.exists()
    assert not BreakGlass.objects.exists()
