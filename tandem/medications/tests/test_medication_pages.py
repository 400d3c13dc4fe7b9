"""The medication pages: the list and its timeline as consent lets each viewer
see it, starting and changing medications, prescribing behind the rules,
labs and monitoring, the therapist's observations, ids from another chart,
escaping, double submits, and a fixed number of queries whatever the list's
size."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import Max
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import RequestMeta
from tandem.consent import services as consent
from tandem.consent.models import Disclosure
from tandem.credentials.models import ClinicianProfile, DeaRegistration, Discipline, LicenseType, StateLicense
from tandem.medications import services
from tandem.medications.models import (
    LabResult,
    Medication,
    MedicationChange,
    MedicationStatus,
    Observation,
    PdmpCheck,
    Prescription,
    Transmission,
)
from tandem.messaging.models import Notification
from tandem.test import Cast, grant_authorization, page_text, sign_in, with_second_patient

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
# Before the end of the DEA telemedicine flexibilities (2026-12-31), so a
# controlled drug by video is lawful once the prescriber's credentials are.
NOW = datetime.datetime(2026, 10, 14, 18, 0, tzinfo=datetime.UTC)


# --- Setup --------------------------------------------------------------------------------


def _client(user: User) -> Client:
    return sign_in(Client(), user)


def _url(name: str, cast: Cast, *ids: object) -> str:
    return reverse(f"medications:{name}", args=[cast.patient.public_id, *ids])


def _today(cast: Cast) -> datetime.date:
    return cast.riverbend.local_date()


def _days_ago(cast: Cast, days: int) -> datetime.date:
    return _today(cast) - datetime.timedelta(days=days)


def _consent(cast: Cast, **extra: object) -> None:
    """The patient's coordination authorization between the practice and the group, both ways."""
    grant_authorization(
        cast.patient,
        cast.riverbend,
        cast.northstar,
        signed_at=timezone.now() - datetime.timedelta(days=1),
        **extra,  # type: ignore[arg-type]
    )


def _credentials(user: User, *, dea_states: tuple[str, ...] = ("OR",)) -> None:
    """A psychiatrist licensed in Oregon and Washington, DEA-registered where given."""
    far = datetime.date(2030, 1, 1)
    ClinicianProfile.objects.create(user=user, discipline=Discipline.PSYCHIATRIST)
    for state in ("OR", "WA"):
        StateLicense.objects.create(
            clinician=user, state=state, license_type=LicenseType.MD, number=f"MD-{state}-1", expires_on=far
        )
    for state in dea_states:
        DeaRegistration.objects.create(
            clinician=user, state=state, number="FR1234563", schedules=["II", "III", "IV", "V"], expires_on=far
        )


def _start(
    cast: Cast,
    drug: str = "sertraline",
    *,
    dose: str = "50",
    form: str = "tablet",
    started_days_ago: int = 30,
    part2: bool = False,
    reason: str = "Depression, moderate",
    sig: str = "1 tablet by mouth once daily",
) -> Medication:
    medication, _ = services.start(
        actor=cast.prescriber,
        patient=cast.patient,
        organization=cast.northstar,
        drug=drug,
        form=form,
        dose=Decimal(dose),
        sig=sig,
        indication="",
        started_on=_days_ago(cast, started_days_ago),
        reason=reason,
        part2=part2,
        form_token=uuid.uuid4(),
        meta=META,
    )
    return medication


def _change(
    cast: Cast, medication: Medication, kind: str, *, dose: str | None = None, days_ago: int = 0, reason: str = ""
) -> MedicationChange:
    row, _ = services.change(
        actor=cast.prescriber,
        medication=medication,
        kind=kind,
        dose=None if dose is None else Decimal(dose),
        sig="",
        reason=reason or f"Reason for the {kind}",
        effective_on=_days_ago(cast, days_ago),
        form_token=uuid.uuid4(),
        meta=META,
    )
    return row


def _prescription(medication: Medication, user: User, **fields: object) -> Prescription:
    """A prescription row as the prescribing service leaves it (the service itself is tested through the page)."""
    values: dict[str, object] = {
        "strength": "50 mg",
        "form": "tablet",
        "sig": "1 tablet by mouth once daily",
        "quantity": 30,
        "days_supply": 30,
        "refills": 1,
        "pharmacy": "Corner Pharmacy, 1 Main St, Portland",
        "patient_state": "OR",
        "state_source": "confirmed by the prescriber with the patient",
        "eligibility": {"allowed": True, "reasons": [], "rules_version": "test"},
    }
    values.update(fields)
    return Prescription.objects.create(
        medication=medication, prescriber=user, organization=medication.organization, drug=medication.drug, **values
    )


def _seq() -> int:
    return AuditEvent.objects.aggregate(top=Max("seq"))["top"] or 0


