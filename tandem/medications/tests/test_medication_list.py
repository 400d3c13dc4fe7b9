"""The medication list's services: a course of a drug from its start through
dose changes, holds, tapers and its stop, each change a dated row with a
reason; what the rest of the care team is told, and when consent keeps it
from them; the therapist's observations, lab results and PDMP checks; and
forms that arrive twice."""

from __future__ import annotations

import asyncio
import datetime
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from tandem.access import policy
from tandem.accounts.models import User
from tandem.accounts.sessions import user_group
from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import SYSTEM
from tandem.medications import selectors, services
from tandem.medications.models import (
    ChangeKind,
    LabResult,
    Medication,
    MedicationChange,
    MedicationStatus,
    Observation,
    PdmpCheck,
    PdmpOutcome,
)
from tandem.medications.services import MedicationError
from tandem.messaging.models import Notification
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.test import Cast, build_cast, grant_authorization

# Noon on a Wednesday in Riverbend's time zone (America/Los_Angeles).
NOW = datetime.datetime(2026, 11, 25, 20, 0, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 11, 25)
SIGNED = NOW - datetime.timedelta(days=60)
META = SYSTEM


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture
def care(db: None) -> Iterator[Cast]:
    """The cast, at a fixed moment."""
    with time_machine.travel(NOW, tick=False):
        yield build_cast()


@pytest.fixture
def shared(care: Cast) -> Cast:
    """The cast, with the patient's authorization to share between Riverbend and Northstar."""
    grant_authorization(care.patient, care.riverbend, care.northstar, signed_at=SIGNED)
    return care


def start(
    c: Cast,
    *,
    drug: str = "sertraline",
    form: str = "tablet",
    dose: Decimal | None = Decimal("50"),
    started_on: datetime.date | None = None,
    reason: str = "Depression, moderate",
    part2: bool = False,
    patient: Patient | None = None,
    actor: User | None = None,
    token: uuid.UUID | None = None,
) -> tuple[Medication, bool]:
    return services.start(
        actor=actor or c.prescriber,
        patient=patient or c.patient,
        organization=c.northstar,
        drug=drug,
        form=form,
        dose=dose,
        sig="1 tablet by mouth once daily",
        indication="Depression",
        started_on=started_on or day(-30),
        reason=reason,
        part2=part2,
        form_token=token or uuid.uuid4(),
        meta=META,
    )


def change(
    c: Cast,
    medication: Medication,
    kind: str,
    *,
    dose: Decimal | None = None,
    on: datetime.date | None = None,
    reason: str = "Reviewed at the visit",
    sig: str = "",
    token: uuid.UUID | None = None,
) -> tuple[MedicationChange, bool]:
    return services.change(
        actor=c.prescriber,
        medication=medication,
        kind=kind,
        dose=dose,
        sig=sig,
        reason=reason,
        effective_on=on or TODAY,
        form_token=token or uuid.uuid4(),
        meta=META,
    )


def counts() -> dict[str, int]:
    return {
        "medications": Medication.objects.count(),
        "changes": MedicationChange.objects.count(),
        "observations": Observation.objects.count(),
        "labs": LabResult.objects.count(),
        "pdmp": PdmpCheck.objects.count(),
        "audit": AuditEvent.objects.count(),
        "notifications": Notification.objects.count(),
    }


def timeline(viewer: User, patient: Patient) -> list[selectors.Event]:
    """The timeline as the list page builds it for this viewer."""
    sharing = policy.sharing_for(viewer, patient)
    medications = policy.visible_medications(sharing)
    return selectors.timeline(
        policy.visible_medication_changes(medications),
        policy.visible_prescriptions(medications),
        policy.visible_observations(sharing),
        policy.visible_lab_results(sharing),
    )


def notified(user: User, kind: str) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=kind).order_by("id"))


# --- Starting a course ------------------------------------------------------------------


