"""Recording a prescription, behind every check the law asks of it.

Before anything is written, the eligibility engine judges this prescriber,
the patient's attested location at this moment and the drug's schedule. A
refusal names the rule that refused. For a controlled drug a PDMP check of
the patient's state must be on file, recent enough; refills are capped by
schedule; and buprenorphine by telemedicine without an in-person evaluation
runs on the rule's six-month clock. The prescription is then handed to the
e-prescribing adapter, which in this codebase sends nothing and says so.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import tomllib
import uuid
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action
from tandem.credentials import eligibility, rules
from tandem.lib.once import create_once
from tandem.medications import erx
from tandem.medications.models import (
    Medication,
    MedicationStatus,
    PdmpCheck,
    PdmpOutcome,
    Prescription,
    Transmission,
)
from tandem.medications.services import TREATMENT, MedicationError
from tandem.scheduling.models import Appointment, Modality, Status

DATA = Path(__file__).resolve().parent / "data" / "prescribing.toml"
PHARMACY_MAX = 300
QUANTITY_MAX = 1000
DAYS_MAX = 365


@dataclass(frozen=True)
class Limits:
    version: str
    pdmp_valid_days: int
    refills: dict[str, int]
    buprenorphine_months: int
    buprenorphine_days_without_pdmp: int


@functools.cache
def limits() -> Limits:
    with DATA.open("rb") as handle:
        raw: dict[str, Any] = tomllib.load(handle)
    refills = {k: int(v) for k, v in raw["refills"].items() if k not in {"source", "verified"}}
    if set(refills) != {"", "II", "III", "IV", "V"}:
        raise ValueError("prescribing.toml must give a refill limit for every schedule and for none.")
    return Limits(
        version=raw["version"],
        pdmp_valid_days=int(raw["pdmp"]["valid_days"]),
        refills=refills,
        buprenorphine_months=int(raw["buprenorphine"]["months"]),
        buprenorphine_days_without_pdmp=int(raw["buprenorphine"]["days_when_pdmp_unavailable"]),
    )


class PrescribingRefused(MedicationError):
    """Refused by a rule: the reasons say which."""

    def __init__(self, reasons: list[eligibility.Reason], rules_version: str = "") -> None:
        self.reasons = reasons
        self.rules_version = rules_version
        super().__init__(" ".join(r.text for r in reasons))


def add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def in_person_evaluated(prescriber: User, medication: Medication, at: datetime.datetime) -> bool:
    """An in-person visit of this patient with this prescriber that took place."""
    return Appointment.objects.filter(
        patient=medication.patient,
        participants__user=prescriber,
        modality=Modality.IN_PERSON,
        status__in=[Status.COMPLETED, Status.CHECKED_IN],
        starts_at__lte=at,
    ).exists()


def attested_location(medication: Medication, at: datetime.datetime) -> tuple[str, str]:
    """Where the patient said they were at their latest check-in today, and how
    Tandem knows: the form's default, which the prescriber confirms."""
    zone = zoneinfo.ZoneInfo(medication.patient.practice.timezone)
    day_start = datetime.datetime.combine(at.astimezone(zone).date(), datetime.time(), tzinfo=zone)
    visit = (
        Appointment.objects.filter(patient=medication.patient, starts_at__gte=day_start, starts_at__lte=at)
        .exclude(attested_state="")
        .order_by("-starts_at")
        .first()
    )
    if visit is None:
        return "", ""
    local = visit.starts_at.astimezone(zone)
    return visit.attested_state, f"attested at check-in for the visit at {local:%H:%M} today"


def usable_pdmp_check(medication: Medication, prescriber: User, state: str, at: datetime.datetime) -> PdmpCheck | None:
    """The newest check of the patient's state by this prescriber's side, recent enough."""
    since = at - datetime.timedelta(days=limits().pdmp_valid_days)
    return (
        PdmpCheck.objects.filter(
            patient=medication.patient,
            organization=medication.organization,
            state=state,
            checked_at__gte=since,
            checked_at__lte=at,
        )
        .order_by("-checked_at")
        .first()
    )


