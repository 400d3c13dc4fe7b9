"""Every URL of Tandem against the whole cast.

Each route needs an entry here: a new URL without one fails
``test_every_url_has_a_matrix_entry``. Patient URLs must answer 404 to the
outsider and to the prescriber who is not on the patient's team, with the
same page a made-up ID gets.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tandem.operations.models import WorkerHeartbeat
from tandem.organizations.models import Membership
from tandem.test import Cast, page_text, sign_in

CAST = ["therapist", "colleague", "prescriber", "unrelated", "outsider", "admin", "group_admin", "patient_user"]
SIGNED_IN = set(CAST)
PRACTICE_STAFF = {"therapist", "colleague", "admin"}
CHART_READERS = PRACTICE_STAFF | {"prescriber", "group_admin"}
ADMINS = {"admin", "group_admin"}


@dataclass(frozen=True)
class Entry:
    kwargs: Callable[[Cast], dict[str, object]] = lambda c: {}
    method: str = "GET"
    allowed: frozenset[str] = frozenset(SIGNED_IN)
    ok: int = 200
    denied: int = 404
    anonymous: int = 302
    data: Callable[[Cast], dict[str, str]] = lambda c: {}
    patient_scoped: bool = False
    # Some pages answer everyone alike (public pages, redirects).
    same_for_all: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


def patient(c: Cast) -> dict[str, object]:
    return {"public_id": c.patient.public_id}


def riverbend(c: Cast) -> dict[str, object]:
    return {"org_id": c.riverbend.public_id}


def riverbend_member(c: Cast) -> dict[str, object]:
    membership = Membership.objects.get(user=c.therapist, organization=c.riverbend)
    return {"org_id": c.riverbend.public_id, "member_id": membership.public_id}


def team_member(c: Cast) -> dict[str, object]:
    member = c.patient.care_team.get(user=c.prescriber)
    return {"public_id": c.patient.public_id, "member_id": member.public_id}


def today(c: Cast) -> dict[str, str]:
    return {"ends_on": c.riverbend.local_date().isoformat()}


def prescriber_licence(c: Cast, *, with_document: bool) -> dict[str, object]:
    from django.core.files.base import ContentFile

    from tandem.credentials.models import StateLicense

    licence = StateLicense.objects.create(clinician=c.prescriber, state="OR", license_type="MD", number="MD-1")
    if with_document:
        licence.document.save("scan.pdf", ContentFile(b"%PDF-1.7 test"), save=False)
        licence.document_type = "application/pdf"
        licence.save()
    return {"public_id": c.prescriber.public_id, "kind": "licence", "credential_id": licence.public_id}


def pending_authorization(c: Cast) -> dict[str, object]:
    from tandem.audit.services import RequestMeta
    from tandem.consent import services

    authorization = services.prepare(
        actor=c.therapist,
        patient=c.patient,
        template_key="coordination",
        discloser=c.riverbend,
        recipient=c.northstar,
        mutual=True,
        classes=["appointments", "medications"],
        purpose="Coordination of care",
        expires_on=None,
        expiry_event="When treatment ends",
        meta=RequestMeta(None, ""),
    )
    return {"public_id": c.patient.public_id, "authorization_id": authorization.public_id}


def signed_authorization(c: Cast) -> dict[str, object]:
    from tandem.audit.services import RequestMeta
    from tandem.consent import services
    from tandem.consent.models import Authorization

    kwargs = pending_authorization(c)
    authorization = Authorization.objects.get(public_id=kwargs["authorization_id"])
    services.sign(
        authorization=authorization,
        signature=services.Signature(name="Avery Quintero", agreed=True, role="patient"),
        via="office",
        ip_address="127.0.0.1",
        meta=RequestMeta(None, ""),
        witness=c.therapist,
    )
    return kwargs


def signing_token(c: Cast, *, signed: bool) -> dict[str, object]:
    from tandem.audit.services import RequestMeta
    from tandem.consent import services
    from tandem.consent.models import Authorization

    c.patient.email = "avery@example.test"
    c.patient.save()
    authorization = Authorization.objects.get(public_id=pending_authorization(c)["authorization_id"])
    link, token = services.send_link(
        actor=c.therapist, authorization=authorization, channel="email", meta=RequestMeta(None, "")
    )
    if signed:
        services.sign(
            authorization=authorization,
            signature=services.Signature(name="Avery Quintero", agreed=True, role="patient"),
            via="link",
            ip_address="127.0.0.1",
            meta=RequestMeta(None, ""),
            link=link,
        )
    return {"token": token}


def emergency_grant(c: Cast) -> dict[str, object]:
    from tandem.audit.services import RequestMeta
    from tandem.consent import services

    grant = services.break_glass(
        actor=c.prescriber,
        patient=c.patient,
        reason="Patient called in crisis, needs medication history now",
        meta=RequestMeta(None, ""),
    )
    return {"grant_id": grant.public_id}


def riverbend_record(c: Cast) -> dict[str, object]:
    from tandem.records.models import Document

    document = Document.objects.create(
        patient=c.patient,
        organization=c.riverbend,
        author=c.therapist,
        info_class="progress_notes",
        title="Session 4",
        body="Discussed sleep.",
        occurred_on=datetime.date(2026, 1, 5),
    )
    return {"public_id": c.patient.public_id, "document_id": document.public_id}


def _therapy_note(c: Cast, status: str) -> object:
    from tandem.records.models import Document

    return Document.objects.create(
        patient=c.patient,
        organization=c.riverbend,
        author=c.therapist,
        info_class="progress_notes",
        kind="therapy_dap",
        title="Therapy progress note (DAP)",
        body="Data:\nSlept better.",
        fields={"data": "Slept better."},
        occurred_on=datetime.date(2026, 1, 5),
        status=status,
        signed_at=None if status == "draft" else timezone.now(),
    )


def therapist_draft(c: Cast) -> dict[str, object]:
    return {"public_id": c.patient.public_id, "note_id": _therapy_note(c, "draft").public_id}  # type: ignore[attr-defined]


def therapist_signed_note(c: Cast) -> dict[str, object]:
    return {"public_id": c.patient.public_id, "document_id": _therapy_note(c, "signed").public_id}  # type: ignore[attr-defined]


def note_to_cosign(c: Cast) -> dict[str, object]:
    """The colleague's signed note, waiting for the therapist's co-signature."""
    from tandem.organizations.models import Organization
    from tandem.records.models import Cosignature, Document

    Organization.objects.filter(pk=c.riverbend.pk).update(notes_need_cosignature=True)
    Membership.objects.filter(user=c.colleague, organization=c.riverbend).update(supervisor=c.therapist)
    document = Document.objects.create(
        patient=c.patient,
        organization=c.riverbend,
        author=c.colleague,
        info_class="progress_notes",
        kind="therapy_dap",
        title="Therapy progress note (DAP)",
        body="Data:\nFirst session.",
        occurred_on=datetime.date(2026, 1, 5),
    )
    Cosignature.objects.create(document=document, supervisor=c.therapist)
    return {"public_id": c.patient.public_id, "document_id": document.public_id}


def safety_alert(c: Cast) -> dict[str, object]:
    """An open safety alert from the therapist's PHQ-9 (item 9 answered)."""
    from tandem.audit.services import SYSTEM
    from tandem.measures.services import record_in_session

    response, _ = record_in_session(
        actor=c.therapist,
        patient=c.patient,
        organization=c.riverbend,
        instrument_key="phq9",
        answers={str(n): 1 for n in range(1, 10)},
        language="en",
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    return {"public_id": c.patient.public_id, "alert_id": response.safety_alert.public_id}


def questionnaire_token(c: Cast) -> dict[str, object]:
    from tandem.audit.services import SYSTEM
    from tandem.measures import links

    _link, token = links.send(
        actor=c.therapist,
        patient=c.patient,
        organization=c.riverbend,
        instrument_keys=["phq9"],
        language="en",
        channel="none",
        meta=SYSTEM,
    )
    return {"token": token}


def _northstar_medication(c: Cast) -> object:
    """Made once however many times an entry asks for its arguments."""
    from tandem.medications.models import Medication
    from tandem.test import start_medication

    found = Medication.objects.filter(patient=c.patient, drug="sertraline").first()
    return found or start_medication(c.patient, c.prescriber, c.northstar)


def northstar_medication(c: Cast) -> dict[str, object]:
    medication = _northstar_medication(c)
    return {"public_id": c.patient.public_id, "medication_id": medication.public_id}


def northstar_prescription(c: Cast) -> dict[str, object]:
    from tandem.medications.models import Prescription

    medication = _northstar_medication(c)
    rx = Prescription.objects.filter(medication=medication).first() or Prescription.objects.create(
        medication=medication,
        prescriber=c.prescriber,
        organization=c.northstar,
        drug="sertraline",
        strength="50 mg",
        form="tablet",
        sig="1 tablet daily",
        quantity=30,
        days_supply=30,
        pharmacy="Corner Pharmacy",
        patient_state="OR",
        state_source="attested at check-in",
        eligibility={"allowed": True, "reasons": [], "rules_version": "test"},
    )
    return {"public_id": c.patient.public_id, "prescription_id": rx.public_id}


def riverbend_diagnosis(c: Cast) -> dict[str, object]:
    import uuid as uuid_module

    from tandem.audit.services import SYSTEM
    from tandem.plans import services as plan_services
    from tandem.plans.models import Diagnosis

    found = Diagnosis.objects.filter(patient=c.patient, code="F33.1").first()
    if found is not None:
        return {"public_id": c.patient.public_id, "diagnosis_id": found.public_id}
    row, _ = plan_services.record_diagnosis(
        actor=c.therapist,
        patient=c.patient,
        organization=c.riverbend,
        code="F33.1",
        status="confirmed",
        diagnosed_on=datetime.date(2026, 1, 5),
        note="",
        part2=False,
        form_token=uuid_module.uuid4(),
        meta=SYSTEM,
    )
    return {"public_id": c.patient.public_id, "diagnosis_id": row.public_id}


def _riverbend_plan(c: Cast, *, in_force: bool) -> object:
    from tandem.plans.models import Goal, Plan, PlanVersion

    plan, created = Plan.objects.get_or_create(patient=c.patient)
    if not created:
        return PlanVersion.objects.get(plan=plan, number=1)
    version = PlanVersion.objects.create(
        plan=plan,
        number=1,
        organization=c.riverbend,
        created_by=c.therapist,
        summary="Low mood after a move.",
        review_on=datetime.date(2027, 3, 1),
    )
    Goal.objects.create(version=version, text="PHQ-9 below 5", discipline="shared")
    if in_force:
        now = timezone.now()
        PlanVersion.objects.filter(pk=version.pk).update(status="in_force", locked_at=now, in_force_at=now)
    return version


def riverbend_plan(c: Cast) -> dict[str, object]:
    _riverbend_plan(c, in_force=False)
    return {"public_id": c.patient.public_id, "number": "1"}


def riverbend_plan_in_force(c: Cast) -> dict[str, object]:
    _riverbend_plan(c, in_force=True)
    return {"public_id": c.patient.public_id, "number": "1"}


def plan_token(c: Cast) -> dict[str, object]:
    from tandem.lib import tokens
    from tandem.plans.models import PlanLink

    version = _riverbend_plan(c, in_force=True)
    token = tokens.new_token()
    PlanLink.objects.create(
        version=version,
        token_hash=tokens.token_hash(token),
        channel="email",
        created_by=c.therapist,
        expires_at=timezone.now() + datetime.timedelta(days=14),
    )
    return {"token": token}


def thread_patient(c: Cast) -> dict[str, object]:
    """The shared patient, with the coordination authorization the thread needs."""
    from tandem.test import grant_authorization

    grant_authorization(c.patient, c.riverbend, c.northstar)
    return {"public_id": c.patient.public_id}


def _message(c: Cast, author: object) -> object:
    from tandem.messaging import threads
    from tandem.messaging.models import Message

    thread_patient(c)
    return Message.objects.create(
        thread=threads.thread_for(c.patient), author=author, organization=c.riverbend, body="Can we talk about sleep?"
    )


def therapist_message(c: Cast) -> dict[str, object]:
    return {"public_id": c.patient.public_id, "message_id": _message(c, c.therapist).public_id}  # type: ignore[attr-defined]


def thread_attachment(c: Cast) -> dict[str, object]:
    from django.core.files.base import ContentFile

    from tandem.messaging.models import Attachment

    message = _message(c, c.therapist)
    found = Attachment.objects.create(
        message=message,  # type: ignore[misc]
        file=ContentFile(b"%PDF-1.4\n%%EOF\n", name="letter.pdf"),
        name="letter.pdf",
        content_type="application/pdf",
        size=14,
        sha256="0" * 64,
    )
    return {"public_id": c.patient.public_id, "attachment_id": found.public_id}


def consult_for_prescriber(c: Cast) -> dict[str, object]:
    from django.utils import timezone as tz

    from tandem.messaging import threads
    from tandem.messaging.models import ConsultRequest

    thread_patient(c)
    consult = ConsultRequest.objects.create(
        thread=threads.thread_for(c.patient),
        requested_by=c.therapist,
        requested_of=c.prescriber,
        topic="Panic and the dose change",
        proposed=[(tz.now() + datetime.timedelta(days=3)).replace(microsecond=0).isoformat()],
    )
    return {"public_id": c.patient.public_id, "consult_id": consult.public_id}


def private_note(c: Cast) -> dict[str, object]:
    from tandem.records.models import PsychotherapyNote

    note = PsychotherapyNote.objects.create(
        patient=c.patient,
        organization=c.riverbend,
        author=c.therapist,
        body="Process notes.",
        occurred_on=datetime.date(2026, 1, 5),
    )
    return {"public_id": c.patient.public_id, "note_id": note.public_id}


def note_text(c: Cast) -> dict[str, str]:
    return {"note": "Signed revocation letter received"}


def therapy_appointment(c: Cast) -> dict[str, object]:
    """A Riverbend therapy session of the shared patient with the therapist, next week."""
    from django.utils import timezone as tz

    from tandem.scheduling.models import Appointment, Participant
    from tandem.scheduling.services import ensure_types

    therapy = next(t for t in ensure_types(c.riverbend) if t.kind == "therapy")
    start = tz.now().replace(microsecond=0) + datetime.timedelta(days=7)
    appointment = Appointment.objects.create(
        organization=c.riverbend,
        appointment_type=therapy,
        patient=c.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=50),
        modality="video_home",
        expected_state="OR",
        created_by=c.therapist,
    )
    Participant.objects.create(appointment=appointment, user=c.therapist, starts_at=start, ends_at=appointment.ends_at)
    return {"appointment_id": appointment.public_id}


