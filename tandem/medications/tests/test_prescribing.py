"""Prescribing behind the rules: the eligibility engine's answer for this
prescriber, state, moment and drug; the PDMP check a controlled drug relies
on; refill caps by schedule; the buprenorphine rule's six-month clock; and
the prescription as recorded, with the stub e-prescribing backend that sends
nothing."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import SYSTEM
from tandem.credentials import rules
from tandem.credentials.eligibility import Decision
from tandem.credentials.models import (
    ClinicianProfile,
    CollaborationAgreement,
    DeaRegistration,
    Discipline,
    StateControlledSubstanceRegistration,
    StateLicense,
)
from tandem.medications import erx, prescribing, selectors, services
from tandem.medications.models import (
    ChangeKind,
    Medication,
    PdmpCheck,
    PdmpOutcome,
    Prescription,
    Transmission,
)
from tandem.medications.prescribing import PrescribingRefused, add_months
from tandem.medications.services import MedicationError
from tandem.scheduling.models import Appointment, AppointmentType, Modality, Participant, Status
from tandem.test import Cast, build_cast

D = datetime.date
UTC = datetime.UTC
# Noon on a Wednesday in Washington and Oregon, while the DEA telemedicine
# flexibilities (to 2026-12-31) and the buprenorphine rule are both in effect.
NOW = datetime.datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
AFTER_FLEXIBILITIES = datetime.datetime(2027, 1, 6, 20, 0, tzinfo=UTC)
ALL_SCHEDULES = ("II", "III", "IV", "V")
META = SYSTEM

# What a prescription of each drug looks like on the form.
FORMS = {
    "sertraline": ("tablet", "50 mg"),
    "clonazepam": ("tablet", "0.5 mg"),
    "methylphenidate": ("tablet", "10 mg"),
    "buprenorphine": ("sublingual film", "8 mg"),
    "methadone": ("tablet", "10 mg"),
}


@pytest.fixture
def care(db: None) -> Iterator[Cast]:
    """The cast at a fixed moment, with the shared patient in Washington."""
    with time_machine.travel(NOW, tick=False):
        c = build_cast()
        c.patient.state = "WA"
        c.patient.save(update_fields=["state"])
        yield c


def credential(
    user: User,
    *,
    licences: tuple[str, ...] = ("WA",),
    dea: tuple[str, ...] = (),
    schedules: tuple[str, ...] = ALL_SCHEDULES,
    discipline: str = Discipline.PSYCHIATRIST,
    licence_type: str = "MD",
    csr: tuple[str, ...] = (),
    collaboration: tuple[str, ...] = (),
) -> None:
    """What the eligibility engine reads for a clinician (``load_credentials``):
    the profile's discipline, licences, DEA and state registrations, agreements."""
    if discipline:
        ClinicianProfile.objects.update_or_create(user=user, defaults={"discipline": discipline})
    dates = {"issued_on": D(2015, 1, 1), "expires_on": D(2029, 12, 31)}
    for state in licences:
        StateLicense.objects.create(
            clinician=user, state=state, license_type=licence_type, number=f"{licence_type}-{state}-0001", **dates
        )
    for state in dea:
        DeaRegistration.objects.create(
            clinician=user, state=state, number="FR1234563", schedules=list(schedules), **dates
        )
    for state in csr:
        StateControlledSubstanceRegistration.objects.create(clinician=user, state=state, number=f"CSR-{state}", **dates)
    for state in collaboration:
        CollaborationAgreement.objects.create(clinician=user, state=state, physician_name="Dr. Ada Byrne", **dates)


def medication_of(c: Cast, drug: str) -> Medication:
    form, strength = FORMS[drug]
    medication, _ = services.start(
        actor=c.prescriber,
        patient=c.patient,
        organization=c.northstar,
        drug=drug,
        form=form,
        dose=Decimal(strength.split()[0]),
        sig="As directed",
        indication="",
        started_on=c.patient.practice.local_date(),
        reason="Started at the evaluation",
        part2=False,
        form_token=uuid.uuid4(),
        meta=META,
    )
    return medication


