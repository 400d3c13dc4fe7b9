"""A small referral world on top of the shared test cast.

Priya (the cast's prescriber) is a psychiatrist licensed in OR and WA and
enrolled with Aetna in both; Lee (the cast's "unrelated" prescriber) is an NP
licensed in OR and ID, enrolled with Aetna in OR only. Both keep weekday hours.
Alex is Northstar's coordinator. The clock is frozen on Monday June 8, 2026,
08:00 in Portland, so every slot is predictable.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from tandem.accounts.models import User
from tandem.audit.services import RequestMeta
from tandem.credentials.models import ClinicianProfile, Discipline, LicenseType, PayerEnrollment, StateLicense
from tandem.organizations.models import Membership, Role
from tandem.patients.models import Patient
from tandem.referrals import services
from tandem.referrals.models import Referral, Urgency
from tandem.scheduling.models import SchedulingRules, WeeklyHours
from tandem.test import Cast, grant_authorization, make_patient, make_user

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
UTC = datetime.UTC
NOW = datetime.datetime(2026, 6, 8, 15, tzinfo=UTC)  # Monday 08:00 in Portland, 09:00 in Denver


@dataclass
class World:
    cast: Cast
    coordinator: User
    wa_patient: Patient

    @property
    def psychiatrist(self) -> User:
        return self.cast.prescriber

    @property
    def np(self) -> User:
        return self.cast.unrelated


def hours(user: User, cast: Cast, start: int = 9, end: int = 17, weekdays: range = range(5)) -> None:
    for weekday in weekdays:
        WeeklyHours.objects.create(
            clinician=user,
            organization=cast.northstar,
            weekday=weekday,
            start=datetime.time(start),
            end=datetime.time(end),
            timezone="America/Denver",
        )


def build(cast: Cast, *, with_hours: bool = True, consent: bool = True) -> World:
    coordinator = make_user("coordinator@northstar.test", "Alex Kim")
    Membership.objects.create(user=coordinator, organization=cast.northstar, role=Role.COORDINATOR)
    ClinicianProfile.objects.create(user=cast.prescriber, discipline=Discipline.PSYCHIATRIST, languages=["en", "es"])
    ClinicianProfile.objects.create(user=cast.unrelated, discipline=Discipline.PMHNP, languages=["en"])
    for user, state, kind in [
        (cast.prescriber, "OR", LicenseType.MD),
        (cast.prescriber, "WA", LicenseType.MD),
        (cast.unrelated, "OR", LicenseType.NP),
        (cast.unrelated, "ID", LicenseType.NP),
    ]:
        StateLicense.objects.create(clinician=user, state=state, license_type=kind, number=f"{kind}-{state}")
    for user, state in [(cast.prescriber, "OR"), (cast.prescriber, "WA"), (cast.unrelated, "OR")]:
        PayerEnrollment.objects.create(clinician=user, payer=cast.payer, state=state)
    if with_hours:
        hours(cast.prescriber, cast)
        hours(cast.unrelated, cast)
    wa_patient = make_patient(cast.riverbend, "Rosa", "Alvarez", "RB-000010", cast.payer, state="WA")
    if consent:
        for p in (cast.patient, cast.other_patient, wa_patient):
            grant_authorization(p, cast.riverbend, cast.northstar, signed_at=NOW - datetime.timedelta(days=30))
    return World(cast, coordinator, wa_patient)


def one_evaluation_a_week(user: User) -> None:
    SchedulingRules.objects.update_or_create(clinician=user, defaults={"new_patient_per_week": 1})


def draft(world: World, patient: Patient | None = None, **changes: object) -> Referral:
    patient = patient or world.wa_patient
    fields = {
        "urgency": Urgency.ROUTINE,
        "reason": "Depression not improving with therapy alone",
        "clinical_question": "Would medication help? PHQ-9 has stayed above 15 for 8 weeks.",
        "location_state": patient.state,
        "payer": patient.payer,
    }
    fields.update(changes)
    return services.save_draft(
        actor=world.cast.therapist,
        patient=patient,
        draft=services.Draft(**fields),
        meta=META,  # type: ignore[arg-type]
    )


def submitted(world: World, patient: Patient | None = None, **changes: object) -> Referral:
    return services.submit(actor=world.cast.therapist, referral=draft(world, patient, **changes), meta=META)


def triaged(world: World, patient: Patient | None = None, **changes: object) -> Referral:
    return services.triage(actor=world.coordinator, referral=submitted(world, patient, **changes), meta=META)


def book_best(world: World, referral: Referral) -> Referral:
    """Book the first offer, as the coordinator would."""
    best = services.current_ranking(referral).offers[0]
    services.book(
        actor=world.coordinator,
        referral=referral,
        prescriber_id=best.candidate.clinician_id,
        starts_at=best.starts_at,
        meta=META,
    )
    referral.refresh_from_db()
    return referral


def scheduled(world: World, patient: Patient | None = None, **changes: object) -> Referral:
    return book_best(world, triaged(world, patient, **changes))