@pytest.mark.django_db
def test_start_records_the_course_its_first_change_and_an_audit_event(care: Cast) -> None:
    medication, created = start(care, dose=Decimal("50"), started_on=day(-30))

    assert created
    medication.refresh_from_db()
    assert (medication.drug, medication.display, medication.drug_class) == ("sertraline", "Sertraline", "SSRI")
    assert (medication.schedule, medication.rxcui, medication.form) == ("", "36437", "tablet")
    assert medication.status == MedicationStatus.ACTIVE and medication.stopped_on is None
    assert medication.dose == Decimal("50") and medication.dose_text == "50 mg"
    assert (medication.patient, medication.organization, medication.prescriber) == (
        care.patient,
        care.northstar,
        care.prescriber,
    )
    (first,) = medication.changes.all()
    assert first.kind == ChangeKind.START and first.effective_on == day(-30)
    assert (first.dose_before, first.dose_after) == (None, Decimal("50"))
    assert first.reason == "Depression, moderate" and first.made_by == care.prescriber
    event = AuditEvent.objects.get(target_type="medication")
    assert (event.action, event.actor_id, event.patient_id) == (
        Action.CREATE,
        care.prescriber.pk,
        care.patient.public_id,
    )
    assert event.target_id == str(medication.public_id) and event.detail == {"drug": "sertraline"}
    assert event.purpose == services.TREATMENT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"drug": "unobtainium"}, "Choose a drug from Tandem's catalog."),
        ({"form": "patch"}, "Sertraline comes as tablet, oral concentrate."),
        ({"reason": ""}, "Say why it is started."),
        ({"reason": "   "}, "Say why it is started."),
        ({"dose": None}, "Give the dose as a number above zero."),
        ({"dose": Decimal("0")}, "Give the dose as a number above zero."),
        ({"dose": Decimal("-25")}, "Give the dose as a number above zero."),
        ({"dose": Decimal("NaN")}, "Give the dose as a number above zero."),
        ({"dose": Decimal("Infinity")}, "Give the dose as a number above zero."),
        ({"dose": Decimal("100000")}, "far too large"),
        ({"dose": Decimal("2500000")}, "far too large"),
        ({"started_on": day(2)}, "The start date cannot be more than a day in the future."),
        ({"started_on": TODAY - datetime.timedelta(days=365 * 20 + 1)}, "The start date is too far in the past."),
    ],
)
def test_a_start_that_fails_a_check_is_refused_and_writes_nothing(
    care: Cast, overrides: dict[str, object], message: str
) -> None:
    before = counts()
    with pytest.raises(MedicationError, match=re.escape(message)):
        start(care, **overrides)  # type: ignore[arg-type]
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("started_on", [day(1), day(0), TODAY - datetime.timedelta(days=365 * 20)])
def test_start_dates_at_the_edges_of_the_window_are_accepted(care: Cast, started_on: datetime.date) -> None:
    medication, created = start(care, started_on=started_on)
    assert created and medication.started_on == started_on


@pytest.mark.django_db
def test_the_drug_name_is_matched_case_and_space_insensitively(care: Cast) -> None:
    medication, _ = start(care, drug="  Sertraline ")
    assert medication.drug == "sertraline"


@pytest.mark.django_db
def test_a_second_open_course_of_the_same_drug_is_refused_until_the_first_is_stopped(care: Cast) -> None:
    first, _ = start(care)
    before = counts()
    with pytest.raises(MedicationError, match=r"Sertraline is already on the list; change that entry instead\."):
        start(care)
    assert counts() == before

    change(care, first, ChangeKind.STOP, on=day(-1), reason="Remission")
    again, created = start(care, started_on=TODAY, reason="Relapse")
    assert created and again.pk != first.pk
    assert Medication.objects.filter(patient=care.patient, drug="sertraline").count() == 2


@pytest.mark.django_db
def test_the_same_start_form_twice_returns_the_first_row(care: Cast) -> None:
    token = uuid.uuid4()
    first, created = start(care, token=token)
    before = counts()
    again, created_again = start(care, token=token)
    assert created and not created_again
    assert again.pk == first.pk
    assert counts() == before