def pdmp(
    c: Cast,
    *,
    state: str = "WA",
    ago: datetime.timedelta = datetime.timedelta(hours=1),
    outcome: str = PdmpOutcome.NO_CONCERNS,
    by: User | None = None,
) -> PdmpCheck:
    actor = by or c.prescriber
    row, _ = services.record_pdmp_check(
        actor=actor,
        patient=c.patient,
        organization=c.northstar if actor == c.prescriber else c.riverbend,
        state=state,
        checked_at=timezone.now() - ago,
        outcome=outcome,
        findings="Reviewed with the patient" if outcome == PdmpOutcome.CONCERNS else "",
        reference="",
        form_token=uuid.uuid4(),
        meta=META,
    )
    return row


def check(
    c: Cast, medication: Medication, *, state: str = "WA", days: int = 30, refills: int = 0
) -> tuple[Decision, bool, PdmpCheck | None, D | None]:
    return prescribing.check(
        actor=c.prescriber,
        medication=medication,
        patient_state=state,
        days_supply=days,
        refills=refills,
        at=timezone.now(),
    )


def refusal(c: Cast, medication: Medication, **kwargs: object) -> list[str]:
    with pytest.raises(PrescribingRefused) as refused:
        check(c, medication, **kwargs)  # type: ignore[arg-type]
    return [r.code for r in refused.value.reasons]


def write(
    c: Cast,
    medication: Medication,
    *,
    days: int = 30,
    quantity: int = 30,
    refills: int = 0,
    state: str = "WA",
    token: uuid.UUID | None = None,
    **overrides: object,
) -> tuple[Prescription, bool]:
    form, strength = FORMS[medication.drug]
    fields: dict[str, object] = {
        "strength": strength,
        "form": form,
        "sig": "1 by mouth daily",
        "pharmacy": "Vancouver Pharmacy, 100 Main St",
        "state_source": "confirmed by the prescriber with the patient",
    }
    fields.update(overrides)
    return prescribing.prescribe(
        actor=c.prescriber,
        medication=medication,
        quantity=quantity,
        days_supply=days,
        refills=refills,
        patient_state=state,
        form_token=token or uuid.uuid4(),
        meta=META,
        **fields,  # type: ignore[arg-type]
    )


def in_person_visit(
    c: Cast, *, at: datetime.datetime, status: str = Status.COMPLETED, modality: str = Modality.IN_PERSON
) -> Appointment:
    kind = AppointmentType.objects.get_or_create(
        organization=c.northstar, name="Psychiatric evaluation", defaults={"kind": "psych_eval", "minutes": 60}
    )[0]
    visit = Appointment.objects.create(
        organization=c.northstar,
        appointment_type=kind,
        patient=c.patient,
        starts_at=at,
        ends_at=at + datetime.timedelta(hours=1),
        modality=modality,
        status=status,
        created_by=c.prescriber,
    )
    Participant.objects.create(appointment=visit, user=c.prescriber, starts_at=visit.starts_at, ends_at=visit.ends_at)
    return visit


# --- The eligibility table ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    drug: str
    codes: tuple[str, ...]
    allowed: bool
    creds: dict[str, object] = field(default_factory=dict)
    state: str = "WA"
    pdmp_state: str | None = None
    when: datetime.datetime = NOW