def _events_since(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def _start_data(**fields: str) -> dict[str, str]:
    data = {
        "drug": "sertraline",
        "form": "tablet",
        "dose": "50",
        "sig": "1 tablet by mouth once daily",
        "indication": "Depression",
        "started_on": "",
        "reason": "Low mood for three months",
        "form_token": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


def _change_data(cast: Cast, **fields: str) -> dict[str, str]:
    data = {
        "kind": "dose",
        "dose": "100",
        "sig": "",
        "reason": "Partial response at 50 mg",
        "effective_on": _today(cast).isoformat(),
        "form_token": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


def _rx_data(**fields: str) -> dict[str, str]:
    data = {
        "strength": "0.5 mg",
        "form": "tablet",
        "sig": "1 tablet by mouth twice daily as needed for panic",
        "quantity": "30",
        "days_supply": "15",
        "refills": "1",
        "pharmacy": "Corner Pharmacy, 1 Main St, Portland OR, 503-555-0100",
        "patient_state": "OR",
        "location_confirmed": "on",
        "form_token": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


def _lab_data(cast: Cast, **fields: str) -> dict[str, str]:
    data = {
        "test": "lithium_level",
        "value": "0.8",
        "collected_on": _days_ago(cast, 1).isoformat(),
        "note": "Trough, 12 hours after the evening dose",
        "form_token": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


def _observation_data(cast: Cast, medication: Medication | None, **fields: str) -> dict[str, str]:
    data = {
        "kind": "side_effect",
        "medication": "" if medication is None else str(medication.public_id),
        "text": "Says she feels jittery in the mornings since the increase.",
        "observed_on": _today(cast).isoformat(),
        "form_token": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


def _pdmp_data(**fields: str) -> dict[str, str]:
    checked = timezone.localtime() - datetime.timedelta(days=1)
    data = {
        "state": "OR",
        "checked_at": checked.strftime("%Y-%m-%dT%H:%M"),
        "outcome": "no_concerns",
        "findings": "",
        "reference": "OR-PDMP-2291",
        "form_token": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


@pytest.fixture
def pinned() -> Iterator[None]:
    with time_machine.travel(NOW):
        yield


@pytest.fixture
def rx_cast(pinned: None, cast: Cast) -> Cast:
    """The cast at a moment the telemedicine rules allow controlled drugs by
    video, with a credentialed prescriber (no DEA registration in Washington)
    and the patient's coordination authorization."""
    _credentials(cast.prescriber)
    _consent(cast)
    return cast


# --- The list and its timeline ------------------------------------------------------------


@pytest.mark.django_db
def test_the_prescriber_sees_the_current_medications_and_the_timeline(cast: Cast) -> None:
    sertraline = _start(cast, started_days_ago=40)
    _change(cast, sertraline, "dose", dose="100", days_ago=10, reason="Partial response at 50 mg")
    _start(cast, "lithium", dose="300", started_days_ago=20, reason="Bipolar II, depressive episode")
    buspirone = _start(cast, "buspirone", dose="10", started_days_ago=30)
    _change(cast, buspirone, "stop", days_ago=5, reason="Dizziness")
    client = _client(cast.prescriber)

    before = _seq()
    answer = client.get(_url("list", cast))
    assert answer.status_code == 200
    page = page_text(answer)
    assert '<td data-testid="dose-sertraline">100 mg tablet' in page
    assert '<td data-testid="dose-lithium">300 mg tablet' in page
    assert "dose-buspirone" not in page and "Stopped (1)" in page
    assert "Sertraline dose changed: 50 → 100 mg" in page and "Partial response at 50 mg" in page
    assert "Sertraline started" in page and "Lithium started" in page and "Buspirone stopped" in page
    assert "Bipolar II, depressive episode" in page and "Dizziness" in page
    # Newest first: the stop (5 days ago) before the dose change (10) before lithium's start (20).
    assert page.index("Buspirone stopped") < page.index("Sertraline dose changed") < page.index("Lithium started")
    assert "Start a medication" in page and "PDMP checks" in page
    events = _events_since(before)
    assert [(e.action, e.target_type, e.patient_id) for e in events] == [
        (Action.LIST, "medications", cast.patient.public_id)
    ]
    # Northstar's own records: nothing crossed.
    assert not Disclosure.objects.exists()


@pytest.mark.django_db
def test_the_therapist_sees_the_list_only_while_consent_shares_it(cast: Cast) -> None:
    medication = _start(cast, reason="Depression, moderate")
    client = _client(cast.therapist)
    detail = _url("detail", cast, medication.public_id)

    # Riverbend asks for the patient's authorization: without one nothing of Northstar's shows.
    page = page_text(client.get(_url("list", cast)))
    assert "Sertraline" not in page and "Depression, moderate" not in page
    assert "No current medications." in page and "Nothing has happened to the medications yet." in page
    assert client.get(detail).status_code == 404

    authorization = grant_authorization(
        cast.patient, cast.riverbend, cast.northstar, signed_at=timezone.now() - datetime.timedelta(days=1)
    )
    page = page_text(client.get(_url("list", cast)))
    assert '<td data-testid="dose-sertraline">50 mg tablet' in page
    assert "Sertraline started" in page and "Depression, moderate" in page
    assert "Start a medication" not in page and "PDMP checks" not in page
    shown = client.get(detail)
    assert shown.status_code == 200 and "Save the change" not in page_text(shown)
    disclosure = Disclosure.objects.filter(recipient_user=cast.therapist).first()
    assert disclosure is not None and disclosure.source == cast.northstar
    assert f"medication:{medication.public_id}" in disclosure.records

    consent.revoke(actor=cast.admin, authorization=authorization, note="Patient asked", meta=META)
    page = page_text(client.get(_url("list", cast)))
    assert "Sertraline" not in page and "No current medications." in page
    assert client.get(detail).status_code == 404


@pytest.mark.django_db
def test_an_authorization_that_withholds_the_medication_list_hides_it(cast: Cast) -> None:
    medication = _start(cast)
    _consent(cast, classes=["appointments", "progress_notes", "diagnoses"])
    client = _client(cast.therapist)
    page = page_text(client.get(_url("list", cast)))
    assert "Sertraline" not in page and "No current medications." in page
    assert client.get(_url("detail", cast, medication.public_id)).status_code == 404
    # The prescriber's own list is whole.
    assert "dose-sertraline" in page_text(_client(cast.prescriber).get(_url("list", cast)))


@pytest.mark.django_db
def test_a_part2_medication_is_shown_only_to_those_it_may_reach(cast: Cast) -> None:
    _consent(cast)
    _start(cast)
    naltrexone = _start(cast, "naltrexone", dose="50", part2=True, reason="Alcohol use disorder, in a Part 2 program")
    therapist = _client(cast.therapist)

    page = page_text(therapist.get(_url("list", cast)))
    assert "dose-sertraline" in page
    assert "Naltrexone" not in page and "Alcohol use disorder" not in page and "Part 2</span>" not in page
    assert therapist.get(_url("detail", cast, naltrexone.public_id)).status_code == 404

    prescriber_page = page_text(_client(cast.prescriber).get(_url("list", cast)))
    assert '<span class="badge">Part 2</span>' in prescriber_page and "Alcohol use disorder" in prescriber_page

    grant_authorization(
        cast.patient,
        cast.northstar,
        cast.riverbend,
        kind="part2",
        signed_at=timezone.now() - datetime.timedelta(days=1),
    )
    page = page_text(therapist.get(_url("list", cast)))
    assert '<span class="badge">Part 2</span>' in page and "Alcohol use disorder" in page
    assert therapist.get(_url("detail", cast, naltrexone.public_id)).status_code == 200


# --- Prescriber-only pages -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_therapist_cannot_use_the_prescribers_pages(cast: Cast) -> None:
    _consent(cast)
    medication = _start(cast)
    client = _client(cast.therapist)
    before = (Medication.objects.count(), MedicationChange.objects.count(), PdmpCheck.objects.count())
    for name, ids in [("start", ()), ("pdmp", ()), ("prescribe", (medication.public_id,))]:
        assert client.get(_url(name, cast, *ids)).status_code == 404, name
    posts = [
        (_url("start", cast), _start_data(drug="lithium", started_on=_today(cast).isoformat())),
        (_url("change", cast, medication.public_id), _change_data(cast)),
        (_url("prescribe", cast, medication.public_id), _rx_data(strength="50 mg")),
        (_url("pdmp", cast), _pdmp_data()),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    assert (Medication.objects.count(), MedicationChange.objects.count(), PdmpCheck.objects.count()) == before
    assert not Prescription.objects.exists()
    medication.refresh_from_db()
    assert medication.dose == Decimal("50")


@pytest.mark.django_db
def test_the_prescriber_starts_a_medication_through_the_form(cast: Cast) -> None:
    client = _client(cast.prescriber)
    before = _seq()
    form = client.get(_url("start", cast))
    assert form.status_code == 200 and "Add to the list" in page_text(form)
    assert [(e.action, e.target_type) for e in _events_since(before)] == [(Action.VIEW, "medication_start")]

    answer = client.post(_url("start", cast), _start_data(started_on=_today(cast).isoformat()))
    medication = Medication.objects.get()
    assert answer.status_code == 302 and answer["Location"] == _url("detail", cast, medication.public_id)
    assert (medication.organization, medication.prescriber, medication.status) == (
        cast.northstar,
        cast.prescriber,
        MedicationStatus.ACTIVE,
    )
    assert medication.dose == Decimal("50") and medication.started_on == _today(cast) and not medication.part2
    start = medication.changes.get()
    assert start.kind == "start" and start.reason == "Low mood for three months"

    page = page_text(client.get(answer["Location"]))
    assert "Sertraline 50 mg is on the list." in page
    assert '<h1 class="grow">Sertraline 50 mg</h1>' in page and "Low mood for three months" in page
    assert "Save the change" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"drug": "unobtainium"}, "Select a valid choice."),
        ({"form": "oral concentrate", "drug": "lithium"}, "Lithium comes as capsule, tablet"),
        ({"dose": "0"}, "Give the dose as a number above zero."),
        ({"reason": ""}, "This field is required."),
        ({"started_on": "2099-01-01"}, "The start date cannot be more than a day in the future."),
        ({"sig": "x" * 301}, "Ensure this value has at most 300 characters"),
    ],
)
def test_a_start_the_rules_refuse_writes_nothing(cast: Cast, fields: dict[str, str], message: str) -> None:
    data = _start_data(started_on=_today(cast).isoformat())
    data.update(fields)
    answer = _client(cast.prescriber).post(_url("start", cast), data)
    assert answer.status_code == 400
    assert message in page_text(answer)
    assert not Medication.objects.exists() and not MedicationChange.objects.exists()


@pytest.mark.django_db
def test_a_second_course_of_the_same_drug_is_refused(cast: Cast) -> None:
    _start(cast)
    answer = _client(cast.prescriber).post(_url("start", cast), _start_data(started_on=_today(cast).isoformat()))
    assert answer.status_code == 400
    assert "Sertraline is already on the list; change that entry instead." in page_text(answer)
    assert Medication.objects.count() == 1


@pytest.mark.django_db
def test_the_prescriber_changes_the_dose_and_the_history_shows_it(cast: Cast) -> None:
    _consent(cast)
    medication = _start(cast, started_days_ago=30)
    client = _client(cast.prescriber)
    detail = _url("detail", cast, medication.public_id)

    answer = client.post(_url("change", cast, medication.public_id), _change_data(cast))
    assert answer.status_code == 302 and answer["Location"] == detail
    medication.refresh_from_db()
    assert medication.dose == Decimal("100") and medication.status == MedicationStatus.ACTIVE
    change = medication.changes.get(kind="dose")
    assert (change.dose_before, change.dose_after, change.made_by) == (Decimal("50"), Decimal("100"), cast.prescriber)

    before = _seq()
    page = page_text(client.get(detail))
    assert "Saved: Sertraline is now 100 mg, active." in page
    assert "Sertraline 100 mg</h1>" in page
    assert f'<li id="chg-{change.public_id}">' in page
    assert "<strong>Dose changed</strong>: 50 → 100 mg" in page and "Partial response at 50 mg" in page
    assert page.index("Dose changed") < page.index("<strong>Started</strong>")
    assert [(e.action, e.target_type, e.target_id) for e in _events_since(before)] == [
        (Action.VIEW, "medication", str(medication.public_id))
    ]
    # The therapist is told, and sees it on the list's timeline.
    assert Notification.objects.filter(recipient=cast.therapist, kind=services.MEDICATION_CHANGED).count() == 2
    assert "Sertraline dose changed: 50 → 100 mg" in page_text(_client(cast.therapist).get(_url("list", cast)))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "taper", "dose": "75"}, "A taper lowers the dose."),
        ({"dose": "50"}, "The dose is already 50 mg."),
        ({"kind": "resume", "dose": ""}, "This medication is active; that change does not apply."),
        ({"reason": ""}, "Check the change: This field is required."),
        ({"effective_on": "2001-01-01"}, "The date of the change is too far in the past."),
    ],
)
def test_a_change_the_rules_refuse_is_explained_and_writes_nothing(
    cast: Cast, fields: dict[str, str], message: str
) -> None:
    medication = _start(cast)
    answer = _client(cast.prescriber).post(
        _url("change", cast, medication.public_id), _change_data(cast, **fields), follow=True
    )
    assert answer.status_code == 200 and message in page_text(answer)
    assert list(medication.changes.values_list("kind", flat=True)) == ["start"]
    medication.refresh_from_db()
    assert medication.dose == Decimal("50") and medication.status == MedicationStatus.ACTIVE