# --- Changes: the lifecycle ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_course_from_start_to_stop_with_every_change_on_the_timeline_in_order(care: Cast) -> None:
    medication, _ = start(care, dose=Decimal("50"), started_on=day(-60))
    steps = [
        (ChangeKind.DOSE, Decimal("100"), day(-45), "Partial response at 50 mg", MedicationStatus.ACTIVE, "100"),
        (ChangeKind.HOLD, None, day(-30), "Hospitalised for surgery", MedicationStatus.ON_HOLD, "100"),
        (ChangeKind.RESUME, Decimal("50"), day(-20), "Discharged; restart lower", MedicationStatus.ACTIVE, "50"),
        (ChangeKind.TAPER, Decimal("25"), day(-10), "Remission for a year", MedicationStatus.TAPERING, "25"),
        (ChangeKind.STOP, None, day(-1), "Taper complete", MedicationStatus.STOPPED, "25"),
    ]
    for kind, dose, on, reason, status, dose_after in steps:
        row, created = change(care, medication, kind, dose=dose, on=on, reason=reason)
        assert created
        medication.refresh_from_db()
        assert medication.status == status, kind
        assert medication.dose == Decimal(dose_after), kind
        assert (row.kind, row.reason, row.effective_on, row.dose_after) == (kind, reason, on, Decimal(dose_after))
    assert medication.stopped_on == day(-1)

    rows = MedicationChange.objects.filter(medication=medication).order_by("effective_on")
    assert [(r.kind, r.dose_before, r.dose_after) for r in rows] == [
        (ChangeKind.START, None, Decimal("50")),
        (ChangeKind.DOSE, Decimal("50"), Decimal("100")),
        (ChangeKind.HOLD, Decimal("100"), Decimal("100")),
        (ChangeKind.RESUME, Decimal("100"), Decimal("50")),
        (ChangeKind.TAPER, Decimal("50"), Decimal("25")),
        (ChangeKind.STOP, Decimal("25"), Decimal("25")),
    ]
    # One audit event per change, saying which change it was.
    updates = AuditEvent.objects.filter(target_type="medication", action=Action.UPDATE).order_by("seq")
    assert [e.detail["change"] for e in updates] == [step[0] for step in steps]
    assert {e.target_id for e in updates} == {str(medication.public_id)}

    # The timeline, newest first, with each reason.
    events = timeline(care.prescriber, care.patient)
    assert [(e.day, e.title, e.detail) for e in events] == [
        (day(-1), "Sertraline stopped", "Taper complete"),
        (day(-10), "Sertraline taper started: 50 → 25 mg", "Remission for a year"),
        (day(-20), "Sertraline resumed: 100 → 50 mg", "Discharged; restart lower"),
        (day(-30), "Sertraline held", "Hospitalised for surgery"),
        (day(-45), "Sertraline dose changed: 50 → 100 mg", "Partial response at 50 mg"),
        (day(-60), "Sertraline started", "Depression, moderate"),
    ]
    assert {e.kind for e in events} == {"change"} and {e.who for e in events} == {care.prescriber.display_name}


@pytest.mark.django_db
def test_a_new_sig_replaces_the_directions_and_a_blank_one_keeps_them(care: Cast) -> None:
    medication, _ = start(care)
    change(care, medication, ChangeKind.DOSE, dose=Decimal("100"), sig="2 tablets once daily", on=day(-5))
    medication.refresh_from_db()
    assert medication.sig == "2 tablets once daily"
    change(care, medication, ChangeKind.HOLD, on=day(-4))
    medication.refresh_from_db()
    assert medication.sig == "2 tablets once daily"


# Every change from every status: the status it leads to, or None where it does not apply.
A, T, H, S = MedicationStatus.ACTIVE, MedicationStatus.TAPERING, MedicationStatus.ON_HOLD, MedicationStatus.STOPPED
EXPECTED: dict[tuple[str, str], str | None] = {
    (A, ChangeKind.DOSE): A,
    (A, ChangeKind.TAPER): T,
    (A, ChangeKind.HOLD): H,
    (A, ChangeKind.RESUME): None,
    (A, ChangeKind.STOP): S,
    (T, ChangeKind.DOSE): A,
    (T, ChangeKind.TAPER): T,
    (T, ChangeKind.HOLD): H,
    (T, ChangeKind.RESUME): None,
    (T, ChangeKind.STOP): S,
    (H, ChangeKind.DOSE): None,
    (H, ChangeKind.TAPER): None,
    (H, ChangeKind.HOLD): None,
    (H, ChangeKind.RESUME): A,
    (H, ChangeKind.STOP): S,
    (S, ChangeKind.DOSE): None,
    (S, ChangeKind.TAPER): None,
    (S, ChangeKind.HOLD): None,
    (S, ChangeKind.RESUME): None,
    (S, ChangeKind.STOP): None,
}


def test_the_transition_table_is_the_one_these_tests_expect() -> None:
    derived = {
        (status, kind): (services.TRANSITIONS[kind][1] if status in services.TRANSITIONS[kind][0] else None)
        for status in MedicationStatus.values
        for kind in services.TRANSITIONS
    }
    assert derived == EXPECTED


def _in_status(c: Cast, status: str) -> Medication:
    """A sertraline course at 50 mg brought to this status through the service."""
    medication, _ = start(c, dose=Decimal("50"), started_on=day(-30))
    if status == MedicationStatus.TAPERING:
        change(c, medication, ChangeKind.TAPER, dose=Decimal("40"), on=day(-20))
    elif status == MedicationStatus.ON_HOLD:
        change(c, medication, ChangeKind.HOLD, on=day(-20))
    elif status == MedicationStatus.STOPPED:
        change(c, medication, ChangeKind.STOP, on=day(-20))
    medication.refresh_from_db()
    assert medication.status == status
    return medication


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "kind"), list(EXPECTED))
def test_every_change_from_every_status(care: Cast, status: str, kind: str) -> None:
    medication = _in_status(care, status)
    dose = {ChangeKind.DOSE: Decimal("75"), ChangeKind.TAPER: Decimal("20")}.get(ChangeKind(kind))
    becomes = EXPECTED[(status, kind)]
    before = counts()
    if becomes is None:
        label = MedicationStatus(status).label.lower()
        with pytest.raises(MedicationError, match=f"^This medication is {label}; that change does not apply\\.$"):
            change(care, medication, kind, dose=dose, on=day(-10))
        assert counts() == before
        medication.refresh_from_db()
        assert medication.status == status
    else:
        row, created = change(care, medication, kind, dose=dose, on=day(-10))
        assert created and row.kind == kind
        medication.refresh_from_db()
        assert medication.status == becomes
        assert (medication.stopped_on is not None) == (becomes == MedicationStatus.STOPPED)
        after = counts()
        assert after["changes"] == before["changes"] + 1
        assert after["audit"] == before["audit"] + 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(services.TRANSITIONS))