WA_DEA = {"dea": ("WA",)}
CASES = [
    Case("an SSRI with a licence in the patient's state", "sertraline", ("licensed_in_state", "not_controlled"), True),
    Case(
        "an SSRI with a licence only in another state",
        "sertraline",
        ("no_licence",),
        False,
        creds={"licences": ("OR",)},
    ),
    Case(
        "a licence in the state without prescriptive authority",
        "sertraline",
        ("discipline_cannot_prescribe",),
        False,
        creds={"discipline": Discipline.PSYCHOLOGIST, "licence_type": "PSY"},
    ),
    Case(
        "no clinician profile: not known to prescribe",
        "sertraline",
        ("discipline_cannot_prescribe",),
        False,
        creds={"discipline": ""},
    ),
    Case(
        "a nurse practitioner where NPs have full practice authority",
        "sertraline",
        ("licensed_in_state", "np_full_practice", "not_controlled"),
        True,
        creds={"discipline": Discipline.PMHNP, "licence_type": "NP"},
    ),
    Case(
        "a nurse practitioner in a restricted state without a collaboration agreement",
        "sertraline",
        ("np_collaboration_required",),
        False,
        creds={"discipline": Discipline.PMHNP, "licence_type": "NP", "licences": ("TX",)},
        state="TX",
    ),
    Case(
        "a nurse practitioner in a restricted state with a collaboration agreement",
        "sertraline",
        ("licensed_in_state", "np_collaboration", "not_controlled"),
        True,
        creds={"discipline": Discipline.PMHNP, "licence_type": "NP", "licences": ("TX",), "collaboration": ("TX",)},
        state="TX",
    ),
    Case("clonazepam (C-IV) with no DEA registration in WA", "clonazepam", ("dea_not_registered_in_state",), False),
    Case(
        "clonazepam with a DEA registration only in Oregon",
        "clonazepam",
        ("dea_not_registered_in_state",),
        False,
        creds={"licences": ("WA", "OR"), "dea": ("OR",)},
        pdmp_state="WA",
    ),
    Case(
        "clonazepam with a WA DEA registration that does not cover Schedule IV",
        "clonazepam",
        ("dea_schedule_not_covered",),
        False,
        creds={"dea": ("WA",), "schedules": ("II",)},
        pdmp_state="WA",
    ),
    Case(
        "clonazepam with a WA licence, WA DEA registration and a WA PDMP check",
        "clonazepam",
        ("licensed_in_state", "dea_registered", "telemedicine_flexibilities"),
        True,
        creds=WA_DEA,
        pdmp_state="WA",
    ),
    Case(
        "clonazepam in a state that wants its own registration too",
        "clonazepam",
        ("state_csr_missing",),
        False,
        creds={"licences": ("TX",), "dea": ("TX",)},
        state="TX",
        pdmp_state="TX",
    ),
    Case(
        "clonazepam with the state's own registration",
        "clonazepam",
        ("licensed_in_state", "dea_registered", "state_csr", "telemedicine_flexibilities"),
        True,
        creds={"licences": ("TX",), "dea": ("TX",), "csr": ("TX",)},
        state="TX",
        pdmp_state="TX",
    ),
    Case(
        "clonazepam by telemedicine once the flexibilities have ended",
        "clonazepam",
        ("telemedicine_rule_expired",),
        False,
        creds=WA_DEA,
        pdmp_state="WA",
        when=AFTER_FLEXIBILITIES,
    ),
    Case(
        "buprenorphine by telemedicine under its own rule, after the flexibilities",
        "buprenorphine",
        ("licensed_in_state", "dea_registered", "buprenorphine_rule"),
        True,
        creds=WA_DEA,
        pdmp_state="WA",
        when=AFTER_FLEXIBILITIES,
    ),
    # Methadone is Schedule II: the buprenorphine rule does not cover it, and for OUD it is
    # dispensed only by an opioid treatment program, so no prescription is written.
    Case(
        "methadone during the flexibilities",
        "methadone",
        ("otp_only",),
        False,
        creds=WA_DEA,
        pdmp_state="WA",
    ),
    Case(
        "methadone after the flexibilities, not taken for buprenorphine",
        "methadone",
        ("otp_only",),
        False,
        creds=WA_DEA,
        pdmp_state="WA",
        when=AFTER_FLEXIBILITIES,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_eligibility(care: Cast, case: Case) -> None:
    with time_machine.travel(case.when, tick=False):
        credential(care.prescriber, **case.creds)  # type: ignore[arg-type]
        medication = medication_of(care, case.drug)
        if case.pdmp_state:
            pdmp(care, state=case.pdmp_state)
        if case.allowed:
            decision, in_person, _pdmp, _clock = check(care, medication, state=case.state, days=14)
            assert decision.allowed and not in_person
            assert [r.code for r in decision.reasons] == list(case.codes)
        else:
            assert refusal(care, medication, state=case.state, days=14) == list(case.codes)


@pytest.mark.django_db
def test_the_refusals_that_name_no_credential_still_read_as_sentences(care: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        credential(care.prescriber, discipline="", dea=("WA",))
        with pytest.raises(PrescribingRefused) as refused:
            check(care, medication_of(care, "sertraline"))
        assert [r.text for r in refused.value.reasons] == [
            "No clinician profile with a prescribing discipline is on file for this person."
        ]
        credential(care.prescriber, licences=())
        pdmp(care, state="WA")
        with pytest.raises(PrescribingRefused) as refused:
            check(care, medication_of(care, "methadone"))
        assert [r.text for r in refused.value.reasons] == [
            "Methadone for opioid use disorder is dispensed only by an opioid treatment program; "
            "it cannot be prescribed to a pharmacy for it."
        ]


@pytest.mark.django_db
def test_clonazepam_for_a_washington_patient_is_refused_for_want_of_a_dea_registration(care: Cast) -> None:
    credential(care.prescriber, licences=("WA", "OR"), dea=("OR",))
    medication = medication_of(care, "clonazepam")
    pdmp(care)
    with pytest.raises(PrescribingRefused) as refused:
        write(care, medication, days=10, quantity=20)
    (reason,) = refused.value.reasons
    assert reason.code == "dea_not_registered_in_state"
    assert reason.text == "Clonazepam is Schedule IV; there is no DEA registration in WA."
    assert str(refused.value) == reason.text
    assert refused.value.rules_version == rules.current().full_version
    # Nothing is written, and the refusal is audited with its reason and nothing clinical.
    assert not Prescription.objects.exists()
    event = AuditEvent.objects.get(target_type="prescription_refused")
    assert event.action == Action.CREATE and event.actor_id == care.prescriber.pk
    assert event.patient_id == care.patient.public_id and event.target_id == str(medication.public_id)
    assert event.detail == {"state": "WA", "reasons": ["dea_not_registered_in_state"]}

    # The same patient in Oregon, where the registration is: allowed once Oregon's PDMP is checked.
    with pytest.raises(PrescribingRefused, match="record a check of the OR PDMP"):
        write(care, medication, state="OR")
    pdmp(care, state="OR")
    row, created = write(care, medication, state="OR")
    assert created and row.patient_state == "OR"


# --- PDMP --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("checks", "code"),
    [
        ([], "pdmp_check_required"),
        ([{"ago": datetime.timedelta(days=7, seconds=1)}], "pdmp_check_required"),
        ([{"ago": datetime.timedelta(days=7)}], None),
        ([{"ago": datetime.timedelta(days=1)}], None),
        ([{"state": "OR"}], "pdmp_check_required"),
        ([{"by": "therapist"}], "pdmp_check_required"),
        ([{"outcome": PdmpOutcome.CONCERNS}], None),
        ([{"outcome": PdmpOutcome.UNAVAILABLE}], "pdmp_check_incomplete"),
        # The newest check is the one relied on.
        (
            [{"ago": datetime.timedelta(days=3)}, {"ago": datetime.timedelta(hours=1), "outcome": "unavailable"}],
            "pdmp_check_incomplete",
        ),
        (
            [{"ago": datetime.timedelta(days=3), "outcome": "unavailable"}, {"ago": datetime.timedelta(hours=1)}],
            None,
        ),
    ],
)
def test_a_controlled_prescription_relies_on_a_recent_pdmp_check_of_the_patients_state(
    care: Cast, checks: list[dict[str, object]], code: str | None
) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "clonazepam")
    made = []
    for spec in checks:
        by = care.therapist if spec.get("by") == "therapist" else None
        made.append(pdmp(care, by=by, **{k: v for k, v in spec.items() if k != "by"}))  # type: ignore[arg-type]
    if code is None:
        _decision, _in_person, used, clock = check(care, medication)
        assert used == max(made, key=lambda p: p.checked_at) and clock is None
    else:
        assert refusal(care, medication) == [code]


@pytest.mark.django_db
def test_the_pdmp_refusals_say_what_to_do(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "clonazepam")
    with pytest.raises(PrescribingRefused) as required:
        check(care, medication)
    assert str(required.value) == (
        "Clonazepam is Schedule IV: record a check of the WA PDMP from the past 7 days first."
    )
    pdmp(care, outcome=PdmpOutcome.UNAVAILABLE)
    with pytest.raises(
        PrescribingRefused, match="the PDMP was unavailable; a controlled prescription needs a completed"
    ):
        check(care, medication, days=3)


@pytest.mark.django_db
def test_usable_pdmp_check_is_the_newest_in_the_window_up_to_the_moment(care: Cast) -> None:
    medication = medication_of(care, "clonazepam")
    old = pdmp(care, ago=datetime.timedelta(days=5))
    new = pdmp(care, ago=datetime.timedelta(hours=2))
    pdmp(care, state="OR", ago=datetime.timedelta(minutes=5))
    now = timezone.now()
    assert prescribing.usable_pdmp_check(medication, care.prescriber, "WA", now) == new
    assert prescribing.usable_pdmp_check(medication, care.prescriber, "WA", now - datetime.timedelta(hours=3)) == old
    assert prescribing.usable_pdmp_check(medication, care.prescriber, "WA", now + datetime.timedelta(days=8)) is None
    assert prescribing.usable_pdmp_check(medication, care.prescriber, "ID", now) is None
    assert prescribing.limits().pdmp_valid_days == 7


@pytest.mark.django_db
def test_sertraline_needs_no_pdmp_check(care: Cast) -> None:
    credential(care.prescriber)
    _decision, _in_person, used, clock = check(care, medication_of(care, "sertraline"))
    assert used is None and clock is None


# --- Refills -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("drug", "refills", "message"),
    [
        ("sertraline", 11, None),
        ("sertraline", 12, "A prescription may carry at most 11 refills."),
        ("methylphenidate", 0, None),
        ("methylphenidate", 1, "A Schedule II prescription may carry at most 0 refills."),
        ("buprenorphine", 5, None),
        ("buprenorphine", 6, "A Schedule III prescription may carry at most 5 refills."),
        ("clonazepam", 5, None),
        ("clonazepam", 6, "A Schedule IV prescription may carry at most 5 refills."),
    ],
)
def test_refills_are_capped_by_schedule(care: Cast, drug: str, refills: int, message: str | None) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, drug)
    pdmp(care)
    if message is None:
        decision, *_ = check(care, medication, refills=refills, days=7)
        assert decision.allowed
    else:
        with pytest.raises(PrescribingRefused) as refused:
            check(care, medication, refills=refills, days=7)
        assert [(r.code, r.text) for r in refused.value.reasons] == [("refills_over_limit", message)]


