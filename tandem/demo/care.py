"""Diagnoses, treatment plans and medications for the demo, made through the
same services the pages use, then dated back to when they happened.

* Every patient shared with a prescriber has diagnoses; the common ones have
  their criteria checklist recorded.
* The showcase patient (patient 0): a plan in force signed by both
  clinicians and acknowledged in the office, and a revision the therapist has
  signed that waits for the prescriber. Sertraline titrated 25 → 50 → 100 mg,
  a side effect the therapist reported, prescriptions.
* Patients 1 and 3 have plans in force; patient 3 takes a stimulant, with a
  PDMP check on file.
* Patient 5 takes lithium: the dose went up ten days ago and the level that
  should follow a week later has not been drawn, so it shows as overdue.
* Patient 2 lives in Washington, where the demo psychiatrist has no DEA
  registration: the clonazepam continued from primary care cannot be
  prescribed there, and the prescribing page says why.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.services import SYSTEM
from tandem.medications import prescribing
from tandem.medications import services as meds
from tandem.medications.models import (
    LabResult,
    Medication,
    MedicationChange,
    Observation,
    PdmpCheck,
    Prescription,
)
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.plans import acknowledgement, criteria
from tandem.plans import services as plans
from tandem.plans.models import (
    Diagnosis,
    Plan,
    PlanAcknowledgement,
    PlanLink,
    PlanSignature,
    PlanVersion,
)

THERAPIST, THERAPIST2 = "therapist@riverbend.demo", "therapist2@riverbend.demo"
PSYCHIATRIST, NP = "prescriber@northstar.demo", "np@northstar.demo"

# Diagnoses by patient index: (code, status, checklist criteria met or None).
MDD_MET = ["A1", "A2", "A3", "A4", "A6", "A8", "A-duration", "B", "C", "D", "E"]
DIAGNOSES: dict[int, list[tuple[str, str]]] = {
    0: [("F33.1", "confirmed"), ("F41.1", "provisional")],
    1: [("F32.1", "confirmed")],
    2: [("F41.0", "confirmed"), ("F41.1", "confirmed")],
    3: [("F90.2", "confirmed")],
    4: [("F32.1", "confirmed"), ("G47.00", "provisional")],
    5: [("F31.81", "confirmed")],
    6: [("F33.0", "confirmed")],
    7: [("F43.10", "confirmed")],
    8: [("F43.23", "confirmed")],
    26: [("F41.1", "confirmed")],
}


def _day(today: datetime.date, days_ago: int) -> datetime.date:
    return today - datetime.timedelta(days=days_ago)


def _backdate_change(medication: Medication, days_ago: int) -> None:
    """The newest change of a medication happened ``days_ago``."""
    change = medication.changes.order_by("-made_at", "-id").first()
    assert change is not None
    when = timezone.now() - datetime.timedelta(days=days_ago, hours=3)
    MedicationChange.objects.filter(pk=change.pk).update(made_at=when)


def _start(
    patient: Patient,
    prescriber: User,
    org: Organization,
    drug: str,
    dose: str,
    days_ago: int,
    sig: str,
    reason: str,
    indication: str,
) -> Medication:
    today = patient.practice.local_date()
    medication, _ = meds.start(
        actor=prescriber,
        patient=patient,
        organization=org,
        drug=drug,
        form="capsule" if drug == "lisdexamfetamine" else "tablet",
        dose=Decimal(dose),
        sig=sig,
        indication=indication,
        started_on=_day(today, days_ago),
        reason=reason,
        part2=False,
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    Medication.objects.filter(pk=medication.pk).update(created_at=timezone.now() - datetime.timedelta(days=days_ago))
    _backdate_change(medication, days_ago)
    return medication


def _change(
    medication: Medication, prescriber: User, kind: str, dose: str | None, days_ago: int, reason: str, sig: str = ""
) -> None:
    today = medication.patient.practice.local_date()
    meds.change(
        actor=prescriber,
        medication=medication,
        kind=kind,
        dose=Decimal(dose) if dose else None,
        sig=sig,
        reason=reason,
        effective_on=_day(today, days_ago),
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    _backdate_change(medication, days_ago)


def _prescribe(medication: Medication, prescriber: User, strength: str, quantity: int, days_ago: int) -> None:
    """A prescription, when the rules allow it on the day the demo is built
    (a controlled drug's telemedicine pathway can lapse; then there is none)."""
    try:
        rx, _ = prescribing.prescribe(
            actor=prescriber,
            medication=medication,
            strength=strength,
            form=medication.form,
            sig=medication.sig,
            quantity=quantity,
            days_supply=30,
            refills=0 if medication.schedule == "II" else 1,
            pharmacy="Fred Meyer Pharmacy, 3805 SE Hawthorne Blvd, Portland OR, (503) 555-0142",
            patient_state=medication.patient.state,
            state_source="attested at check-in for the medication visit",
            form_token=uuid.uuid4(),
            meta=SYSTEM,
        )
    except prescribing.PrescribingRefused:
        return
    Prescription.objects.filter(pk=rx.pk).update(written_at=timezone.now() - datetime.timedelta(days=days_ago))


def _diagnose(patient: Patient, who: User, org: Organization, code: str, status: str, days_ago: int) -> Diagnosis:
    row, _ = plans.record_diagnosis(
        actor=who,
        patient=patient,
        organization=org,
        code=code,
        status=status,
        diagnosed_on=_day(patient.practice.local_date(), days_ago),
        note="",
        part2=False,
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    if row.criteria_set == "mdd":
        plans.record_criteria(actor=who, diagnosis=row, met=MDD_MET, meta=SYSTEM)
    elif row.criteria_set:
        checklist = criteria.get(row.criteria_set)
        plans.record_criteria(actor=who, diagnosis=row, met=checklist.ids, meta=SYSTEM)
    return row


def _plan(
    patient: Patient,
    therapist: User,
    prescriber: User,
    org: Organization,
    goals: list[dict[str, object]],
    interventions: list[tuple[str, str, User, str]],
    summary: str,
) -> PlanVersion:
    version, _ = plans.start_draft(
        actor=therapist,
        patient=patient,
        organization=org,
        problem_list=list(Diagnosis.objects.filter(patient=patient)),
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    plans.save_overview(
        actor=therapist,
        version=version,
        summary=summary,
        review_on=patient.practice.local_date() + datetime.timedelta(days=60),
        change_note="First plan",
        problem_list=None,
        meta=SYSTEM,
    )
    for goal in goals:
        plans.save_goal(actor=therapist, version=version, goal=None, meta=SYSTEM, **goal)  # type: ignore[arg-type]
    for text, discipline, owner, frequency in interventions:
        plans.save_intervention(
            actor=therapist,
            version=version,
            intervention=None,
            text=text,
            discipline=discipline,
            owner=owner,
            frequency=frequency,
            status="active",
            meta=SYSTEM,
        )
    return version


def _sign_both(version: PlanVersion, therapist: User, prescriber: User, days_ago: int) -> None:
    plans.sign(actor=therapist, version=version, discipline="therapy", meta=SYSTEM)
    plans.sign(actor=prescriber, version=version, discipline="medication", meta=SYSTEM)
    when = timezone.now() - datetime.timedelta(days=days_ago)
    PlanSignature.objects.filter(version=version).update(signed_at=when)
    PlanVersion.objects.filter(pk=version.pk).update(created_at=when, locked_at=when, in_force_at=when)
    version.refresh_from_db()


def seed_care(orgs: dict[str, Organization], users: dict[str, User], riverbend: list[Patient]) -> None:
    riverbend_org, northstar = orgs["riverbend"], orgs["northstar"]
    maya, samuel = users[THERAPIST], users[THERAPIST2]
    priya, jordan = users[PSYCHIATRIST], users[NP]

    def therapist_of(i: int) -> User:
        return maya if i < 20 else samuel

    for i, codes in DIAGNOSES.items():
        for code, status in codes:
            who, org = (therapist_of(i), riverbend_org) if code.startswith(("F43", "G47")) else (priya, northstar)
            if i == 26:
                who = jordan
            _diagnose(riverbend[i], who, org, code, status, days_ago=120 - i)

    # Patient 0: sertraline titration and the showcase plan.
    p0 = riverbend[0]
    sertraline = _start(
        p0, priya, northstar, "sertraline", "25", 84, "1 tablet by mouth once daily", "Recurrent depression", "F33.1"
    )
    _change(sertraline, priya, "dose", "50", 77, "Tolerating 25 mg; planned step up after one week.", "1 tablet daily")
    _prescribe(sertraline, priya, "50 mg", 30, 77)
    _change(sertraline, priya, "dose", "100", 35, "PHQ-9 still 13 at six weeks; room to go up.", "2 tablets daily")
    _prescribe(sertraline, priya, "100 mg", 30, 35)
    meds.record_observation(
        actor=maya,
        patient=p0,
        organization=riverbend_org,
        medication=sertraline,
        kind="side_effect",
        text="Nausea most mornings for the first week after the increase to 100 mg; settled by taking it with "
        "breakfast. Sleeping about six hours now.",
        observed_on=_day(p0.practice.local_date(), 28),
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    Observation.objects.filter(patient=p0).update(created_at=timezone.now() - datetime.timedelta(days=28))
    meds.record_observation(
        actor=maya,
        patient=p0,
        organization=riverbend_org,
        medication=sertraline,
        kind="change",
        text="Walked three mornings this week; brighter affect in session, first laugh in months.",
        observed_on=_day(p0.practice.local_date(), 6),
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    v1 = _plan(
        p0,
        maya,
        priya,
        riverbend_org,
        goals=[
            {
                "text": "PHQ-9 below 5",
                "discipline": "shared",
                "target_date": datetime.date(2027, 3, 31),
                "instrument": "phq9",
                "comparison": "below",
                "target_score": 5,
                "status": "active",
            },
            {
                "text": "Back to three days a week at her part-time library job",
                "discipline": "therapy",
                "target_date": datetime.date(2027, 2, 28),
                "instrument": "",
                "comparison": "",
                "target_score": None,
                "status": "active",
            },
            {
                "text": "GAD-7 at or below 7",
                "discipline": "medication",
                "target_date": datetime.date(2027, 3, 31),
                "instrument": "gad7",
                "comparison": "at_most",
                "target_score": 7,
                "status": "active",
            },
        ],
        interventions=[
            ("CBT with behavioral activation", "therapy", maya, "Weekly"),
            ("Sertraline titration to response", "medication", priya, "Every 4 weeks"),
            ("Sleep hygiene and a fixed wake time", "therapy", maya, "Reviewed each session"),
        ],
        summary="Recurrent depression with anxious distress after a move away from family. "
        "She wants to get back to work part time and to sleep through the night.",
    )
    _sign_both(v1, maya, priya, days_ago=70)
    acknowledgement.in_office(actor=maya, version=v1, typed_name=p0.full_name, meta=SYSTEM)
    PlanAcknowledgement.objects.filter(version=v1).update(acknowledged_at=timezone.now() - datetime.timedelta(days=63))
    # A revision the therapist signed this week: waiting for the prescriber.
    v2, _ = plans.start_draft(
        actor=maya,
        patient=p0,
        organization=riverbend_org,
        problem_list=list(Diagnosis.objects.filter(patient=p0)),
        form_token=uuid.uuid4(),
        meta=SYSTEM,
    )
    plans.save_overview(
        actor=maya,
        version=v2,
        summary=v1.summary,
        review_on=p0.practice.local_date() + datetime.timedelta(days=90),
        change_note="Work goal met; sleep goal added",
        problem_list=None,
        meta=SYSTEM,
    )
    work = v2.goals.get(text__startswith="Back to three days")
    plans.save_goal(
        actor=maya,
        version=v2,
        goal=work,
        text=work.text,
        discipline="therapy",
        target_date=work.target_date,
        instrument="",
        comparison="",
        target_score=None,
        status="met",
        meta=SYSTEM,
    )
    plans.save_goal(
        actor=maya,
        version=v2,
        goal=None,
        text="Sleeping seven hours most nights",
        discipline="shared",
        target_date=datetime.date(2027, 2, 15),
        instrument="",
        comparison="",
        target_score=None,
        status="active",
        meta=SYSTEM,
    )
    plans.sign(actor=maya, version=v2, discipline="therapy", meta=SYSTEM)

    # Patient 1: bupropion, and a plan in force.
    p1 = riverbend[1]
    bupropion = _start(
        p1, priya, northstar, "bupropion", "150", 60, "1 tablet every morning", "Depression with low energy", "F32.1"
    )
    _change(bupropion, priya, "dose", "300", 21, "Energy better but mood flat; increasing to 300 mg.", "2 tablets AM")
    _prescribe(bupropion, priya, "150 mg", 60, 21)
    v = _plan(
        p1,
        maya,
        priya,
        riverbend_org,
        goals=[
            {
                "text": "PHQ-9 below 10",
                "discipline": "shared",
                "target_date": datetime.date(2027, 1, 31),
                "instrument": "phq9",
                "comparison": "below",
                "target_score": 10,
                "status": "active",
            }
        ],
        interventions=[
            ("Interpersonal therapy", "therapy", maya, "Weekly"),
            ("Bupropion XL titration", "medication", priya, "Every 4 weeks"),
        ],
        summary="Single moderate depressive episode after a divorce; low energy and withdrawal from friends.",
    )
    _sign_both(v, maya, priya, days_ago=50)

    # Patient 3: ADHD on a stimulant, PDMP checked.
    p3 = riverbend[3]
    today3 = p3.practice.local_date()
    PdmpCheck.objects.create(
        patient=p3,
        organization=northstar,
        clinician=priya,
        state=p3.state,
        checked_at=timezone.now() - datetime.timedelta(days=2),
        outcome="no_concerns",
        findings="One prescriber, one pharmacy; no other controlled prescriptions in 12 months.",
        reference="OR-PDMP-88213",
    )
    vyvanse = _start(
        p3, priya, northstar, "lisdexamfetamine", "30", 45, "1 capsule every morning", "ADHD, combined", "F90.2"
    )
    _change(vyvanse, priya, "dose", "40", 2, "Afternoon focus still poor; appetite and BP fine.", "1 capsule AM")
    _prescribe(vyvanse, priya, "40 mg", 30, 1)
    LabResult.objects.bulk_create(
        [
            LabResult(
                patient=p3,
                organization=northstar,
                test=test,
                value=value,
                unit=unit,
                collected_on=today3 - datetime.timedelta(days=2),
                entered_by=priya,
            )
            for test, value, unit in (
                ("blood_pressure", "118/76", "mmHg"),
                ("heart_rate", "74", "bpm"),
                ("weight", "71", "kg"),
            )
        ]
    )
    v3 = _plan(
        p3,
        maya,
        priya,
        riverbend_org,
        goals=[
            {
                "text": "Turn in coursework on time for a full term",
                "discipline": "shared",
                "target_date": datetime.date(2027, 5, 31),
                "instrument": "",
                "comparison": "",
                "target_score": None,
                "status": "active",
            }
        ],
        interventions=[
            ("Organization skills coaching", "therapy", maya, "Every 2 weeks"),
            ("Lisdexamfetamine titration", "medication", priya, "Every 4 weeks"),
        ],
        summary="Combined-presentation ADHD first recognized in college; falling behind in coursework.",
    )
    _sign_both(v3, maya, priya, days_ago=40)

    # Patient 5: lithium, a level overdue after the last dose change.
    p5 = riverbend[5]
    today5 = p5.practice.local_date()
    lithium = _start(
        p5, priya, northstar, "lithium", "300", 70, "1 tablet twice daily", "Bipolar II, depressive episodes", "F31.81"
    )
    for test, value, unit, days in (
        ("lithium_level", "0.4", "mmol/L", 62),
        ("creatinine", "0.9", "mg/dL", 70),
        ("tsh", "2.1", "mIU/L", 70),
        ("calcium", "9.4", "mg/dL", 70),
    ):
        LabResult.objects.create(
            patient=p5,
            organization=northstar,
            test=test,
            value=value,
            unit=unit,
            collected_on=today5 - datetime.timedelta(days=days),
            entered_by=priya,
        )
    _change(lithium, priya, "dose", "450", 10, "Level 0.4 at week one; mood still low. Up to 450 mg twice daily.")
    _prescribe(lithium, priya, "450 mg", 60, 10)

    # Patient 2 (Washington): clonazepam continued from primary care.
    p2 = riverbend[2]
    _start(
        p2,
        priya,
        northstar,
        "clonazepam",
        "0.5",
        30,
        "1 tablet twice daily as needed for panic",
        "Panic disorder; started by primary care, to be tapered",
        "F41.0",
    )
    _start(p2, priya, northstar, "sertraline", "50", 30, "1 tablet once daily", "Panic disorder", "F41.0")

    # Patient 26: the NP's patient on escitalopram.
    p26 = riverbend[26]
    escitalopram = _start(
        p26, jordan, northstar, "escitalopram", "5", 70, "1 tablet once daily", "Generalized anxiety", "F41.1"
    )
    _change(escitalopram, jordan, "dose", "10", 56, "Tolerating 5 mg; to the usual dose.", "1 tablet once daily")


def remove_care(orgs: object) -> None:
    mine = {"patient__practice__in": orgs}
    Observation.objects.filter(**mine).delete()
    Prescription.objects.filter(medication__patient__practice__in=orgs).delete()
    MedicationChange.objects.filter(medication__patient__practice__in=orgs).delete()
    Medication.objects.filter(**mine).delete()
    PdmpCheck.objects.filter(**mine).delete()
    LabResult.objects.filter(**mine).delete()
    # Removing the whole record is the one deletion signed plan versions allow.
    Plan.objects.filter(**mine).update(erasing=True)
    PlanAcknowledgement.objects.filter(version__plan__patient__practice__in=orgs).delete()
    PlanLink.objects.filter(version__plan__patient__practice__in=orgs).delete()
    PlanSignature.objects.filter(version__plan__patient__practice__in=orgs).delete()
    versions = PlanVersion.objects.filter(plan__patient__practice__in=orgs)
    # Newest first: each version holds on to the one it was based on.
    for number in sorted(set(versions.values_list("number", flat=True)), reverse=True):
        versions.filter(number=number).delete()
    Plan.objects.filter(**mine).delete()
    Diagnosis.objects.filter(**mine).delete()