# --- Prescribing ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_controlled_prescription_the_rules_refuse_shows_why_and_writes_nothing(rx_cast: Cast) -> None:
    cast = rx_cast
    medication = _start(cast, "clonazepam", dose="0.5", reason="Panic disorder")
    client = _client(cast.prescriber)
    url = _url("prescribe", cast, medication.public_id)
    form = client.get(url)
    assert form.status_code == 200 and "Nothing is sent to a pharmacy." in page_text(form)

    # The patient is in Washington today: the prescriber has no DEA registration there.
    answer = client.post(url, _rx_data(patient_state="WA"))
    assert answer.status_code == 400
    page = page_text(answer)
    assert "Not allowed." in page and "Tandem checked the rules for a patient in WA now" in page
    assert "dea_not_registered_in_state" in page
    assert "Clonazepam is Schedule IV; there is no DEA registration in WA." in page
    assert not Prescription.objects.exists()
    refused = AuditEvent.objects.filter(target_type="prescription_refused").get()
    assert refused.detail == {"state": "WA", "reasons": ["dea_not_registered_in_state"]}

    # In Oregon the registration holds, but no PDMP check of Oregon is on file yet.
    answer = client.post(url, _rx_data(patient_state="OR"))
    assert answer.status_code == 400
    assert "record a check of the OR PDMP from the past 7 days first" in page_text(answer)
    assert not Prescription.objects.exists()