def calendar_feed_token(c: Cast) -> dict[str, object]:
    from tandem.audit.services import RequestMeta
    from tandem.feeds import services

    _feed, token, _replaced = services.create_feed(user=c.therapist, meta=RequestMeta(None, ""))
    return {"token": token}


def therapist_hours(c: Cast) -> dict[str, object]:
    from tandem.scheduling.models import WeeklyHours

    hours = WeeklyHours.objects.create(
        clinician=c.therapist,
        organization=c.riverbend,
        weekday=2,
        start=datetime.time(9),
        end=datetime.time(12),
        timezone="America/Los_Angeles",
    )
    return {"hours_id": hours.public_id}


def therapist_time_off(c: Cast) -> dict[str, object]:
    from django.utils import timezone as tz

    from tandem.scheduling.models import TimeOff

    start = tz.now() + datetime.timedelta(days=3)
    off = TimeOff.objects.create(clinician=c.therapist, starts_at=start, ends_at=start + datetime.timedelta(days=1))
    return {"time_off_id": off.public_id}


def referral(c: Cast, status: str = "submitted") -> dict[str, object]:
    from tandem.referrals.models import Referral

    row = Referral.objects.create(
        patient=c.patient,
        practice=c.riverbend,
        referred_by=c.therapist,
        status=status,
        reason="Low mood despite therapy",
        location_state="OR",
        submitted_at=None if status == "draft" else timezone.now(),
    )
    return {"public_id": row.public_id}