@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_every_change_needs_a_reason(care: Cast, kind: str, reason: str) -> None:
    medication = _in_status(care, MedicationStatus.ON_HOLD if kind == ChangeKind.RESUME else MedicationStatus.ACTIVE)
    before = counts()
    dose = {ChangeKind.DOSE: Decimal("75"), ChangeKind.TAPER: Decimal("25")}.get(ChangeKind(kind))
    with pytest.raises(MedicationError, match=r"^Say why, for the rest of the care team\.$"):
        change(care, medication, kind, dose=dose, reason=reason)
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["start", "restart", "", "DOSE"])
def test_a_change_of_an_unknown_kind_is_refused(care: Cast, kind: str) -> None:
    medication, _ = start(care)
    before = counts()
    with pytest.raises(MedicationError, match=r"^Choose what changes: dose, taper, hold, resume or stop\.$"):
        change(care, medication, kind, dose=Decimal("75"))
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "dose", "message"),
    [
        (ChangeKind.DOSE, None, "Give the dose as a number above zero."),
        (ChangeKind.DOSE, Decimal("0"), "Give the dose as a number above zero."),
        (ChangeKind.DOSE, Decimal("-1"), "Give the dose as a number above zero."),
        (ChangeKind.DOSE, Decimal("NaN"), "Give the dose as a number above zero."),
        (ChangeKind.DOSE, Decimal("100000"), "That dose is far too large; check the units."),
        (ChangeKind.DOSE, Decimal("50"), "The dose is already 50 mg."),
        (ChangeKind.DOSE, Decimal("50.000"), "The dose is already 50 mg."),
        (ChangeKind.TAPER, None, "Give the dose as a number above zero."),
        (ChangeKind.TAPER, Decimal("50"), "The dose is already 50 mg."),
        (ChangeKind.TAPER, Decimal("75"), "A taper lowers the dose."),
        (ChangeKind.TAPER, Decimal("1e6"), "That dose is far too large; check the units."),
    ],
)
def test_a_dose_that_makes_no_sense_is_refused(care: Cast, kind: str, dose: Decimal | None, message: str) -> None:
    medication, _ = start(care, dose=Decimal("50"))
    before = counts()
    with pytest.raises(MedicationError, match="^" + re.escape(message) + "$"):
        change(care, medication, kind, dose=dose)
    assert counts() == before
    medication.refresh_from_db()
    assert medication.dose == Decimal("50") and medication.status == MedicationStatus.ACTIVE