@pytest.mark.django_db
def test_an_allowed_prescription_leads_to_its_printable_record(rx_cast: Cast) -> None:
    cast = rx_cast
    medication = _start(cast, "clonazepam", dose="0.5", reason="Panic disorder")
    client = _client(cast.prescriber)

    recorded = client.post(_url("pdmp", cast), _pdmp_data())
    assert recorded.status_code == 302
    check = PdmpCheck.objects.get()
    assert (check.state, check.clinician, check.organization) == ("OR", cast.prescriber, cast.northstar)
    assert "OR-PDMP-2291" not in page_text(client.get(_url("pdmp", cast)))  # the reference is kept, not listed
    assert "Reviewed: nothing of concern" in page_text(client.get(_url("pdmp", cast)))

    # The Oregon check is not shown as the one that counts for a patient in Washington.
    elsewhere = page_text(client.post(_url("prescribe", cast, medication.public_id), _rx_data(patient_state="WA")))
    assert "PDMP check on file" not in elsewhere and "No PDMP check of WA from the past 7 days" in elsewhere

    answer = client.post(_url("prescribe", cast, medication.public_id), _rx_data())
    rx = Prescription.objects.get()
    assert answer.status_code == 302 and answer["Location"] == _url("prescription", cast, rx.public_id)
    assert rx.transmission == Transmission.NOT_SENT and rx.pdmp_check == check
    assert rx.eligibility["allowed"] is True

    before = _seq()
    page = page_text(client.get(answer["Location"]))
    assert [(e.action, e.target_type, e.target_id) for e in _events_since(before)] == [
        (Action.VIEW, "prescription", str(rx.public_id))
    ]
    assert "The prescription is recorded." in page
    assert "Clonazepam 0.5 mg tablet — Schedule IV" in page
    assert "<dt>Directions</dt><dd>1 tablet by mouth twice daily as needed for panic</dd>" in page
    assert "<dt>Quantity</dt><dd>30 (15 days' supply)</dd>" in page
    assert "<dt>Refills</dt><dd>1</dd>" in page
    assert "<dt>Pharmacy</dt><dd>Corner Pharmacy, 1 Main St, Portland OR, 503-555-0100</dd>" in page
    assert "Recorded only: not sent to any pharmacy." in page
    assert "Not sent: Tandem&#x27;s stub e-prescribing backend transmits nothing." in page
    assert "<dt>PDMP check</dt><dd>OR," in page
    # And the detail page lists it, with the same statement.
    detail = page_text(client.get(_url("detail", cast, medication.public_id)))
    assert "#30, 1 refills" in detail and "Recorded only: not sent to any pharmacy" in detail