@pytest.mark.django_db
def test_a_stimulant_with_a_refill_is_refused_and_nothing_is_written(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "methylphenidate")
    pdmp(care)
    with pytest.raises(PrescribingRefused, match="Schedule II prescription may carry at most 0 refills"):
        write(care, medication, refills=1)
    assert not Prescription.objects.exists()
    event = AuditEvent.objects.get(target_type="prescription_refused")
    assert event.detail == {"state": "WA", "reasons": ["refills_over_limit"]}
    row, created = write(care, medication, refills=0)
    assert created and row.refills == 0 and row.eligibility["allowed"] is True


# --- Buprenorphine ------------------------------------------------------------------------


# 10 pm on 1 December in Washington: already 2 December in UTC.
FIRST_BUP = datetime.datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_six_month_clock_runs_from_the_first_prescription(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    with time_machine.travel(FIRST_BUP, tick=False):
        medication = medication_of(care, "buprenorphine")
        pdmp(care)
        assert prescribing.buprenorphine_clock(medication, before=FIRST_BUP) is None
        first, _ = write(care, medication, days=30)
    # Counted from the first prescription's day where the practice is, not in UTC.
    assert first.buprenorphine_clock_ends_on == D(2027, 6, 1)
    assert not first.in_person_evaluated
    assert "buprenorphine_rule" in [r["code"] for r in first.eligibility["reasons"]]
    assert prescribing.buprenorphine_clock(medication, before=FIRST_BUP) is None  # strictly before
    assert prescribing.buprenorphine_clock(medication, before=FIRST_BUP + datetime.timedelta(seconds=1)) == D(
        2027, 6, 1
    )

    # Later prescriptions keep the first one's clock; a supply that runs past it is refused.
    with time_machine.travel(datetime.datetime(2027, 5, 20, 19, 0, tzinfo=UTC), tick=False):
        pdmp(care)
        with pytest.raises(PrescribingRefused) as past:
            write(care, medication, days=13)
        assert [r.code for r in past.value.reasons] == ["buprenorphine_supply_past_clock"]
        assert "run past 2027-06-01" in str(past.value)
        later, _ = write(care, medication, days=12)  # to 1 June, the clock's last day
        assert later.buprenorphine_clock_ends_on == D(2027, 6, 1)
    assert Prescription.objects.count() == 2

    # From the clock's end, no more without an in-person evaluation.
    with time_machine.travel(datetime.datetime(2027, 6, 1, 19, 0, tzinfo=UTC), tick=False):
        pdmp(care)
        with pytest.raises(PrescribingRefused) as ended:
            write(care, medication, days=1, quantity=1)
        assert [r.code for r in ended.value.reasons] == ["buprenorphine_six_months"]
        assert "ended on 2027-06-01" in str(ended.value) and "in-person evaluation" in str(ended.value)
    assert Prescription.objects.count() == 2


@pytest.mark.django_db
def test_a_first_prescription_may_not_run_past_six_months(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "buprenorphine")
    pdmp(care)
    # 25 November 2026 + 6 months = 25 May 2027: 181 days.
    assert refusal(care, medication, days=182) == ["buprenorphine_supply_past_clock"]
    _decision, _in_person, _pdmp, clock = check(care, medication, days=181)
    assert clock == D(2027, 5, 25)


@pytest.mark.django_db
@pytest.mark.parametrize(("days", "code"), [(7, None), (1, None), (8, "pdmp_unavailable_short_supply")])
def test_with_the_pdmp_unavailable_buprenorphine_allows_only_a_short_supply(
    care: Cast, days: int, code: str | None
) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "buprenorphine")
    unavailable = pdmp(care, outcome=PdmpOutcome.UNAVAILABLE)
    if code is None:
        row, _ = write(care, medication, days=days, quantity=days)
        assert row.pdmp_check == unavailable and row.days_supply == days
    else:
        with pytest.raises(PrescribingRefused) as refused:
            write(care, medication, days=days)
        assert [r.code for r in refused.value.reasons] == [code]
        assert "allows a 7-day supply at most" in str(refused.value)
        assert not Prescription.objects.exists()