@pytest.mark.django_db
def test_a_resume_keeps_the_dose_unless_one_is_given_and_refuses_a_bad_one(care: Cast) -> None:
    medication = _in_status(care, MedicationStatus.ON_HOLD)
    before = counts()
    with pytest.raises(MedicationError, match="above zero"):
        change(care, medication, ChangeKind.RESUME, dose=Decimal("0"))
    assert counts() == before
    row, _ = change(care, medication, ChangeKind.RESUME, dose=None)
    medication.refresh_from_db()
    assert medication.dose == Decimal("50") and (row.dose_before, row.dose_after) == (Decimal("50"), Decimal("50"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("on", "message"),
    [
        (day(2), "The date of the change cannot be more than a day in the future."),
        (day(-31), "A change cannot come before the medication was started."),
        (TODAY - datetime.timedelta(days=365 * 20 + 1), "The date of the change is too far in the past."),
    ],
)
def test_a_change_dated_outside_the_course_is_refused(care: Cast, on: datetime.date, message: str) -> None:
    medication, _ = start(care, started_on=day(-30))
    before = counts()
    with pytest.raises(MedicationError, match="^" + re.escape(message) + "$"):
        change(care, medication, ChangeKind.HOLD, on=on)
    assert counts() == before


@pytest.mark.django_db
def test_a_change_is_not_dated_before_the_last_one(care: Cast) -> None:
    medication, _ = start(care, started_on=day(-30))
    change(care, medication, ChangeKind.DOSE, dose=Decimal("100"), on=day(-10))
    before = counts()
    last = day(-10)
    with pytest.raises(MedicationError) as refused:
        change(care, medication, ChangeKind.STOP, on=day(-20))
    assert str(refused.value) == (
        f"The last change to this medication is dated {last:%b} {last.day}, {last.year}; date this one on or after it."
    )
    assert counts() == before
    row, created = change(care, medication, ChangeKind.STOP, on=day(-10))
    assert created and row.effective_on == day(-10)


@pytest.mark.django_db
@pytest.mark.parametrize("on", [day(-30), day(1)])
def test_a_change_on_the_start_day_or_tomorrow_is_accepted(care: Cast, on: datetime.date) -> None:
    medication, _ = start(care, started_on=day(-30))
    row, created = change(care, medication, ChangeKind.HOLD, on=on)
    assert created and row.effective_on == on


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "kind", "dose"),
    [
        (MedicationStatus.ACTIVE, ChangeKind.DOSE, Decimal("100")),
        (MedicationStatus.ACTIVE, ChangeKind.TAPER, Decimal("25")),
        (MedicationStatus.ACTIVE, ChangeKind.HOLD, None),
        (MedicationStatus.ON_HOLD, ChangeKind.RESUME, Decimal("25")),
        (MedicationStatus.ACTIVE, ChangeKind.STOP, None),
    ],
)
def test_the_same_change_form_twice_returns_the_first_row(
    care: Cast, status: str, kind: str, dose: Decimal | None
) -> None:
    medication = _in_status(care, status)
    token = uuid.uuid4()
    first, created = change(care, medication, kind, dose=dose, token=token)
    medication.refresh_from_db()
    after_first = (medication.status, medication.dose)
    before = counts()

    # The page re-reads the medication before the second submit, as a retry would.
    fresh = Medication.objects.get(pk=medication.pk)
    again, created_again = change(care, fresh, kind, dose=dose, token=token)

    assert created and not created_again and again.pk == first.pk
    assert counts() == before
    fresh.refresh_from_db()
    assert (fresh.status, fresh.dose) == after_first


# --- Telling the care team ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_therapist_is_told_of_each_change_at_once(shared: Cast, django_capture_on_commit_callbacks: object) -> None:
    c = shared
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(c.therapist.pk), channel)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # type: ignore[operator]
        medication, _ = start(c)
    assert callbacks, "the live nudge waits for the commit"

    async def receive() -> dict[str, object]:
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert async_to_sync(receive)() == {"type": "live.event", "event": {"kind": "notification"}}

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        change(c, medication, ChangeKind.DOSE, dose=Decimal("100"), on=day(-2))
        change(c, medication, ChangeKind.HOLD, on=day(-1))
        change(c, medication, ChangeKind.RESUME, on=TODAY)
        change(c, medication, ChangeKind.STOP, on=TODAY)

    rows = notified(c.therapist, services.MEDICATION_CHANGED)
    who = c.prescriber.display_name
    assert [n.text for n in rows] == [
        f"{who} started a medication for a patient on your care team",
        f"{who} changed the dose of a medication of a patient on your care team",
        f"{who} put on hold a medication of a patient on your care team",
        f"{who} resumed a medication of a patient on your care team",
        f"{who} stopped a medication of a patient on your care team",
    ]
    link = reverse("medications:detail", args=[c.patient.public_id, medication.public_id])
    assert {n.link for n in rows} == {link}
    # The text goes out by email too: no drug, no dose.
    assert not any("ertraline" in n.text or "mg" in n.text for n in rows)
    # The prescriber who made the change, and people off the care team, are not told.
    assert not Notification.objects.exclude(recipient=c.therapist).exists()
    # The therapist sees what the notification points to, change by change.
    assert [e.title for e in timeline(c.therapist, c.patient)][:2] == ["Sertraline stopped", "Sertraline resumed"]


@pytest.mark.django_db
def test_without_the_patients_authorization_the_therapist_is_told_nothing(care: Cast) -> None:
    medication, _ = start(care)
    change(care, medication, ChangeKind.DOSE, dose=Decimal("100"))
    assert not Notification.objects.exists()
    # Nor does the medication show on the therapist's timeline.
    assert timeline(care.therapist, care.patient) == []
    assert [e.title for e in timeline(care.prescriber, care.patient)] == [
        "Sertraline dose changed: 50 → 100 mg",
        "Sertraline started",
    ]


@pytest.mark.django_db
def test_an_authorization_that_leaves_out_medications_tells_the_therapist_nothing(care: Cast) -> None:
    grant_authorization(care.patient, care.riverbend, care.northstar, classes=["appointments"], signed_at=SIGNED)
    medication, _ = start(care)
    change(care, medication, ChangeKind.HOLD)
    assert not Notification.objects.exists()
    assert timeline(care.therapist, care.patient) == []