@pytest.mark.django_db
def test_a_schedule_iv_prescription_over_the_refill_cap_is_refused(rx_cast: Cast) -> None:
    cast = rx_cast
    medication = _start(cast, "clonazepam", dose="0.5")
    client = _client(cast.prescriber)
    client.post(_url("pdmp", cast), _pdmp_data())
    answer = client.post(_url("prescribe", cast, medication.public_id), _rx_data(refills="6"))
    assert answer.status_code == 400
    assert "A Schedule IV prescription may carry at most 5 refills." in page_text(answer)
    assert not Prescription.objects.exists()


# --- Labs and monitoring ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["prescriber", "therapist"])
def test_a_lab_result_is_entered_with_its_date(cast: Cast, who: str) -> None:
    _consent(cast)
    _start(cast, "lithium", dose="300", started_days_ago=10)
    user = cast.everyone()[who]
    client = _client(user)
    taken = _days_ago(cast, 1)
    answer = client.post(_url("labs", cast), _lab_data(cast, collected_on=taken.isoformat()))
    assert answer.status_code == 302 and answer["Location"] == _url("labs", cast)
    result = LabResult.objects.get()
    assert (result.test, result.value, result.unit, result.collected_on) == ("lithium_level", "0.8", "mmol/L", taken)
    assert result.entered_by == user
    assert result.organization == (cast.northstar if who == "prescriber" else cast.riverbend)

    before = _seq()
    page = page_text(client.get(_url("labs", cast)))
    assert [(e.action, e.target_type) for e in _events_since(before)] == [(Action.LIST, "lab_results")]
    assert "The result is recorded." in page
    assert f'<time datetime="{taken.isoformat()}">' in page
    assert '<th scope="row">Lithium level</th><td>0.8 mmol/L</td>' in page
    assert "Trough, 12 hours after the evening dose" in page
    assert "Lithium level: 0.8 mmol/L" in page_text(_client(cast.prescriber).get(_url("list", cast)))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tomorrow", "A result cannot be dated in the future."),
        ("next week", "The date taken cannot be more than a day in the future."),
        ("unknown test", "Select a valid choice. potassium is not one of the available choices."),
        ("long value", "Ensure this value has at most 40 characters (it has 41)."),
        ("long note", "Ensure this value has at most 300 characters (it has 301)."),
        ("no value", "This field is required."),
    ],
)
def test_a_lab_result_the_form_refuses_writes_nothing(cast: Cast, case: str, message: str) -> None:
    fields = {
        "tomorrow": {"collected_on": _days_ago(cast, -1).isoformat()},
        "next week": {"collected_on": _days_ago(cast, -7).isoformat()},
        "unknown test": {"test": "potassium"},
        "long value": {"value": "9" * 41},
        "long note": {"note": "n" * 301},
        "no value": {"value": ""},
    }[case]
    before = _seq()
    answer = _client(cast.prescriber).post(_url("labs", cast), _lab_data(cast, **fields))
    assert answer.status_code == 400
    assert message in page_text(answer)
    assert not LabResult.objects.exists()
    assert not _events_since(before)


