"""Managing the medication list: every change is a dated row with a reason,
made atomically, audited, safe to submit twice, and told to the rest of the
care team at once.

Who may do what is the views' question, asked of ``access/policy.py``: the
prescriber on the care team starts and changes medications and prescribes;
clinicians who write in the chart record lab results and observations.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.credentials import rules
from tandem.lib.once import create_once
from tandem.medications import monitoring
from tandem.medications.models import (
    ChangeKind,
    LabResult,
    Medication,
    MedicationChange,
    MedicationStatus,
    Observation,
    ObservationKind,
    PdmpCheck,
    PdmpOutcome,
)
from tandem.messaging.services import notify
from tandem.organizations.models import Organization
from tandem.patients.models import Patient

TREATMENT = "treatment"
MEDICATION_CHANGED = "medication_changed"
OBSERVATION = "medication_observation"
DOSE_MAX = decimal.Decimal("100000")


class MedicationError(Exception):
    """A medication action refused, with a message for the person."""


def _audit(
    actor: User,
    action: str,
    patient: Patient,
    target_type: str,
    target_id: object,
    meta: audit.RequestMeta,
    **detail: Any,
) -> None:
    audit.record(
        actor=actor,
        action=action,
        purpose=TREATMENT,
        meta=meta,
        patient_id=patient.public_id,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or None,
    )


def catalog_drug(name: str) -> rules.Drug:
    found = rules.current().drugs.get(name.strip().lower())
    if found is None:
        raise MedicationError("Choose a drug from Tandem's catalog.")
    return found


def _check_dose(dose: decimal.Decimal | None) -> decimal.Decimal:
    if dose is None or not dose.is_finite() or dose <= 0:
        raise MedicationError("Give the dose as a number above zero.")
    if dose >= DOSE_MAX:
        raise MedicationError("That dose is far too large; check the units.")
    return dose


def _check_day(patient: Patient, day: datetime.date, what: str) -> None:
    today = patient.practice.local_date()
    if day > today + datetime.timedelta(days=1):
        raise MedicationError(f"The {what} cannot be more than a day in the future.")
    if day < today - datetime.timedelta(days=365 * 20):
        raise MedicationError(f"The {what} is too far in the past.")


def medication_link(medication: Medication) -> str:
    return reverse("medications:detail", args=[medication.patient.public_id, medication.public_id])


def _tell_team(actor: User, medication: Medication, text: str) -> None:
    """Everyone else on the care team who may see this medication, at once."""
    readers = [
        u
        for u in policy.team_who_sees(medication.patient, medication.effective_class, medication.organization_id)
        if u.pk != actor.pk
    ]
    if readers:
        notify(recipients=readers, kind=MEDICATION_CHANGED, text=text, link=medication_link(medication))


def start(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    drug: str,
    form: str,
    dose: decimal.Decimal | None,
    sig: str,
    indication: str,
    started_on: datetime.date,
    reason: str,
    part2: bool,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Medication, bool]:
    entry = catalog_drug(drug)
    amount = _check_dose(dose)
    if form not in entry.forms:
        raise MedicationError(f"{entry.display} comes as {', '.join(entry.forms)}.")
    if not reason.strip():
        raise MedicationError("Say why it is started.")
    _check_day(patient, started_on, "start date")

    def create() -> Medication:
        medication = Medication.objects.create(
            patient=patient,
            organization=organization,
            prescriber=actor,
            drug=entry.name,
            display=entry.display,
            drug_class=entry.drug_class,
            rxcui=entry.rxcui,
            schedule=entry.schedule,
            part2=part2,
            form=form,
            dose=amount,
            dose_unit=entry.dose_unit,
            sig=sig,
            indication=indication,
            started_on=started_on,
            form_token=form_token,
        )
        MedicationChange.objects.create(
            medication=medication,
            kind=ChangeKind.START,
            dose_after=amount,
            sig=sig,
            reason=reason,
            effective_on=started_on,
            made_by=actor,
        )
        _audit(actor, Action.CREATE, patient, "medication", medication.public_id, meta, drug=entry.name)
        _tell_team(actor, medication, f"{actor.display_name} started a medication for a patient on your care team")
        return medication

    try:
        return create_once(Medication, form_token, create, patient=patient, prescriber=actor)
    except IntegrityError:
        raise MedicationError(f"{entry.display} is already on the list; change that entry instead.") from None


# What each change does to the status, from which statuses it may be made.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    ChangeKind.DOSE: ((MedicationStatus.ACTIVE, MedicationStatus.TAPERING), MedicationStatus.ACTIVE),
    ChangeKind.TAPER: ((MedicationStatus.ACTIVE, MedicationStatus.TAPERING), MedicationStatus.TAPERING),
    ChangeKind.HOLD: ((MedicationStatus.ACTIVE, MedicationStatus.TAPERING), MedicationStatus.ON_HOLD),
    ChangeKind.RESUME: ((MedicationStatus.ON_HOLD,), MedicationStatus.ACTIVE),
    ChangeKind.STOP: (
        (MedicationStatus.ACTIVE, MedicationStatus.TAPERING, MedicationStatus.ON_HOLD),
        MedicationStatus.STOPPED,
    ),
}
WORDS = {
    ChangeKind.DOSE: "changed the dose of",
    ChangeKind.TAPER: "started tapering",
    ChangeKind.HOLD: "put on hold",
    ChangeKind.RESUME: "resumed",
    ChangeKind.STOP: "stopped",
}


def change(
    *,
    actor: User,
    medication: Medication,
    kind: str,
    dose: decimal.Decimal | None,
    sig: str,
    reason: str,
    effective_on: datetime.date,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[MedicationChange, bool]:
    """A dose change, taper, hold, resume or stop, with its reason."""
    # A second submit of the same form finds the change the first one made,
    # before the checks below judge it against the dose that change set.
    existing = MedicationChange.objects.filter(form_token=form_token, medication=medication, made_by=actor).first()
    if existing is not None:
        return existing, False
    if kind not in TRANSITIONS:
        raise MedicationError("Choose what changes: dose, taper, hold, resume or stop.")
    allowed_from, becomes = TRANSITIONS[kind]
    if not reason.strip():
        raise MedicationError("Say why, for the rest of the care team.")
    patient = medication.patient
    _check_day(patient, effective_on, "date of the change")
    if effective_on < medication.started_on:
        raise MedicationError("A change cannot come before the medication was started.")
    new_dose: decimal.Decimal | None = None
    if kind in (ChangeKind.DOSE, ChangeKind.TAPER):
        new_dose = _check_dose(dose)
        if new_dose == medication.dose:
            raise MedicationError(f"The dose is already {medication.dose_text}.")
        if kind == ChangeKind.TAPER and new_dose > medication.dose:
            raise MedicationError("A taper lowers the dose.")
    elif kind == ChangeKind.RESUME and dose is not None:
        new_dose = _check_dose(dose)

    def create() -> MedicationChange:
        current = Medication.objects.select_for_update().get(pk=medication.pk)
        if current.status not in allowed_from:
            raise MedicationError(
                f"This medication is {current.get_status_display().lower()}; that change does not apply."
            )
        # The timeline is read in date order: a change may not go back before the last one.
        last = current.changes.order_by("-effective_on").values_list("effective_on", flat=True).first()
        if last is not None and effective_on < last:
            raise MedicationError(
                f"The last change to this medication is dated {last:%b} {last.day}, {last.year}; "
                "date this one on or after it."
            )
        fields: dict[str, Any] = {"status": becomes, "updated_at": timezone.now()}
        if new_dose is not None:
            fields["dose"] = new_dose
        if sig.strip():
            fields["sig"] = sig
        if becomes == MedicationStatus.STOPPED:
            fields["stopped_on"] = effective_on
        Medication.objects.filter(pk=current.pk).update(**fields)
        row = MedicationChange.objects.create(
            medication=current,
            kind=kind,
            dose_before=current.dose,
            dose_after=new_dose if new_dose is not None else current.dose,
            sig=sig,
            reason=reason,
            effective_on=effective_on,
            made_by=actor,
            form_token=form_token,
        )
        _audit(actor, Action.UPDATE, patient, "medication", medication.public_id, meta, change=kind)
        _tell_team(
            actor,
            current,
            f"{actor.display_name} {WORDS[ChangeKind(kind)]} a medication of a patient on your care team",
        )
        return row

    row, created = create_once(MedicationChange, form_token, create, medication=medication, made_by=actor)
    medication.refresh_from_db()
    return row, created


def record_pdmp_check(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    state: str,
    checked_at: datetime.datetime,
    outcome: str,
    findings: str,
    reference: str,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[PdmpCheck, bool]:
    if outcome not in PdmpOutcome.values:
        raise MedicationError("Choose what the check found.")
    if state not in rules.current().state_time_zones:
        raise MedicationError("Choose the state whose PDMP was checked.")
    now = timezone.now()
    if checked_at > now + datetime.timedelta(minutes=5):
        raise MedicationError("The time of the check cannot be in the future.")
    if checked_at < now - datetime.timedelta(days=30):
        raise MedicationError("Record a check from the past 30 days.")
    if outcome == PdmpOutcome.CONCERNS and not findings.strip():
        raise MedicationError("Say what the check found.")

    def create() -> PdmpCheck:
        row = PdmpCheck.objects.create(
            patient=patient,
            organization=organization,
            clinician=actor,
            state=state,
            checked_at=checked_at,
            outcome=outcome,
            findings=findings,
            reference=reference,
            form_token=form_token,
        )
        _audit(actor, Action.CREATE, patient, "pdmp_check", row.public_id, meta, state=state, outcome=outcome)
        return row

    return create_once(PdmpCheck, form_token, create, patient=patient, clinician=actor)


def record_lab(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    test: str,
    value: str,
    collected_on: datetime.date,
    note: str,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[LabResult, bool]:
    found = monitoring.tests().get(test)
    if found is None:
        raise MedicationError("Choose the test from the list.")
    if not value.strip():
        raise MedicationError("Give the result.")
    _check_day(patient, collected_on, "date taken")
    if collected_on > patient.practice.local_date():
        raise MedicationError("A result cannot be dated in the future.")

    def create() -> LabResult:
        row = LabResult.objects.create(
            patient=patient,
            organization=organization,
            test=found.key,
            value=value.strip(),
            unit=found.unit,
            collected_on=collected_on,
            note=note,
            entered_by=actor,
            form_token=form_token,
        )
        _audit(actor, Action.CREATE, patient, "lab_result", row.public_id, meta, test=found.key)
        return row

    return create_once(LabResult, form_token, create, patient=patient, entered_by=actor)


def record_observation(
    *,
    actor: User,
    patient: Patient,
    organization: Organization,
    medication: Medication | None,
    kind: str,
    text: str,
    observed_on: datetime.date,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Observation, bool]:
    """The therapist's observation: onto the timeline, and to the prescriber's inbox."""
    if kind not in ObservationKind.values:
        raise MedicationError("Choose side effect, adherence or a change seen in session.")
    if not text.strip():
        raise MedicationError("Say what you observed.")
    _check_day(patient, observed_on, "date observed")
    if medication is not None and medication.patient_id != patient.pk:
        raise MedicationError("Choose one of this patient's medications.")

    def create() -> Observation:
        row = Observation.objects.create(
            patient=patient,
            medication=medication,
            organization=organization,
            author=actor,
            kind=kind,
            text=text,
            observed_on=observed_on,
            form_token=form_token,
        )
        _audit(actor, Action.CREATE, patient, "medication_observation", row.public_id, meta, kind=kind)
        prescribers = [
            u
            for u in policy.team_who_sees(patient, row.effective_class, organization.pk)
            if u.pk != actor.pk and policy.can_prescribe(u, patient)
        ]
        if prescribers:
            label = ObservationKind(kind).label.lower()
            notify(
                recipients=prescribers,
                kind=OBSERVATION,
                text=f"{actor.display_name} reported a {label} for a patient on your care team",
                link=reverse("medications:list", args=[patient.public_id]) + f"#obs-{row.public_id}",
                email_subject="A medication observation about a patient is waiting in Tandem",
            )
        return row

    return create_once(Observation, form_token, create, patient=patient, author=actor)