@pytest.mark.django_db
def test_a_revoked_authorization_stops_the_notifications(care: Cast) -> None:
    grant_authorization(
        care.patient, care.riverbend, care.northstar, signed_at=SIGNED, revoked_at=NOW - datetime.timedelta(days=1)
    )
    start(care)
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_a_part2_medication_reaches_the_therapist_only_under_a_part2_authorization(care: Cast) -> None:
    grant_authorization(care.patient, care.riverbend, care.northstar, signed_at=SIGNED)
    medication, _ = start(care, drug="naltrexone", part2=True, reason="Alcohol use disorder")
    assert medication.effective_class == "part2"
    assert not Notification.objects.exists()

    grant_authorization(care.patient, care.northstar, care.riverbend, kind="part2", signed_at=SIGNED)
    change(care, medication, ChangeKind.HOLD)
    (row,) = Notification.objects.all()
    assert row.recipient == care.therapist and row.kind == services.MEDICATION_CHANGED


# --- Observations ------------------------------------------------------------------------


def observe(
    c: Cast,
    medication: Medication | None,
    *,
    actor: User | None = None,
    kind: str = "side_effect",
    text: str = "Reports nausea most mornings since the increase",
    on: datetime.date | None = None,
    patient: Patient | None = None,
    organization: Organization | None = None,
    token: uuid.UUID | None = None,
) -> tuple[Observation, bool]:
    return services.record_observation(
        actor=actor or c.therapist,
        patient=patient or c.patient,
        organization=organization or c.riverbend,
        medication=medication,
        kind=kind,
        text=text,
        observed_on=on or TODAY,
        form_token=token or uuid.uuid4(),
        meta=META,
    )


@pytest.mark.django_db
def test_the_therapists_observation_reaches_the_prescriber_and_the_timeline(
    shared: Cast, django_capture_on_commit_callbacks: object
) -> None:
    c = shared
    medication, _ = start(c)
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        row, created = observe(c, medication, kind="side_effect", on=day(-1))

    assert created
    assert (row.patient, row.medication, row.author, row.organization) == (
        c.patient,
        medication,
        c.therapist,
        c.riverbend,
    )
    (note,) = Notification.objects.all()
    assert note.recipient == c.prescriber and note.kind == services.OBSERVATION
    assert note.text == f"{c.therapist.display_name} reported a side effect for a patient on your care team"
    assert note.link == reverse("medications:list", args=[c.patient.public_id]) + f"#obs-{row.public_id}"
    # The email goes through the worker: one task, queued with the row.
    assert DBTaskResult.objects.filter(task_path__endswith="send_notification_email").count() == 1
    event = AuditEvent.objects.get(target_type="medication_observation")
    assert event.actor_id == c.therapist.pk and event.detail == {"kind": "side_effect"}
    assert event.target_id == str(row.public_id)

    for viewer in (c.prescriber, c.therapist):
        observation = next(e for e in timeline(viewer, c.patient) if e.kind == "observation")
        assert observation.title == "Side effect (Sertraline)"
        assert observation.detail == "Reports nausea most mornings since the increase"
        assert (observation.day, observation.anchor, observation.who) == (
            day(-1),
            f"obs-{row.public_id}",
            c.therapist.display_name,
        )


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "label"), [("adherence", "adherence"), ("change", "change seen in session")])
def test_an_observation_about_no_particular_medication(shared: Cast, kind: str, label: str) -> None:
    row, _ = observe(shared, None, kind=kind, text="Missed doses over the holiday")
    (note,) = Notification.objects.filter(kind=services.OBSERVATION)
    assert note.recipient == shared.prescriber and f"reported a {label} for" in note.text
    (event,) = [e for e in timeline(shared.prescriber, shared.patient) if e.kind == "observation"]
    assert event.medication is None and event.title == row.get_kind_display()


@pytest.mark.django_db
def test_without_the_patients_authorization_the_observation_stays_with_the_practice(care: Cast) -> None:
    medication, _ = start(care)
    observe(care, medication)
    assert Observation.objects.count() == 1
    assert not Notification.objects.filter(kind=services.OBSERVATION).exists()
    assert [e.kind for e in timeline(care.prescriber, care.patient)] == ["change"]


@pytest.mark.django_db
def test_the_prescribers_own_observation_does_not_notify_them(shared: Cast) -> None:
    medication, _ = start(shared)
    Notification.objects.all().delete()
    observe(shared, medication, actor=shared.prescriber, organization=shared.northstar)
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "rumour"}, "Choose side effect, adherence or a change seen in session."),
        ({"text": "  "}, "Say what you observed."),
        ({"on": day(2)}, "The date observed cannot be more than a day in the future."),
    ],
)
def test_an_observation_that_fails_a_check_writes_nothing(
    shared: Cast, overrides: dict[str, object], message: str
) -> None:
    medication, _ = start(shared)
    before = counts()
    with pytest.raises(MedicationError, match="^" + re.escape(message) + "$"):
        observe(shared, medication, **overrides)  # type: ignore[arg-type]
    assert counts() == before