@pytest.mark.django_db
def test_after_an_in_person_evaluation_the_buprenorphine_rule_and_its_clock_do_not_apply(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "buprenorphine")
    in_person_visit(care, at=NOW - datetime.timedelta(days=3))
    # Without the rule there is no short-supply allowance: an unavailable PDMP is an incomplete check.
    pdmp(care, outcome=PdmpOutcome.UNAVAILABLE)
    assert refusal(care, medication, days=7) == ["pdmp_check_incomplete"]
    pdmp(care, ago=datetime.timedelta(minutes=1))
    row, _ = write(care, medication, days=90, quantity=90)
    assert row.in_person_evaluated and row.buprenorphine_clock_ends_on is None
    assert "in_person_evaluation" in [r["code"] for r in row.eligibility["reasons"]]
    # An in-person prescription does not start the telemedicine clock.
    assert prescribing.buprenorphine_clock(medication, before=NOW + datetime.timedelta(days=1)) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "modality", "days_before", "evaluated"),
    [
        (Status.COMPLETED, Modality.IN_PERSON, 30, True),
        (Status.CHECKED_IN, Modality.IN_PERSON, 0, True),
        (Status.BOOKED, Modality.IN_PERSON, 1, False),
        (Status.CANCELLED, Modality.IN_PERSON, 1, False),
        (Status.NO_SHOW, Modality.IN_PERSON, 1, False),
        (Status.COMPLETED, Modality.VIDEO_HOME, 1, False),
        (Status.COMPLETED, Modality.VIDEO_OFFICE, 1, False),
        (Status.COMPLETED, Modality.IN_PERSON, -1, False),  # tomorrow's visit has not happened
    ],
)
def test_what_counts_as_an_in_person_evaluation(
    care: Cast, status: str, modality: str, days_before: int, evaluated: bool
) -> None:
    medication = medication_of(care, "clonazepam")
    in_person_visit(care, at=NOW - datetime.timedelta(days=days_before), status=status, modality=modality)
    assert prescribing.in_person_evaluated(care.prescriber, medication, NOW) is evaluated
    assert prescribing.in_person_evaluated(care.unrelated, medication, NOW) is False


