"""The referral pages: writing, bad input, what each side is shown, and query budgets."""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.patients.tests.test_query_budgets import queries_for
from tandem.records.models import Document
from tandem.referrals import services
from tandem.referrals.models import Referral, ReferralEvent, State
from tandem.referrals.tests.world import META, NOW, World, build, submitted, triaged
from tandem.scheduling import services as scheduling
from tandem.scheduling.models import Appointment
from tandem.test import Cast, sign_in


@pytest.fixture
def world(cast: Cast):  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield build(cast)


def _form(world: World, **changes: str) -> dict[str, object]:
    data: dict[str, object] = {
        "urgency": "soon",
        "reason": "Panic attacks despite CBT",
        "clinical_question": "Is an SSRI reasonable?",
        "language": "es",
        "times_of_day": ["morning"],
        "visit_setting": "video_home",
        "location_state": "WA",
        "payer": str(world.cast.payer.pk),
        "member_id": "W123",
        "form_token": str(uuid.uuid4()),
        "action": "submit",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_refer_from_the_chart_then_a_double_submit_makes_one(world: World) -> None:
    client = sign_in(Client(), world.cast.therapist)
    url = reverse("referrals:new", args=[world.wa_patient.public_id])
    with time_machine.travel(NOW, tick=False):
        chart = client.get(reverse("patients:chart", args=[world.wa_patient.public_id]))
        assert url in chart.content.decode()
        page = client.get(url)
        assert page.status_code == 200
        assert 'value="WA" selected' in page.content.decode()  # the patient's state, prefilled
        data = _form(world)
        first = client.post(url, data)
        second = client.post(url, data)
    assert first.status_code == second.status_code == 302
    referral = Referral.objects.get()
    assert first["Location"] == second["Location"] == reverse("referrals:detail", args=[referral.public_id])
    assert referral.status == State.SUBMITTED
    assert (referral.language, referral.times_of_day, referral.location_state) == ("es", ["morning"], "WA")
    assert ReferralEvent.objects.filter(transition="submit").count() == 1


@pytest.mark.django_db
def test_a_draft_is_kept_and_finished_later(world: World) -> None:
    client = sign_in(Client(), world.cast.therapist)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            reverse("referrals:new", args=[world.wa_patient.public_id]), _form(world, reason="", action="save")
        )
        referral = Referral.objects.get()
        assert response["Location"] == reverse("referrals:edit", args=[referral.public_id])
        assert referral.status == State.DRAFT
        edit = client.get(response["Location"])
        assert "Give the reason for the referral." in edit.content.decode()
        # Submitting without a reason keeps the draft and says why.
        refused = client.post(response["Location"], _form(world, reason="", action="submit"), follow=True)
        assert "The draft is saved but not sent. Give the reason for the referral." in refused.content.decode()
        assert Referral.objects.get().status == State.DRAFT
        done = client.post(response["Location"], _form(world, action="submit"))
    assert done.status_code == 302
    assert Referral.objects.get().status == State.SUBMITTED
    # The coordinator never saw the draft.
    assert not ReferralEvent.objects.filter(to_status=State.DRAFT).exists()