@pytest.mark.django_db
def test_the_same_observation_form_twice_returns_the_first_row(shared: Cast) -> None:
    token = uuid.uuid4()
    first, created = observe(shared, None, token=token)
    before = counts()
    again, created_again = observe(shared, None, token=token)
    assert created and not created_again and again.pk == first.pk
    assert counts() == before


# --- Lab results -------------------------------------------------------------------------


def lab(
    c: Cast,
    *,
    test: str = "lithium_level",
    value: str = "0.8",
    on: datetime.date | None = None,
    actor: User | None = None,
    token: uuid.UUID | None = None,
) -> tuple[LabResult, bool]:
    return services.record_lab(
        actor=actor or c.prescriber,
        patient=c.patient,
        organization=c.northstar,
        test=test,
        value=value,
        collected_on=on or day(-1),
        note="12 hours after the evening dose",
        form_token=token or uuid.uuid4(),
        meta=META,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("test", "value", "unit", "title"),
    [
        ("lithium_level", " 0.8 ", "mmol/L", "Lithium level: 0.8 mmol/L"),
        ("weight", "72.5", "kg", "Weight: 72.5 kg"),
    ],
)
def test_a_lab_result_is_kept_with_its_date_and_unit_and_shows_on_the_timeline(
    care: Cast, test: str, value: str, unit: str, title: str
) -> None:
    row, created = lab(care, test=test, value=value, on=day(-3))
    assert created
    assert (row.test, row.value, row.unit, row.collected_on) == (test, value.strip(), unit, day(-3))
    assert (row.entered_by, row.organization) == (care.prescriber, care.northstar)
    event = AuditEvent.objects.get(target_type="lab_result")
    assert event.detail == {"test": test} and event.target_id == str(row.public_id)
    (shown,) = timeline(care.prescriber, care.patient)
    assert (shown.kind, shown.day, shown.title, shown.anchor) == ("lab", day(-3), title, f"lab-{row.public_id}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"on": day(1)}, "A result cannot be dated in the future."),
        ({"on": day(2)}, "The date taken cannot be more than a day in the future."),
        ({"on": TODAY - datetime.timedelta(days=365 * 20 + 1)}, "The date taken is too far in the past."),
        ({"test": "unicorn_level"}, "Choose the test from the list."),
        ({"value": "   "}, "Give the result."),
    ],
)
def test_a_lab_result_that_fails_a_check_writes_nothing(care: Cast, overrides: dict[str, object], message: str) -> None:
    before = counts()
    with pytest.raises(MedicationError, match="^" + re.escape(message) + "$"):
        lab(care, **overrides)  # type: ignore[arg-type]
    assert counts() == before


@pytest.mark.django_db
def test_a_result_taken_today_is_accepted_and_the_same_form_twice_keeps_one(care: Cast) -> None:
    token = uuid.uuid4()
    first, created = lab(care, on=TODAY, token=token)
    again, created_again = lab(care, on=TODAY, token=token)
    assert created and not created_again and first.pk == again.pk
    assert LabResult.objects.count() == 1


# --- PDMP checks ---------------------------------------------------------------------------