def buprenorphine_clock(medication: Medication, *, before: datetime.datetime) -> datetime.date | None:
    """When the six months end, counted from the first buprenorphine
    prescription by telemedicine without an in-person evaluation; None if
    none has been written yet."""
    first = (
        Prescription.objects.filter(
            medication__patient=medication.patient,
            medication__drug=medication.drug,
            in_person_evaluated=False,
            written_at__lt=before,
        )
        .order_by("written_at")
        .first()
    )
    if first is None:
        return None
    zone = zoneinfo.ZoneInfo(medication.patient.practice.timezone)
    return add_months(first.written_at.astimezone(zone).date(), limits().buprenorphine_months)


def check(
    *,
    actor: User,
    medication: Medication,
    patient_state: str,
    days_supply: int,
    refills: int,
    at: datetime.datetime,
) -> tuple[eligibility.Decision, bool, PdmpCheck | None, datetime.date | None]:
    """Every rule, in order; raises PrescribingRefused with the reasons."""
    in_person = in_person_evaluated(actor, medication, at)
    creds = eligibility.load_credentials([actor.pk])[actor.pk]
    decision = eligibility.decide(
        creds,
        state=patient_state,
        at=at,
        action=eligibility.Action.PRESCRIBE,
        drug=medication.drug,
        in_person_evaluated=in_person,
    )
    if not decision.allowed:
        raise PrescribingRefused(list(decision.reasons), decision.rules_version)
    drug = rules.current().drugs[medication.drug]
    cap = limits().refills[drug.schedule]
    if refills > cap:
        text = (
            f"A Schedule {drug.schedule} prescription may carry at most {cap} refills."
            if drug.schedule
            else f"A prescription may carry at most {cap} refills."
        )
        raise PrescribingRefused([eligibility.Reason("refills_over_limit", text)], decision.rules_version)
    pdmp: PdmpCheck | None = None
    clock_ends: datetime.date | None = None
    if drug.controlled:
        pdmp = usable_pdmp_check(medication, actor, patient_state, at)
        if pdmp is None:
            raise PrescribingRefused(
                [
                    eligibility.Reason(
                        "pdmp_check_required",
                        f"{drug.display} is Schedule {drug.schedule}: record a check of the {patient_state} PDMP "
                        f"from the past {limits().pdmp_valid_days} days first.",
                    )
                ],
                decision.rules_version,
            )
        today = medication.patient.practice.local_date(at)
        bup_rule = not in_person and rules.current().buprenorphine.covers(drug, today)
        if pdmp.outcome == PdmpOutcome.UNAVAILABLE:
            short = limits().buprenorphine_days_without_pdmp
            if not bup_rule:
                raise PrescribingRefused(
                    [
                        eligibility.Reason(
                            "pdmp_check_incomplete",
                            "The PDMP check on file says the PDMP was unavailable; a controlled prescription "
                            "needs a completed check.",
                        )
                    ],
                    decision.rules_version,
                )
            if days_supply > short:
                raise PrescribingRefused(
                    [
                        eligibility.Reason(
                            "pdmp_unavailable_short_supply",
                            f"The PDMP was unavailable: the buprenorphine rule allows a {short}-day supply at most.",
                        )
                    ],
                    decision.rules_version,
                )
        if bup_rule:
            clock_ends = buprenorphine_clock(medication, before=at) or add_months(today, limits().buprenorphine_months)
            if today >= clock_ends:
                raise PrescribingRefused(
                    [
                        eligibility.Reason(
                            "buprenorphine_six_months",
                            f"The six months the buprenorphine rule allows without an in-person evaluation ended "
                            f"on {clock_ends.isoformat()}: an in-person evaluation (or another lawful route) is "
                            "needed now.",
                        )
                    ],
                    decision.rules_version,
                )
            if today + datetime.timedelta(days=days_supply) > clock_ends:
                raise PrescribingRefused(
                    [
                        eligibility.Reason(
                            "buprenorphine_supply_past_clock",
                            f"This supply would run past {clock_ends.isoformat()}, the end of the six months the "
                            "buprenorphine rule allows without an in-person evaluation.",
                        )
                    ],
                    decision.rules_version,
                )
    return decision, in_person, pdmp, clock_ends