def video_visit(c: Cast) -> dict[str, object]:
    from tandem.scheduling.models import Appointment, Participant
    from tandem.scheduling.services import ensure_types

    kind = next(t for t in ensure_types(c.northstar) if t.kind == "med_management")
    start = timezone.now() + datetime.timedelta(minutes=5)
    visit = Appointment.objects.create(
        organization=c.northstar,
        appointment_type=kind,
        patient=c.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=c.therapist,
    )
    Participant.objects.create(appointment=visit, user=c.prescriber, starts_at=start, ends_at=visit.ends_at)
    return {"appointment_id": visit.public_id}


def video_token(c: Cast) -> dict[str, object]:
    from tandem.audit.services import SYSTEM
    from tandem.scheduling.models import Appointment
    from tandem.video.services import issue_patient_link

    visit = Appointment.objects.get(public_id=video_visit(c)["appointment_id"])
    _link, token = issue_patient_link(actor=c.prescriber, appointment=visit, meta=SYSTEM)
    return {"token": token}


F = frozenset
CLINICIANS = {"therapist", "colleague", "prescriber", "unrelated", "outsider"}
CARE_TEAM_CLINICIANS = {"therapist", "prescriber"}
MATRIX: dict[str, Entry] = {
    "home:root": Entry(same_for_all=302),
    "home:today": Entry(),
    "operations:healthz": Entry(same_for_all=200),
    "accounts:sign_in": Entry(allowed=F(), denied=302, anonymous=200),
    "accounts:mfa_verify": Entry(same_for_all=302),
    "accounts:mfa_enroll": Entry(same_for_all=302),
    "accounts:sign_out": Entry(method="POST", same_for_all=302),
    "accounts:signed_out": Entry(same_for_all=200),
    "accounts:session_status": Entry(anonymous=401),
    "accounts:session_keepalive": Entry(method="POST", anonymous=401),
    "accounts:sudo": Entry(),
    "accounts:security": Entry(),
    "accounts:regenerate_recovery_codes": Entry(method="POST"),
    "accounts:password_reset": Entry(same_for_all=200),
    "accounts:password_reset_done": Entry(same_for_all=200),
    "accounts:password_reset_confirm": Entry(kwargs=lambda c: {"uidb64": "MQ", "token": "bad-token"}, same_for_all=200),
    "accounts:password_reset_complete": Entry(same_for_all=200),
    "patients:list": Entry(),
    # Any practice's staff register patients in their own practice.
    "patients:create": Entry(allowed=F(PRACTICE_STAFF | {"outsider"})),
    "patients:chart": Entry(kwargs=patient, allowed=F(CHART_READERS), patient_scoped=True),
    "patients:edit": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "patients:care_team_add": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "patients:care_team_end": Entry(
        kwargs=team_member, method="POST", allowed=F(PRACTICE_STAFF), ok=302, data=today, patient_scoped=True
    ),
    "organizations:overview": Entry(allowed=F(ADMINS), ok=302),
    "organizations:members": Entry(kwargs=riverbend, allowed=F({"admin"})),
    "organizations:member_invite": Entry(kwargs=riverbend, allowed=F({"admin"})),
    "organizations:member_role": Entry(kwargs=riverbend_member, allowed=F({"admin"})),
    "organizations:member_active": Entry(
        kwargs=riverbend_member, method="POST", allowed=F({"admin"}), ok=302, data=lambda c: {"active": "1"}
    ),
    "organizations:sharing_policy": Entry(
        kwargs=riverbend, method="POST", allowed=F({"admin"}), ok=302, data=lambda c: {"requires_authorization": "no"}
    ),
    "organizations:member_reset_mfa": Entry(kwargs=riverbend_member, method="POST", allowed=F({"admin"}), ok=302),
    "audit:report": Entry(allowed=F(ADMINS)),
    "audit:export": Entry(allowed=F(ADMINS)),
    "audit:patient_access": Entry(kwargs=patient, allowed=F({"admin"}), patient_scoped=True),
    # Credentials: the clinician, and their organization's admins and coordinators.
    "credentials:coverage": Entry(allowed=F(ADMINS)),
    "credentials:expiring": Entry(allowed=F(ADMINS)),
    "credentials:check": Entry(allowed=F(ADMINS)),
    "credentials:clinician": Entry(
        kwargs=lambda c: {"public_id": c.prescriber.public_id}, allowed=F({"prescriber", "group_admin"})
    ),
    "credentials:profile": Entry(kwargs=lambda c: {"public_id": c.prescriber.public_id}, allowed=F({"group_admin"})),
    "credentials:add": Entry(
        kwargs=lambda c: {"public_id": c.prescriber.public_id, "kind": "licence"}, allowed=F({"group_admin"})
    ),
    "credentials:verify": Entry(
        kwargs=lambda c: prescriber_licence(c, with_document=False),
        method="POST",
        allowed=F({"group_admin"}),
        ok=302,
        data=lambda c: {"source": "Oregon Medical Board lookup"},
    ),
    "credentials:document": Entry(
        kwargs=lambda c: prescriber_licence(c, with_document=True), allowed=F({"prescriber", "group_admin"})
    ),
    # Consent: the patient's practice manages authorizations and gives the accounting.
    "consent:list": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "consent:new": Entry(
        kwargs=lambda c: {"public_id": c.patient.public_id, "template_key": "coordination"},
        allowed=F(PRACTICE_STAFF),
        patient_scoped=True,
    ),
    "consent:detail": Entry(kwargs=pending_authorization, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "consent:send": Entry(
        kwargs=pending_authorization,
        method="POST",
        allowed=F(PRACTICE_STAFF),
        ok=302,
        data=lambda c: {"channel": "email"},
        patient_scoped=True,
    ),
    "consent:office_sign": Entry(kwargs=pending_authorization, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "consent:pdf": Entry(kwargs=signed_authorization, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "consent:email_copy": Entry(
        kwargs=signed_authorization, method="POST", allowed=F(PRACTICE_STAFF), ok=302, patient_scoped=True
    ),
    "consent:revoke": Entry(
        kwargs=signed_authorization,
        method="POST",
        allowed=F(PRACTICE_STAFF),
        ok=302,
        data=note_text,
        patient_scoped=True,
    ),
    "consent:expiry_event": Entry(
        kwargs=signed_authorization, method="POST", allowed=F(PRACTICE_STAFF), ok=302, patient_scoped=True
    ),
    # Emergency access: care-team clinicians missing consent (no authorization in the cast).
    "consent:break_glass": Entry(kwargs=patient, allowed=F(CARE_TEAM_CLINICIANS), patient_scoped=True),
    "consent:break_glass_review": Entry(allowed=F({"admin"})),
    "consent:break_glass_signoff": Entry(
        kwargs=emergency_grant,
        method="POST",
        allowed=F({"admin"}),
        ok=302,
        data=lambda c: {"note": "Confirmed with the clinician: crisis call."},
    ),
    "consent:disclosures": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "consent:disclosures_pdf": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    # The patient's link needs no account: anyone holding it sees the same page.
    "consent:sign": Entry(kwargs=lambda c: signing_token(c, signed=False), same_for_all=200),
    "consent:sign_copy": Entry(kwargs=lambda c: signing_token(c, signed=True), same_for_all=200),
    # The shared record. Without an authorization (the cast has none) the
    # partner prescriber does not see the practice's records.
    "records:document": Entry(kwargs=riverbend_record, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "records:document_new": Entry(
        kwargs=patient, allowed=F({"therapist", "colleague", "prescriber"}), patient_scoped=True
    ),
    "records:summary_pdf": Entry(kwargs=patient, allowed=F(CHART_READERS), patient_scoped=True),
    # Encounter notes: a draft is its author's alone; a signed note reads like
    # any record, and only its author amends it.
    "messaging:inbox": Entry(),
    # Questionnaires: read like the chart, showing only the assessments consent lets through.
    "measures:list": Entry(kwargs=patient, allowed=F(CHART_READERS), patient_scoped=True),
    # A safety alert: the care team who may see the patient's assessments (no authorization here).
    "measures:alert": Entry(kwargs=safety_alert, allowed=F({"therapist"}), patient_scoped=True),
    "measures:registry": Entry(),
    "measures:case_review": Entry(),
    "measures:schedule": Entry(
        kwargs=patient, allowed=F({"therapist", "colleague", "prescriber"}), patient_scoped=True
    ),
    "measures:send_link": Entry(
        kwargs=patient, allowed=F({"therapist", "colleague", "prescriber"}), patient_scoped=True
    ),
    # The patient's questionnaire link: whoever holds it, no account.
    "measures:patient": Entry(kwargs=questionnaire_token, same_for_all=200),
    "measures:administer": Entry(
        kwargs=lambda c: {"public_id": c.patient.public_id, "instrument_key": "phq9"},
        allowed=F({"therapist", "colleague", "prescriber"}),
        patient_scoped=True,
    ),
    # Diagnoses and the treatment plan: the chart's readers, as consent allows.
    "plans:diagnoses": Entry(kwargs=patient, allowed=F(CHART_READERS), patient_scoped=True),
    # The therapist's diagnosis: the practice's own; Northstar only with an authorization.
    "plans:diagnosis": Entry(kwargs=riverbend_diagnosis, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "plans:plan": Entry(kwargs=patient, allowed=F(CHART_READERS), patient_scoped=True),
    "plans:start_draft": Entry(
        kwargs=patient, method="POST", allowed=F({"therapist", "colleague", "prescriber"}), ok=302, patient_scoped=True
    ),
    "plans:version": Entry(kwargs=riverbend_plan, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "plans:pdf": Entry(kwargs=riverbend_plan, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "plans:edit": Entry(
        kwargs=riverbend_plan, method="POST", allowed=F({"therapist", "colleague"}), ok=302, patient_scoped=True
    ),
    # Only the care team's therapist and prescriber sign; Northstar cannot see this version.
    "plans:sign": Entry(kwargs=riverbend_plan, method="POST", allowed=F({"therapist"}), ok=302, patient_scoped=True),
    "plans:acknowledge": Entry(
        kwargs=riverbend_plan_in_force,
        method="POST",
        allowed=F({"therapist", "colleague"}),
        ok=302,
        patient_scoped=True,
    ),
    "plans:send_link": Entry(
        kwargs=riverbend_plan_in_force,
        method="POST",
        allowed=F({"therapist", "colleague"}),
        ok=302,
        patient_scoped=True,
    ),
    # The patient's plan link: whoever holds it, no account.
    "plans:patient_link": Entry(kwargs=plan_token, same_for_all=200),
    # Medications: the list for the chart's readers; managing them for the prescriber on the team.
    "medications:catalog": Entry(allowed=F(SIGNED_IN - {"patient_user"})),
    "medications:list": Entry(kwargs=patient, allowed=F(CHART_READERS), patient_scoped=True),
    "medications:start": Entry(kwargs=patient, allowed=F({"prescriber"}), patient_scoped=True),
    "medications:pdmp": Entry(kwargs=patient, allowed=F({"prescriber"}), patient_scoped=True),
    "medications:labs": Entry(kwargs=patient, allowed=F({"therapist", "colleague", "prescriber"}), patient_scoped=True),
    "medications:observe": Entry(
        kwargs=patient, method="POST", allowed=F({"therapist", "colleague", "prescriber"}), ok=302, patient_scoped=True
    ),
    # Northstar's medication: its own staff; the practice only with an authorization.
    "medications:detail": Entry(
        kwargs=northstar_medication, allowed=F({"prescriber", "group_admin"}), patient_scoped=True
    ),
    "medications:change": Entry(
        kwargs=northstar_medication, method="POST", allowed=F({"prescriber"}), ok=302, patient_scoped=True
    ),
    "medications:prescribe": Entry(kwargs=northstar_medication, allowed=F({"prescriber"}), patient_scoped=True),
    "medications:prescription": Entry(
        kwargs=northstar_prescription, allowed=F({"prescriber", "group_admin"}), patient_scoped=True
    ),
    "records:search": Entry(),
    # The care team's thread: its members, while consent lets notes travel both ways.
    "messaging:thread": Entry(kwargs=thread_patient, allowed=F({"therapist", "prescriber"}), patient_scoped=True),
    "messaging:consult_new": Entry(kwargs=thread_patient, allowed=F({"therapist", "prescriber"}), patient_scoped=True),
    "messaging:consult_answer": Entry(
        kwargs=consult_for_prescriber,
        method="POST",
        allowed=F({"prescriber"}),
        ok=302,
        data=lambda c: {"answer": "decline"},
        patient_scoped=True,
    ),
    "messaging:attachment": Entry(
        kwargs=thread_attachment, allowed=F({"therapist", "prescriber"}), patient_scoped=True
    ),
    "messaging:message_edit": Entry(kwargs=therapist_message, allowed=F({"therapist"}), patient_scoped=True),
    "messaging:message_retract": Entry(
        kwargs=therapist_message, method="POST", allowed=F({"therapist"}), ok=302, patient_scoped=True
    ),
    "messaging:inbox_read_all": Entry(method="POST", ok=302),
    "records:note_new": Entry(kwargs=patient, allowed=F({"therapist", "colleague", "prescriber"}), patient_scoped=True),
    "records:note_edit": Entry(kwargs=therapist_draft, allowed=F({"therapist"}), patient_scoped=True),
    "records:note_autosave": Entry(
        kwargs=therapist_draft,
        method="POST",
        allowed=F({"therapist"}),
        data=lambda c: {"revision": "0", "data": "Slept better; less worry."},
        patient_scoped=True,
    ),
    "records:note_amend": Entry(kwargs=therapist_signed_note, allowed=F({"therapist"}), patient_scoped=True),
    "records:note_cosign": Entry(
        kwargs=note_to_cosign, method="POST", allowed=F({"therapist"}), ok=302, patient_scoped=True
    ),
    "records:note_history": Entry(kwargs=therapist_signed_note, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "records:pn_list": Entry(
        kwargs=lambda c: {"public_id": private_note(c)["public_id"]},
        allowed=F({"therapist", "colleague"}),
        patient_scoped=True,
    ),
    "records:pn_new": Entry(kwargs=patient, allowed=F({"therapist", "colleague"}), patient_scoped=True),
    "records:pn": Entry(kwargs=private_note, allowed=F({"therapist"}), patient_scoped=True),
    # Scheduling. The practice's staff and the patient's care-team prescriber book;
    # an appointment is seen by its participants and by those the consent gate allows.
    "scheduling:book": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF | {"prescriber"}), patient_scoped=True),
    "scheduling:appointment": Entry(kwargs=therapy_appointment, allowed=F(PRACTICE_STAFF)),
    "scheduling:cancel": Entry(
        kwargs=therapy_appointment,
        method="POST",
        allowed=F(PRACTICE_STAFF),
        ok=302,
        data=lambda c: {"reason": "Patient asked to cancel"},
    ),
    "scheduling:reschedule": Entry(
        kwargs=therapy_appointment,
        method="POST",
        allowed=F(PRACTICE_STAFF),
        ok=302,
        data=lambda c: {"starts_at": "2031-01-06T10:00", "reason": "Patient asked to move"},
    ),
    "scheduling:no_show": Entry(kwargs=therapy_appointment, method="POST", allowed=F(PRACTICE_STAFF), ok=302),
    "scheduling:complete": Entry(kwargs=therapy_appointment, method="POST", allowed=F(PRACTICE_STAFF), ok=302),
    "scheduling:check_in": Entry(
        kwargs=therapy_appointment,
        method="POST",
        allowed=F(PRACTICE_STAFF),
        ok=302,
        data=lambda c: {"state": "OR", "attested_by": "clinician"},
    ),
    "scheduling:week": Entry(),
    "messaging:preferences": Entry(),
    "reminders:preference": Entry(
        kwargs=patient,
        method="POST",
        allowed=F(PRACTICE_STAFF),
        ok=302,
        data=lambda c: {"email": "on"},
        patient_scoped=True,
    ),
    # Availability: each clinician's own.
    "scheduling:availability": Entry(allowed=F(CLINICIANS)),
    "scheduling:hours_add": Entry(
        method="POST",
        allowed=F(CLINICIANS),
        ok=302,
        data=lambda c: {"weekday": "0", "start": "08:00", "end": "09:00", "valid_from": "2026-01-01"},
    ),
    "scheduling:hours_remove": Entry(kwargs=therapist_hours, method="POST", allowed=F({"therapist"}), ok=302),
    "scheduling:time_off_add": Entry(
        method="POST",
        allowed=F(CLINICIANS),
        ok=302,
        data=lambda c: {"starts_at": "2031-02-03T09:00", "ends_at": "2031-02-04T09:00", "reason": "Conference"},
    ),
    "scheduling:time_off_remove": Entry(kwargs=therapist_time_off, method="POST", allowed=F({"therapist"}), ok=302),
    "scheduling:rules_save": Entry(
        method="POST",
        allowed=F(CLINICIANS),
        ok=302,
        data=lambda c: {"buffer_minutes": "10", "max_per_day": "8", "new_patient_per_week": "3"},
    ),
    # Calendar feeds: each clinician's own; the feed link needs no session.
    "feeds:manage": Entry(allowed=F(CLINICIANS)),
    "feeds:create": Entry(method="POST", allowed=F(CLINICIANS)),
    "feeds:revoke": Entry(method="POST", allowed=F(CLINICIANS), ok=302),
    "feeds:ics": Entry(kwargs=calendar_feed_token, same_for_all=200),
    # Referrals: the practice writes them; the partner group's admins and
    # coordinators see them once submitted and act on them.
    "referrals:queue": Entry(),
    "referrals:metrics": Entry(allowed=F(ADMINS)),
    "referrals:metrics_csv": Entry(allowed=F(ADMINS)),
    "referrals:new": Entry(kwargs=patient, allowed=F(PRACTICE_STAFF), patient_scoped=True),
    "referrals:detail": Entry(kwargs=referral, allowed=F(PRACTICE_STAFF | {"group_admin"}), patient_scoped=True),
    "referrals:edit": Entry(kwargs=lambda c: referral(c, "draft"), allowed=F(PRACTICE_STAFF), patient_scoped=True),
    # Practice staff see the referral but may not triage it: they are sent back with the reason.
    "referrals:act": Entry(
        kwargs=lambda c: {**referral(c), "name": "triage"},
        method="POST",
        allowed=F({"group_admin"}),
        ok=302,
        data=lambda c: {"urgency": "routine"},
        extra={"therapist": 303, "colleague": 303, "admin": 303},
    ),
    # Video: only the appointment's participants; the patient's link needs no account.
    "video:room": Entry(kwargs=video_visit, allowed=F({"prescriber"})),
    "video:patient_link": Entry(kwargs=video_visit, method="POST", allowed=F({"prescriber"})),
    "video:patient": Entry(kwargs=video_token, same_for_all=200),
    # The pre-call check shows and keeps no patient data: every signed-in
    # person may run it, and the patient's link opens its own.
    "video:check": Entry(),
    "video:patient_check": Entry(kwargs=video_token, same_for_all=200),
    "admin:index": Entry(same_for_all=302),
    "admin_login_redirect": Entry(same_for_all=302),
}
# Django admin's own pages are for back-office staff and guarded by Django's
# staff check; the index above stands for them all.
SKIPPED_NAMESPACES = {"admin"}


def _route_names(patterns: list[URLPattern | URLResolver], namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}:{pattern.namespace}"
                if namespace and pattern.namespace
                else (pattern.namespace or namespace)
            )
            names |= _route_names(pattern.url_patterns, inner)
        elif pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
        else:
            names.add(f"{namespace}:<unnamed {pattern.pattern}>")
    return names


def test_every_url_has_a_matrix_entry() -> None:
    routes = {
        name for name in _route_names(get_resolver().url_patterns) if name.split(":")[0] not in SKIPPED_NAMESPACES
    }
    missing = routes - MATRIX.keys()
    assert not missing, f"URLs without an access-matrix entry: {sorted(missing)}"
    stale = {name for name in MATRIX if name.split(":")[0] not in SKIPPED_NAMESPACES} - routes
    assert not stale, f"Matrix entries for URLs that no longer exist: {sorted(stale)}"


def _request(client: Client, entry: Entry, url: str, cast: Cast):  # type: ignore[no-untyped-def]
    if entry.method == "POST":
        return client.post(url, entry.data(cast))
    return client.get(url)


def _expected(entry: Entry, who: str) -> int:
    if entry.same_for_all is not None:
        return entry.same_for_all
    if who == "anonymous":
        return entry.anonymous
    if who in entry.extra:
        return entry.extra[who]
    return entry.ok if who in entry.allowed else entry.denied


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_answers_each_cast_member_as_the_policy_says(route: str, cast: Cast) -> None:
    WorkerHeartbeat.objects.create(
        worker_id="w", hostname="h", pid=1, started_at=timezone.now(), beat_at=timezone.now()
    )
    entry = MATRIX[route]
    url = reverse(route, kwargs=entry.kwargs(cast))
    users = cast.everyone()
    # Those refused go first, so an allowed write (ending a care-team row, say)
    # cannot change what a later member sees.
    order = ["anonymous", *sorted(CAST, key=lambda who: who in entry.allowed)]
    got = {}
    for who in order:
        client = Client() if who == "anonymous" else sign_in(Client(), users[who], sudo=True)
        got[who] = _request(client, entry, url, cast).status_code
    expected = {who: _expected(entry, who) for who in order}
    assert got == expected


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(name for name, entry in MATRIX.items() if entry.patient_scoped))
@pytest.mark.parametrize("who", ["outsider", "unrelated", "patient_user"])
def test_hidden_patients_look_exactly_like_missing_ones(route: str, who: str, cast: Cast) -> None:
    entry = MATRIX[route]
    client = sign_in(Client(), cast.everyone()[who], sudo=True)
    real = _request(client, entry, reverse(route, kwargs=entry.kwargs(cast)), cast)
    fake_kwargs = {k: (uuid.uuid4() if k in {"public_id", "member_id"} else v) for k, v in entry.kwargs(cast).items()}
    fake = _request(client, entry, reverse(route, kwargs=fake_kwargs), cast)
    garbage = _request(client, entry, reverse(route, kwargs={**fake_kwargs, "public_id": "not-a-uuid"}), cast)
    assert real.status_code == fake.status_code == garbage.status_code == 404
    # Identical apart from the CSRF token, which is masked afresh on every render.
    assert page_text(real) == page_text(fake) == page_text(garbage)


@pytest.mark.django_db
def test_foreign_practice_patient_is_hidden_from_riverbend_staff(cast: Cast) -> None:
    for who in ["therapist", "colleague", "admin", "prescriber", "group_admin"]:
        client = sign_in(Client(), cast.everyone()[who])
        response = client.get(reverse("patients:chart", args=[cast.foreign_patient.public_id]))
        assert response.status_code == 404, who