@pytest.mark.django_db
def test_an_in_person_evaluation_lets_clonazepam_through_after_the_flexibilities(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    with time_machine.travel(AFTER_FLEXIBILITIES, tick=False):
        medication = medication_of(care, "clonazepam")
        pdmp(care)
        assert refusal(care, medication) == ["telemedicine_rule_expired"]
        in_person_visit(care, at=AFTER_FLEXIBILITIES - datetime.timedelta(days=2))
        row, _ = write(care, medication, days=30)
    assert row.in_person_evaluated
    assert [r["code"] for r in row.eligibility["reasons"]] == [
        "licensed_in_state",
        "dea_registered",
        "in_person_evaluation",
    ]


# --- Recording the prescription -------------------------------------------------------------


@pytest.mark.django_db
def test_a_prescription_is_stored_with_its_decision_and_the_stub_says_it_was_not_sent(care: Cast) -> None:
    credential(care.prescriber)
    medication = medication_of(care, "sertraline")
    expected = prescribing.check(
        actor=care.prescriber, medication=medication, patient_state="WA", days_supply=30, refills=2, at=NOW
    )[0]
    row, created = write(care, medication, quantity=30, days=30, refills=2)

    assert created
    row.refresh_from_db()
    assert (row.drug, row.strength, row.form, row.sig) == ("sertraline", "50 mg", "tablet", "1 by mouth daily")
    assert (row.quantity, row.days_supply, row.refills) == (30, 30, 2)
    assert (row.prescriber, row.organization, row.medication) == (care.prescriber, care.northstar, medication)
    assert (row.patient_state, row.state_source) == ("WA", "confirmed by the prescriber with the patient")
    assert row.pharmacy == "Vancouver Pharmacy, 100 Main St" and row.written_at == NOW
    assert row.eligibility == expected.as_dict()
    assert row.eligibility["allowed"] is True
    assert row.eligibility["rules_version"] == rules.current().full_version
    assert [r["code"] for r in row.eligibility["reasons"]] == ["licensed_in_state", "not_controlled"]
    assert row.pdmp_check is None and row.buprenorphine_clock_ends_on is None and not row.in_person_evaluated
    # The stub backend sends nothing, and the row says so.
    assert row.transmission == Transmission.NOT_SENT
    assert row.transmission_note == erx.StubBackend.NOTE
    assert row.transmission_note.startswith("Not sent")

    event = AuditEvent.objects.get(target_type="prescription")
    assert event.action == Action.CREATE and event.target_id == str(row.public_id)
    assert event.detail == {"state": "WA", "schedule": "", "transmission": "not_sent"}
    assert not AuditEvent.objects.filter(target_type="prescription_refused").exists()

    # It shows on the timeline with what was written.
    sharing = policy.sharing_for(care.prescriber, care.patient)
    medications = policy.visible_medications(sharing)
    events = selectors.timeline(
        policy.visible_medication_changes(medications), policy.visible_prescriptions(medications), [], []
    )
    (shown,) = [e for e in events if e.kind == "prescription"]
    assert shown.title == "Prescription: Sertraline 50 mg tablet"
    assert shown.detail == "1 by mouth daily; #30, 30 days, 2 refills"
    assert shown.anchor == f"rx-{row.public_id}"


@pytest.mark.django_db
def test_a_controlled_prescription_keeps_the_pdmp_check_it_relied_on(care: Cast) -> None:
    credential(care.prescriber, dea=("WA",))
    medication = medication_of(care, "clonazepam")
    used = pdmp(care, ago=datetime.timedelta(days=2))
    row, _ = write(care, medication, days=10, quantity=20)
    assert row.pdmp_check == used
    assert [r["code"] for r in row.eligibility["reasons"]] == [
        "licensed_in_state",
        "dea_registered",
        "telemedicine_flexibilities",
    ]
    assert AuditEvent.objects.get(target_type="prescription").detail["schedule"] == "IV"


@pytest.mark.django_db
def test_the_same_prescription_form_twice_records_one(care: Cast) -> None:
    credential(care.prescriber)
    medication = medication_of(care, "sertraline")
    token = uuid.uuid4()
    first, created = write(care, medication, token=token)
    audit_before = AuditEvent.objects.count()
    again, created_again = write(care, medication, token=token)
    assert created and not created_again and again.pk == first.pk
    assert Prescription.objects.count() == 1 and AuditEvent.objects.count() == audit_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"strength": "75 mg"}, "Sertraline comes in 25 mg, 50 mg, 100 mg, 20 mg/mL."),
        ({"form": "capsule"}, "Sertraline comes as tablet, oral concentrate."),
        ({"quantity": 0}, "Quantity runs 1 to 1000"),
        ({"quantity": 1001}, "Quantity runs 1 to 1000"),
        ({"days": 0}, "days' supply 1 to 365"),
        ({"days": 366}, "days' supply 1 to 365"),
        ({"refills": -1}, "refills 0 or more"),
        ({"pharmacy": "  "}, "Give the directions and the pharmacy."),
        ({"sig": ""}, "Give the directions and the pharmacy."),
    ],
)
def test_a_prescription_that_fails_a_form_check_writes_nothing(
    care: Cast, overrides: dict[str, object], message: str
) -> None:
    credential(care.prescriber)
    medication = medication_of(care, "sertraline")
    audit_before = AuditEvent.objects.count()
    with pytest.raises(MedicationError, match=re.escape(message)) as raised:
        write(care, medication, **overrides)  # type: ignore[arg-type]
    assert not isinstance(raised.value, PrescribingRefused)
    assert not Prescription.objects.exists() and AuditEvent.objects.count() == audit_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (ChangeKind.STOP, "This medication is stopped; start it again before prescribing it."),
        (ChangeKind.HOLD, "This medication is on hold; resume it before prescribing it."),
    ],
)
def test_a_stopped_or_held_medication_is_not_prescribed(care: Cast, kind: str, message: str) -> None:
    credential(care.prescriber)
    medication = medication_of(care, "sertraline")
    services.change(
        actor=care.prescriber,
        medication=medication,
        kind=kind,
        dose=None,
        sig="",
        reason="Side effects",
        effective_on=care.patient.practice.local_date(),
        form_token=uuid.uuid4(),
        meta=META,
    )
    with pytest.raises(MedicationError) as refused:
        write(care, medication)
    assert str(refused.value) == message
    assert not Prescription.objects.exists()