def prescribe(
    *,
    actor: User,
    medication: Medication,
    strength: str,
    form: str,
    sig: str,
    quantity: int,
    days_supply: int,
    refills: int,
    pharmacy: str,
    patient_state: str,
    state_source: str,
    form_token: uuid.UUID,
    meta: audit.RequestMeta,
) -> tuple[Prescription, bool]:
    """Record a prescription that passed every rule, and hand it to the adapter."""
    patient = medication.patient
    if medication.status == MedicationStatus.STOPPED:
        raise MedicationError("This medication is stopped; start it again before prescribing it.")
    if medication.status == MedicationStatus.ON_HOLD:
        raise MedicationError("This medication is on hold; resume it before prescribing it.")
    drug = rules.current().drugs.get(medication.drug)
    if drug is None:
        raise MedicationError("This drug is no longer in Tandem's catalog.")
    if strength not in drug.strengths:
        raise MedicationError(f"{drug.display} comes in {', '.join(drug.strengths)}.")
    if form not in drug.forms:
        raise MedicationError(f"{drug.display} comes as {', '.join(drug.forms)}.")
    if not 0 < quantity <= QUANTITY_MAX or not 0 < days_supply <= DAYS_MAX or refills < 0:
        raise MedicationError(f"Quantity runs 1 to {QUANTITY_MAX}, days' supply 1 to {DAYS_MAX}, refills 0 or more.")
    if not pharmacy.strip() or not sig.strip():
        raise MedicationError("Give the directions and the pharmacy.")
    existing = Prescription.objects.filter(form_token=form_token, medication=medication, prescriber=actor).first()
    if existing is not None:
        return existing, False
    at = timezone.now()
    try:
        decision, in_person, pdmp, clock_ends = check(
            actor=actor,
            medication=medication,
            patient_state=patient_state,
            days_supply=days_supply,
            refills=refills,
            at=at,
        )
    except PrescribingRefused as refused:
        audit.record(
            actor=actor,
            action=Action.CREATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id,
            target_type="prescription_refused",
            target_id=str(medication.public_id),
            detail={"state": patient_state, "reasons": [r.code for r in refused.reasons]},
        )
        raise

    def create() -> Prescription:
        row = Prescription.objects.create(
            medication=medication,
            prescriber=actor,
            organization=medication.organization,
            drug=medication.drug,
            strength=strength,
            form=form,
            sig=sig,
            quantity=quantity,
            days_supply=days_supply,
            refills=refills,
            pharmacy=pharmacy,
            patient_state=patient_state,
            state_source=state_source,
            eligibility=decision.as_dict(),
            in_person_evaluated=in_person,
            pdmp_check=pdmp,
            buprenorphine_clock_ends_on=clock_ends,
            written_at=at,
            form_token=form_token,
        )
        outcome = erx.backend().transmit(row)
        status = Transmission.SENT if outcome.sent else Transmission.FAILED if outcome.failed else Transmission.NOT_SENT
        Prescription.objects.filter(pk=row.pk).update(transmission=status, transmission_note=outcome.note[:300])
        row.transmission, row.transmission_note = status, outcome.note[:300]
        audit.record(
            actor=actor,
            action=Action.CREATE,
            purpose=TREATMENT,
            meta=meta,
            patient_id=patient.public_id,
            target_type="prescription",
            target_id=str(row.public_id),
            detail={"state": patient_state, "schedule": drug.schedule, "transmission": status},
        )
        return row

    with transaction.atomic():
        return create_once(Prescription, form_token, create, medication=medication, prescriber=actor)