@pytest.mark.django_db
def test_monitoring_shows_what_is_overdue_until_a_result_is_entered(cast: Cast) -> None:
    _start(cast, "lithium", dose="300", started_days_ago=200)
    client = _client(cast.prescriber)
    overdue = '<span class="badge overdue">overdue</span> <strong>Lithium level</strong>'
    assert overdue in page_text(client.get(_url("list", cast)))
    assert overdue in page_text(client.get(_url("labs", cast)))

    client.post(_url("labs", cast), _lab_data(cast, collected_on=_today(cast).isoformat()))
    page = page_text(client.get(_url("list", cast)))
    assert overdue not in page and "<strong>Lithium level</strong> due" in page
    # Creatinine, due at the start, is still overdue.
    assert '<span class="badge overdue">overdue</span> <strong>Creatinine and eGFR</strong>' in page


# --- Observations -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_therapists_observation_reaches_the_prescriber_and_the_timeline(
    cast: Cast, django_capture_on_commit_callbacks: object
) -> None:
    _consent(cast)
    medication = _start(cast)
    therapist = _client(cast.therapist)
    form = page_text(therapist.get(_url("list", cast)))
    assert "Report to the prescriber" in form and f'<option value="{medication.public_id}">Sertraline</option>' in form

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        answer = therapist.post(_url("observe", cast), _observation_data(cast, medication))
    assert answer.status_code == 302 and answer["Location"] == _url("list", cast) + "#timeline"
    observation = Observation.objects.get()
    assert (observation.author, observation.organization, observation.medication) == (
        cast.therapist,
        cast.riverbend,
        medication,
    )
    assert "Reported to the prescriber." in page_text(therapist.get(_url("list", cast)))

    prescriber = _client(cast.prescriber)
    link = _url("list", cast) + f"#obs-{observation.public_id}"
    inbox = page_text(prescriber.get(reverse("messaging:inbox")))
    told = f"{cast.therapist.display_name} reported a side effect for a patient on your care team"
    assert f'<a href="{link}">{told}</a>' in inbox
    # The notification says nothing of the patient's health; the timeline does.
    assert "jittery" not in inbox
    page = page_text(prescriber.get(_url("list", cast)))
    assert f'<li id="obs-{observation.public_id}" class="event-observation">' in page
    assert "Side effect (Sertraline)" in page and "feels jittery in the mornings" in page