# --- The e-prescribing adapter -------------------------------------------------------------


@pytest.mark.django_db
def test_the_configured_backend_is_the_stub_and_it_sends_nothing(care: Cast) -> None:
    backend = erx.backend()
    assert isinstance(backend, erx.StubBackend) and backend.name == "stub"
    credential(care.prescriber)
    row, _ = write(care, medication_of(care, "sertraline"))
    outcome = backend.transmit(row)
    assert outcome == erx.Outcome(sent=False, note=erx.StubBackend.NOTE, failed=False)
    assert "transmits nothing" in outcome.note


class FailingBackend:
    """A vendor backend that reports a failure with an over-long note."""

    name = "failing"

    def transmit(self, prescription: Prescription) -> erx.Outcome:
        return erx.Outcome(sent=False, failed=True, note="Vendor refused: " + "x" * 400)


@pytest.mark.django_db
def test_a_backend_failure_is_recorded_as_failed(care: Cast, settings: object) -> None:
    settings.ERX_BACKEND = f"{__name__}.FailingBackend"  # type: ignore[attr-defined]
    credential(care.prescriber)
    row, _ = write(care, medication_of(care, "sertraline"))
    row.refresh_from_db()
    assert row.transmission == Transmission.FAILED
    assert row.transmission_note.startswith("Vendor refused: ") and len(row.transmission_note) == 300
    assert AuditEvent.objects.get(target_type="prescription").detail["transmission"] == "failed"


# --- Dates and limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 8, 31), 6, D(2027, 2, 28)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2026, 12, 15), 1, D(2027, 1, 15)),
        (D(2026, 7, 31), 5, D(2026, 12, 31)),
        (D(2026, 1, 1), 24, D(2028, 1, 1)),
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2026, 2, 28), 12, D(2027, 2, 28)),
        (D(2026, 7, 10), 0, D(2026, 7, 10)),
        (D(2026, 5, 31), -3, D(2026, 2, 28)),
        (D(2026, 1, 15), -1, D(2025, 12, 15)),
    ],
)
def test_add_months(day: D, months: int, expected: D) -> None:
    assert add_months(day, months) == expected


def test_the_prescribing_limits_come_from_the_reviewed_file() -> None:
    limits = prescribing.limits()
    assert limits.version == "2026-11-28.1"
    assert limits.pdmp_valid_days == 7
    assert limits.refills == {"": 11, "II": 0, "III": 5, "IV": 5, "V": 11}
    assert (limits.buprenorphine_months, limits.buprenorphine_days_without_pdmp) == (6, 7)