@pytest.mark.django_db
def test_bad_input_is_refused_and_nothing_is_written(world: World, cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    url = reverse("referrals:new", args=[world.wa_patient.public_id])
    foreign_record = Document.objects.create(
        patient=cast.foreign_patient,
        organization=cast.lakeside,
        author=cast.outsider,
        info_class="assessments",
        title="PHQ-9",
        body="12",
        occurred_on=datetime.date(2026, 5, 1),
    )
    cases = [
        _form(world, reason="x" * 301),
        _form(world, clinical_question="y" * 4001),
        _form(world, urgency="yesterday"),
        _form(world, location_state="ZZ"),
        _form(world, payer="99999"),
        {**_form(world), "attachments": [str(foreign_record.pk)]},
        {**_form(world), "times_of_day": ["midnight"]},
    ]
    with time_machine.travel(NOW, tick=False):
        for data in cases:
            response = client.post(url, data)
            assert response.status_code == 400, data
            assert 'role="alert"' in response.content.decode()
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_script_and_sql_in_a_referral_are_kept_as_text(world: World) -> None:
    payload = "<script>alert(1)</script>'; DROP TABLE referrals_referral; --"
    with time_machine.travel(NOW, tick=False):
        referral = submitted(world, reason=payload[:120], clinical_question=payload)
        client = sign_in(Client(), world.coordinator)
        page = client.get(reverse("referrals:detail", args=[referral.public_id])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert Referral.objects.get().clinical_question == payload


@pytest.mark.django_db
def test_forged_and_foreign_choices_are_refused(world: World, cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        referral = triaged(world)
        client = sign_in(Client(), world.coordinator)
        act = reverse("referrals:act", args=[referral.public_id, "book"])
        start = services.current_ranking(referral).offers[0].starts_at.isoformat()
        for data in [
            {"prescriber": str(uuid.uuid4()), "starts_at": start},  # nobody
            {"prescriber": str(cast.unrelated.public_id), "starts_at": start},  # not licensed in WA
            {"prescriber": str(cast.outsider.public_id), "starts_at": start},  # not a prescriber of the group
            {"prescriber": str(cast.prescriber.public_id), "starts_at": "2026-06-08T03:17:00+00:00"},  # not offered
            {"prescriber": "not-a-uuid", "starts_at": start},
            {"prescriber": str(cast.prescriber.public_id), "starts_at": "tomorrow"},
        ]:
            response = client.post(act, data, follow=True)
            assert response.status_code == 200
            assert 'class="message error"' in response.content.decode() or "error" in response.content.decode()
        refused = client.post(act, {"prescriber": str(cast.unrelated.public_id), "starts_at": start}, follow=True)
        assert "not licensed in WA" in refused.content.decode()
        bad_triage = client.post(reverse("referrals:act", args=[referral.public_id, "triage"]), {"urgency": "now"})
        assert bad_triage.status_code == 303
        unknown = client.post(f"/referrals/{referral.public_id}/teleport/")
        assert unknown.status_code == 404
    assert Referral.objects.get().status == State.TRIAGED
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_each_side_sees_what_consent_allows(world: World, cast: Cast) -> None:
    from tandem.consent.models import Authorization

    with time_machine.travel(NOW, tick=False):
        referral = submitted(world)
        url = reverse("referrals:detail", args=[referral.public_id])
        coordinator = sign_in(Client(), world.coordinator)
        shown = coordinator.get(url).content.decode()
        assert "Rosa Alvarez" in shown and "Depression not improving" in shown
        # The patient revokes: the group keeps the referral, but not what it says.
        Authorization.objects.filter(patient=world.wa_patient).update(revoked_at=timezone.now())
        hidden = coordinator.get(url).content.decode()
        assert "Rosa Alvarez" not in hidden and "Depression not improving" not in hidden
        assert "Some information is not shared with you." in hidden
        queue = coordinator.get(reverse("referrals:queue")).content.decode()
        assert "Rosa Alvarez" not in queue and "Patient of Riverbend Counseling" in queue
        # The practice always sees its own referral.
        therapist = sign_in(Client(), cast.therapist).get(url).content.decode()
        assert "Rosa Alvarez" in therapist


@pytest.mark.django_db
def test_the_visit_summary_reaches_the_therapist(world: World, cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        referral = triaged(world)
        best = services.current_ranking(referral).offers[0]
        referral = services.book(
            actor=world.coordinator,
            referral=referral,
            prescriber_id=best.candidate.clinician_id,
            starts_at=best.starts_at,
            meta=META,
        )
    with time_machine.travel(best.starts_at + datetime.timedelta(hours=1), tick=False):
        assert referral.appointment is not None
        scheduling.complete(actor=cast.prescriber, appointment=referral.appointment, meta=META)
        from tandem.messaging.models import Notification
        from tandem.records.services import document_create

        document_create(
            actor=cast.prescriber,
            patient=world.wa_patient,
            organization=cast.northstar,
            info_class="progress_notes",
            part2=False,
            title="Psychiatric evaluation",
            body="Assessment and plan.",
            occurred_on=best.starts_at.date(),
            form_token=uuid.uuid4(),
            meta=META,
        )
        assert Notification.objects.filter(
            recipient=cast.therapist, text="A visit summary is ready for a referral you made."
        ).exists()
        page = sign_in(Client(), cast.therapist).get(reverse("referrals:detail", args=[referral.public_id]))
    text = page.content.decode()
    assert "Visit summary" in text and "Psychiatric evaluation" in text


def _grow(world: World, n: int) -> None:
    cast = world.cast
    for i in range(n):
        referral = Referral.objects.create(
            patient=world.wa_patient,
            practice=cast.riverbend,
            referred_by=cast.therapist,
            status=State.SUBMITTED,
            reason=f"Reason {i}",
            location_state="WA",
            payer=cast.payer,
            submitted_at=NOW - datetime.timedelta(hours=i + 1),
            triage_due_at=NOW + datetime.timedelta(days=1),
            visit_due_at=NOW + datetime.timedelta(days=14),
        )
        ReferralEvent.objects.create(
            referral=referral, transition="submit", from_status=State.DRAFT, to_status=State.SUBMITTED
        )


def _more_prescribers(world: World, n: int) -> None:
    from tandem.credentials.models import ClinicianProfile, LicenseType, PayerEnrollment, StateLicense
    from tandem.organizations.models import Membership, Role
    from tandem.referrals.tests.world import hours
    from tandem.test import make_user

    start = Membership.objects.filter(role=Role.PRESCRIBER).count()
    for i in range(start, start + n):
        user = make_user(f"rx{i}@northstar.test", f"Prescriber {i}", "MD", mfa=False)
        Membership.objects.create(user=user, organization=world.cast.northstar, role=Role.PRESCRIBER)
        ClinicianProfile.objects.create(user=user, discipline="psychiatrist")
        StateLicense.objects.create(clinician=user, state="WA", license_type=LicenseType.MD, number=f"MD-{i}")
        PayerEnrollment.objects.create(clinician=user, payer=world.cast.payer, state="WA")
        hours(user, world.cast)


@pytest.mark.django_db
def test_ranking_reads_every_calendar_at_once(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with time_machine.travel(NOW, tick=False):
        referral = triaged(world)
        services.current_ranking(referral)  # the group's appointment types are created on first use
        with CaptureQueriesContext(connection) as one:
            assert len(services.current_ranking(referral).offers) == 1
        _more_prescribers(world, 8)
        with CaptureQueriesContext(connection) as nine:
            assert len(services.current_ranking(referral).offers) == 9
    assert len(nine.captured_queries) == len(one.captured_queries)


# The most queries each page may run, on PostgreSQL (SQLite takes one fewer:
# the audit chain's lock). The detail page's offers read each eligible
# prescriber's calendar, so they grow with prescribers, never with referrals.
BUDGETS = {
    ("coordinator", "referrals:queue"): 18,
    ("therapist", "referrals:queue"): 15,
    # Matching: the group's prescribers, their credentials (seven kinds), languages,
    # consent, then the calendar of each one who passes (here one).
    ("coordinator", "referrals:detail"): 40,
    ("therapist", "referrals:detail"): 19,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "route"), sorted(BUDGETS))
def test_referral_pages_stay_within_budget_as_referrals_grow(who: str, route: str, world: World) -> None:
    user = world.coordinator if who == "coordinator" else world.cast.therapist
    client = sign_in(Client(), user)
    with time_machine.travel(NOW, tick=False):
        first = submitted(world)
        url = reverse(route, args=[first.public_id] if route == "referrals:detail" else [])
        client.get(url)  # the first look creates the group's default appointment types
        _grow(world, 1)
        small = queries_for(client, url)
        _grow(world, 25)
        for _ in range(10):
            ReferralEvent.objects.create(
                referral=first, transition="note", from_status="submitted", to_status="submitted"
            )
        large = queries_for(client, url)
    assert small == large, f"{route}: {small} queries with a few referrals, {large} with many"
    assert large <= BUDGETS[(who, route)], large


@pytest.mark.django_db
def test_every_referral_page_view_is_audited_once(world: World) -> None:
    with time_machine.travel(NOW, tick=False):
        referral = submitted(world)
        client = sign_in(Client(), world.coordinator)
        before = AuditEvent.objects.count()
        client.get(reverse("referrals:detail", args=[referral.public_id]))
        [event] = AuditEvent.objects.filter(seq__gt=before)
    assert (event.action, event.target_type, event.patient_id) == ("view", "referral", world.wa_patient.public_id)


@pytest.mark.django_db
def test_today_counts_what_waits_on_each_side(world: World, cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        submitted(world)
        from tandem.referrals.tests.world import draft

        draft(world, cast.other_patient)
    # Routine triage is due in 3 business days: Thursday. On Friday it is overdue.
    with time_machine.travel(NOW + datetime.timedelta(days=4), tick=False):
        coordinator = sign_in(Client(), world.coordinator).get(reverse("home:today")).content.decode()
        therapist = sign_in(Client(), cast.therapist).get(reverse("home:today")).content.decode()
        outsider = sign_in(Client(), cast.outsider).get(reverse("home:today")).content.decode()
    assert "1 referral waiting for a first visit</a>, 1 to triage" in coordinator
    assert '<span class="overdue">1 overdue</span>' in coordinator
    assert "1 draft referral not yet sent" in therapist and "draft referral" not in coordinator
    assert "waiting for a first visit" not in outsider and "draft referral" not in outsider