@pytest.mark.django_db
def test_without_consent_the_observation_stays_on_the_practices_side(
    cast: Cast, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        answer = _client(cast.therapist).post(_url("observe", cast), _observation_data(cast, None))
    assert answer.status_code == 302 and Observation.objects.count() == 1
    assert not Notification.objects.filter(recipient=cast.prescriber).exists()
    assert "feels jittery" not in page_text(_client(cast.prescriber).get(_url("list", cast)))


# --- Ids from elsewhere --------------------------------------------------------------------------


def _second_patient(cast: Cast) -> Cast:
    return with_second_patient(cast, signed_at=timezone.now() - datetime.timedelta(days=1))


@pytest.mark.django_db
def test_ids_of_another_patients_rows_answer_404(cast: Cast) -> None:
    _consent(cast)
    mine = _start(cast)
    other = _second_patient(cast)
    theirs = _start(other, "lithium", dose="300")
    rx = _prescription(theirs, cast.prescriber, strength="300 mg")
    client = _client(cast.prescriber)
    # Under its own patient, the other row is there.
    assert client.get(_url("detail", other, theirs.public_id)).status_code == 200
    assert client.get(_url("prescription", other, rx.public_id)).status_code == 200

    for medication_id in (theirs.public_id, uuid.uuid4(), "not-a-uuid"):
        assert client.get(_url("detail", cast, medication_id)).status_code == 404, medication_id
        assert client.get(_url("prescribe", cast, medication_id)).status_code == 404, medication_id
        changed = client.post(_url("change", cast, medication_id), _change_data(cast, dose="600"))
        assert changed.status_code == 404, medication_id
    for prescription_id in (rx.public_id, uuid.uuid4(), "not-a-uuid"):
        assert client.get(_url("prescription", cast, prescription_id)).status_code == 404, prescription_id
    # A medication id is not a prescription id.
    assert client.get(_url("prescription", cast, mine.public_id)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.dose == Decimal("300") and theirs.changes.count() == 1

    # An observation about the other patient's medication is refused by the form.
    therapist = _client(cast.therapist)
    answer = therapist.post(_url("observe", cast), _observation_data(cast, theirs), follow=True)
    assert "Check the report: Select a valid choice." in page_text(answer)
    assert not Observation.objects.exists()


# --- Escaping ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_script_in_reason_sig_and_observation_is_shown_as_text(rx_cast: Cast) -> None:
    cast = rx_cast
    medication = _start(cast, reason=f"Started {SCRIPT}", sig=f"Daily {SCRIPT}")
    _change(cast, medication, "dose", dose="100", reason=f"Raised {SCRIPT}")
    therapist = _client(cast.therapist)
    therapist.post(_url("observe", cast), _observation_data(cast, medication, text=f"Seen {SCRIPT}"))
    assert Observation.objects.filter(text=f"Seen {SCRIPT}").exists()
    client = _client(cast.prescriber)
    answer = client.post(
        _url("prescribe", cast, medication.public_id),
        _rx_data(strength="100 mg", sig=f"Take {SCRIPT}", pharmacy=f"Pharmacy {SCRIPT}"),
    )
    assert answer.status_code == 302
    lab = client.post(_url("labs", cast), _lab_data(cast, test="weight", value="70", note=f"Note {SCRIPT}"))
    assert lab.status_code == 302

    pages = {
        "list": client.get(_url("list", cast)),
        "therapist list": therapist.get(_url("list", cast)),
        "detail": client.get(_url("detail", cast, medication.public_id)),
        "prescription": client.get(answer["Location"]),
        "labs": client.get(_url("labs", cast)),
    }
    expected = {
        "list": ["Started ", "Raised ", "Seen ", "Take ", "Daily ", "Note "],
        "therapist list": ["Started ", "Raised ", "Seen ", "Take ", "Daily ", "Note "],
        "detail": ["Started ", "Raised ", "Daily "],
        "prescription": ["Take ", "Pharmacy "],
        "labs": ["Note "],
    }
    for name, response in pages.items():
        text = page_text(response)
        assert response.status_code == 200, name
        assert SCRIPT not in text and "<script>alert" not in text, name
        for prefix in expected[name]:
            assert prefix + ESCAPED in text, (name, prefix)


# --- Double submits --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_form_posted_twice_makes_one_row(rx_cast: Cast) -> None:
    cast = rx_cast
    prescriber, therapist = _client(cast.prescriber), _client(cast.therapist)

    data = _start_data(drug="clonazepam", dose="0.5", started_on=_today(cast).isoformat())
    first, second = prescriber.post(_url("start", cast), data), prescriber.post(_url("start", cast), data)
    medication = Medication.objects.get()
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert medication.changes.count() == 1

    data = _change_data(cast, dose="1")
    assert prescriber.post(_url("change", cast, medication.public_id), data).status_code == 302
    # The retry finds the first change, rather than judging it against the dose that change set.
    again = page_text(prescriber.post(_url("change", cast, medication.public_id), data, follow=True))
    assert "Saved: Clonazepam is now 1 mg, active." in again and "The dose is already" not in again
    assert medication.changes.filter(kind="dose").count() == 1

    data = _pdmp_data()
    for _ in range(2):
        assert prescriber.post(_url("pdmp", cast), data).status_code == 302
    assert PdmpCheck.objects.count() == 1

    data = _rx_data(strength="1 mg")
    answers = [prescriber.post(_url("prescribe", cast, medication.public_id), data) for _ in range(2)]
    assert [a.status_code for a in answers] == [302, 302] and answers[0]["Location"] == answers[1]["Location"]
    assert Prescription.objects.count() == 1

    data = _lab_data(cast)
    for _ in range(2):
        assert prescriber.post(_url("labs", cast), data).status_code == 302
    assert LabResult.objects.count() == 1

    data = _observation_data(cast, medication)
    for _ in range(2):
        assert therapist.post(_url("observe", cast), data).status_code == 302
    assert Observation.objects.count() == 1
    assert Notification.objects.filter(recipient=cast.prescriber, kind=services.OBSERVATION).count() == 1


# --- Audit -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_page_audits_one_view(rx_cast: Cast) -> None:
    cast = rx_cast
    medication = _start(cast)
    rx = _prescription(medication, cast.prescriber)
    client = _client(cast.prescriber)
    pages = [
        (_url("list", cast), Action.LIST, "medications", str(cast.patient.public_id)),
        (_url("detail", cast, medication.public_id), Action.VIEW, "medication", str(medication.public_id)),
        (_url("start", cast), Action.VIEW, "medication_start", str(cast.patient.public_id)),
        (_url("prescribe", cast, medication.public_id), Action.VIEW, "prescription_form", str(medication.public_id)),
        (_url("prescription", cast, rx.public_id), Action.VIEW, "prescription", str(rx.public_id)),
        (_url("pdmp", cast), Action.LIST, "pdmp_checks", str(cast.patient.public_id)),
        (_url("labs", cast), Action.LIST, "lab_results", str(cast.patient.public_id)),
    ]
    for url, action, target_type, target_id in pages:
        before = _seq()
        assert client.get(url).status_code == 200, url
        events = [(e.action, e.target_type, e.target_id, e.actor_id, e.patient_id) for e in _events_since(before)]
        assert events == [(action, target_type, target_id, cast.prescriber.pk, cast.patient.public_id)], url


# --- Query budgets ---------------------------------------------------------------------------------

# The queries each page takes, measured on PostgreSQL (SQLite takes one fewer:
# the audit chain's lock), plus a margin of two for harmless changes. What
# matters most is that the count does not grow with the list: the test
# compares one medication with ten, each with several changes, exactly. Both
# viewers see the other side's records here (the prescriber the therapist's
# observations), so both lists write one disclosure row.
MARGIN = 2
QUERY_BUDGETS = {
    ("prescriber", "list"): 23 + MARGIN,
    ("prescriber", "detail"): 19 + MARGIN,
    ("therapist", "list"): 21 + MARGIN,
    ("therapist", "detail"): 19 + MARGIN,
}
GROWTH_DRUGS = [
    "sertraline",
    "lithium",
    "buspirone",
    "trazodone",
    "vortioxetine",
    "brexpiprazole",
    "iloperidone",
    "amitriptyline",
    "lamotrigine",
    "quetiapine",
]


def _grow(cast: Cast, drugs: list[str], first: Medication | None) -> Medication:
    """Medications with a dose change and a taper, a prescription, an
    observation and a lab result each; the first medication gets more history."""
    made = []
    for drug in drugs:
        medication = _start(cast, drug, dose="100", started_days_ago=90)
        _change(cast, medication, "dose", dose="200", days_ago=60)
        _change(cast, medication, "taper", dose="150", days_ago=30)
        _prescription(medication, cast.prescriber, strength="100 mg")
        services.record_observation(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            medication=medication,
            kind="adherence",
            text="Takes it most days",
            observed_on=_days_ago(cast, 20),
            form_token=uuid.uuid4(),
            meta=META,
        )
        made.append(medication)
    target = first or made[0]
    if first is not None:
        for n in range(4):
            _change(cast, first, "hold", days_ago=15 - 2 * n)
            _change(cast, first, "resume", days_ago=14 - 2 * n)
            _prescription(first, cast.prescriber, strength="100 mg")
    services.record_lab(
        actor=cast.prescriber,
        patient=cast.patient,
        organization=cast.northstar,
        test="weight",
        value="70",
        collected_on=_days_ago(cast, len(drugs)),
        note="",
        form_token=uuid.uuid4(),
        meta=META,
    )
    return target


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url)
    assert answer.status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["prescriber", "therapist"])
def test_the_list_and_detail_take_the_same_queries_whatever_the_lists_size(cast: Cast, viewer: str) -> None:
    _consent(cast)
    client = _client(cast.everyone()[viewer])
    first = _grow(cast, GROWTH_DRUGS[:1], None)
    small = {
        "list": _count(client, _url("list", cast)),
        "detail": _count(client, _url("detail", cast, first.public_id)),
    }
    _grow(cast, GROWTH_DRUGS[1:], first)
    assert Medication.objects.count() == 10 and MedicationChange.objects.count() == 30 + 8
    page = page_text(client.get(_url("list", cast)))
    assert page.count('class="event-change"') == 38 and page.count('class="event-observation"') == 10
    large = {
        "list": _count(client, _url("list", cast)),
        "detail": _count(client, _url("detail", cast, first.public_id)),
    }
    for name in ("list", "detail"):
        assert small[name] == large[name] <= QUERY_BUDGETS[(viewer, name)], (name, small, large)