def pdmp(
    c: Cast,
    *,
    state: str = "WA",
    checked_at: datetime.datetime | None = None,
    outcome: str = PdmpOutcome.NO_CONCERNS,
    findings: str = "",
    token: uuid.UUID | None = None,
) -> tuple[PdmpCheck, bool]:
    return services.record_pdmp_check(
        actor=c.prescriber,
        patient=c.patient,
        organization=c.northstar,
        state=state,
        checked_at=checked_at or NOW - datetime.timedelta(hours=2),
        outcome=outcome,
        findings=findings,
        reference="PMP-2026-0042",
        form_token=token or uuid.uuid4(),
        meta=META,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "outcome", "findings"),
    [
        ("WA", PdmpOutcome.NO_CONCERNS, ""),
        ("OR", PdmpOutcome.CONCERNS, "Two prescribers of benzodiazepines in the last 90 days"),
        ("WA", PdmpOutcome.UNAVAILABLE, ""),
    ],
)
def test_a_pdmp_check_is_kept_with_its_time_state_and_outcome(
    care: Cast, state: str, outcome: str, findings: str
) -> None:
    checked_at = NOW - datetime.timedelta(days=2, hours=3)
    row, created = pdmp(care, state=state, checked_at=checked_at, outcome=outcome, findings=findings)
    assert created
    row.refresh_from_db()
    assert (row.state, row.checked_at, row.outcome, row.findings) == (state, checked_at, outcome, findings)
    assert (row.patient, row.organization, row.clinician, row.reference) == (
        care.patient,
        care.northstar,
        care.prescriber,
        "PMP-2026-0042",
    )
    assert row.recorded_at == NOW
    event = AuditEvent.objects.get(target_type="pdmp_check")
    assert event.detail == {"state": state, "outcome": outcome} and event.target_id == str(row.public_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outcome": "clean"}, "Choose what the check found."),
        ({"state": "ZZ"}, "Choose the state whose PDMP was checked."),
        ({"outcome": PdmpOutcome.CONCERNS, "findings": " "}, "Say what the check found."),
        ({"checked_at": NOW + datetime.timedelta(minutes=6)}, "The time of the check cannot be in the future."),
        ({"checked_at": NOW - datetime.timedelta(days=30, minutes=1)}, "Record a check from the past 30 days."),
    ],
)
def test_a_pdmp_check_that_fails_a_check_writes_nothing(care: Cast, overrides: dict[str, object], message: str) -> None:
    before = counts()
    with pytest.raises(MedicationError, match="^" + re.escape(message) + "$"):
        pdmp(care, **overrides)  # type: ignore[arg-type]
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("checked_at", [NOW + datetime.timedelta(minutes=5), NOW - datetime.timedelta(days=30), NOW])
def test_pdmp_check_times_at_the_edges_are_accepted(care: Cast, checked_at: datetime.datetime) -> None:
    row, created = pdmp(care, checked_at=checked_at)
    assert created and row.checked_at == checked_at


@pytest.mark.django_db
def test_the_same_pdmp_form_twice_keeps_one_check(care: Cast) -> None:
    token = uuid.uuid4()
    first, _ = pdmp(care, token=token)
    again, created_again = pdmp(care, token=token)
    assert not created_again and again.pk == first.pk and PdmpCheck.objects.count() == 1


# --- Someone else's rows -------------------------------------------------------------------


@pytest.mark.django_db
def test_an_observation_cannot_be_pinned_to_another_patients_medication(shared: Cast) -> None:
    theirs, _ = start(shared, patient=shared.other_patient)
    before = counts()
    with pytest.raises(MedicationError, match=r"^Choose one of this patient's medications\.$"):
        observe(shared, theirs)
    assert counts() == before


@pytest.mark.django_db
def test_a_medication_of_another_patient_cannot_be_changed_or_prescribed_through_this_patient(
    shared: Cast, client_for: object
) -> None:
    c = shared
    theirs, _ = start(c, patient=c.other_patient, actor=c.unrelated)
    client = client_for(c.prescriber)  # type: ignore[operator]
    before = counts()
    for name in ("change", "prescribe", "detail"):
        url = reverse(f"medications:{name}", args=[c.patient.public_id, theirs.public_id])
        response = client.post(url, {}) if name == "change" else client.get(url)
        assert response.status_code == 404, name
        # Nor through the other patient, whom this prescriber does not treat.
        url = reverse(f"medications:{name}", args=[c.other_patient.public_id, theirs.public_id])
        response = client.post(url, {}) if name == "change" else client.get(url)
        assert response.status_code == 404, name
    assert counts() == before


@pytest.mark.django_db
def test_another_organizations_medication_on_the_same_patient_is_seen_but_not_changed(
    shared: Cast, client_for: object
) -> None:
    """A course the practice recorded: the prescriber sees it under the
    authorization, but changes only Northstar's own courses."""
    c = shared
    riverbend_course, _ = services.start(
        actor=c.therapist,
        patient=c.patient,
        organization=c.riverbend,
        drug="hydroxyzine",
        form="tablet",
        dose=Decimal("25"),
        sig="1 tablet as needed",
        indication="",
        started_on=day(-5),
        reason="From the intake: started by the primary care physician",
        part2=False,
        form_token=uuid.uuid4(),
        meta=META,
    )
    client = client_for(c.prescriber)  # type: ignore[operator]
    detail = reverse("medications:detail", args=[c.patient.public_id, riverbend_course.public_id])
    assert client.get(detail).status_code == 200
    before = counts()
    response = client.post(
        reverse("medications:change", args=[c.patient.public_id, riverbend_course.public_id]),
        {
            "form_token": str(uuid.uuid4()),
            "kind": "stop",
            "reason": "Not needed",
            "effective_on": TODAY.isoformat(),
        },
    )
    assert response.status_code == 404
    assert (
        client.get(reverse("medications:prescribe", args=[c.patient.public_id, riverbend_course.public_id])).status_code
        == 404
    )
    assert counts() == before
    riverbend_course.refresh_from_db()
    assert riverbend_course.status == MedicationStatus.ACTIVE
