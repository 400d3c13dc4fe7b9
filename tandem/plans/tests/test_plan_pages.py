"""The treatment plan pages: signing and editing through the views, who may
see what, the changes from the version before, the patient's single-use
link, the PDF, and a fixed number of queries whatever the plan's size."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.consent.tests.helpers import pdf_text
from tandem.measures import services as measures
from tandem.messaging import sms
from tandem.plans import acknowledgement, services
from tandem.plans.models import (
    LOCKED_MESSAGE,
    Goal,
    Intervention,
    PlanAcknowledgement,
    PlanLink,
    PlanVersion,
    VersionStatus,
)
from tandem.plans.tests.helpers import META, add_goal, add_intervention, draft, filled_draft, in_force, sign_both
from tandem.test import Cast, grant_authorization, page_text, sign_in, with_second_patient


def _url(name: str, cast: Cast, version: PlanVersion | None = None) -> str:
    if version is None:
        return reverse(name, args=[cast.patient.public_id])
    return reverse(name, args=[cast.patient.public_id, version.number])


def _client(user: object) -> Client:
    return sign_in(Client(), user)  # type: ignore[arg-type]


# --- Signing through the page -----------------------------------------------------------


@pytest.mark.django_db
def test_the_therapist_and_the_prescriber_sign_on_the_page(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    version = filled_draft(cast)
    therapist, prescriber = _client(cast.therapist), _client(cast.prescriber)
    page = page_text(therapist.get(_url("plans:version", cast, version)))
    assert "Sign for therapy" in page and "Medication: not signed yet" in page

    sign = _url("plans:sign", cast, version)
    signed = therapist.post(sign, follow=True)
    assert "Signed. The plan comes into force when the other discipline signs too." in page_text(signed)
    version.refresh_from_db()
    assert version.status == VersionStatus.SIGNING
    # A second click by the same signer changes nothing.
    assert therapist.post(sign).status_code == 302
    assert version.signatures.count() == 1
    plan = page_text(therapist.get(_url("plans:plan", cast)))
    assert "No plan is in force yet" in plan and "awaiting signatures" in plan

    page = page_text(prescriber.get(_url("plans:version", cast, version)))
    assert "Sign for medication" in page and "Signed versions cannot be changed" in page
    done = page_text(prescriber.post(sign, follow=True))
    assert f"Signed: version {version.number} is now in force." in done
    version.refresh_from_db()
    assert version.status == VersionStatus.IN_FORCE
    assert f"Version {version.number}</a>, in force since" in page_text(therapist.get(_url("plans:plan", cast)))


@pytest.mark.django_db
def test_an_incomplete_plan_is_not_signed_on_the_page(cast: Cast) -> None:
    version = draft(cast)
    answer = _client(cast.therapist).post(_url("plans:sign", cast, version), follow=True)
    assert "A plan needs its summary and at least one goal before it is signed." in page_text(answer)
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT and not version.signatures.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["colleague", "admin", "unrelated"])
def test_only_the_care_teams_clinicians_sign(cast: Cast, who: str) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    version = filled_draft(cast)
    user = cast.everyone()[who]
    client = _client(user)
    assert client.post(_url("plans:sign", cast, version)).status_code == 404
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT and not version.signatures.exists()
    if who == "colleague":
        # The practice's other therapist may read the plan; only the sign button is missing.
        page = client.get(_url("plans:version", cast, version))
        assert page.status_code == 200 and "Sign for" not in page_text(page)


@pytest.mark.django_db
def test_the_outsider_gets_404_on_every_plan_page(cast: Cast) -> None:
    version = in_force(cast)
    diagnosis, _ = services.record_diagnosis(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        code="F32.1",
        status="provisional",
        diagnosed_on=cast.riverbend.local_date(),
        note="",
        part2=False,
        form_token=uuid.uuid4(),
        meta=META,
    )
    client = _client(cast.outsider)
    pid = cast.patient.public_id
    gets = [
        _url("plans:plan", cast),
        _url("plans:diagnoses", cast),
        reverse("plans:diagnosis", args=[pid, diagnosis.public_id]),
        _url("plans:version", cast, version),
        _url("plans:pdf", cast, version),
    ]
    posts = [
        _url("plans:diagnoses", cast),
        reverse("plans:diagnosis", args=[pid, diagnosis.public_id]),
        _url("plans:start_draft", cast),
        _url("plans:edit", cast, version),
        _url("plans:sign", cast, version),
        _url("plans:acknowledge", cast, version),
        _url("plans:send_link", cast, version),
    ]
    before = (PlanVersion.objects.count(), PlanAcknowledgement.objects.count(), PlanLink.objects.count())
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        answer = client.post(url, {"form_token": str(uuid.uuid4()), "part": "overview", "typed_name": "x"})
        assert answer.status_code == 404, url
    assert (PlanVersion.objects.count(), PlanAcknowledgement.objects.count(), PlanLink.objects.count()) == before


@pytest.mark.django_db
def test_the_prescriber_sees_the_therapists_plan_only_with_an_authorization(cast: Cast) -> None:
    version = filled_draft(cast)
    prescriber = _client(cast.prescriber)
    assert prescriber.get(_url("plans:version", cast, version)).status_code == 404
    assert prescriber.post(_url("plans:sign", cast, version)).status_code == 404
    assert "No plan yet." in page_text(prescriber.get(_url("plans:plan", cast)))
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    assert "Goal number 1" in page_text(prescriber.get(_url("plans:version", cast, version)))


@pytest.mark.django_db
@pytest.mark.parametrize("signing", [False, True], ids=["in force", "awaiting a signature"])
def test_a_revision_never_copies_a_plan_the_reviser_may_not_see(cast: Cast, signing: bool) -> None:
    """Without the patient's authorization the prescriber cannot see the
    practice's plan; revising it would copy its summary and goals into a
    version of their own (and withdraw one awaiting signature)."""
    v1 = in_force(cast)
    if signing:
        services.sign(actor=cast.therapist, version=filled_draft(cast), discipline="therapy", meta=META)
    prescriber = _client(cast.prescriber)
    answer = prescriber.post(_url("plans:start_draft", cast), {"form_token": str(uuid.uuid4())}, follow=True)
    assert "consent does not let you see the plan as it stands" in page_text(answer)
    assert list(PlanVersion.objects.order_by("number").values_list("status", flat=True)) == (
        ["in_force", "signing"] if signing else ["in_force"]
    )
    assert "Goal number 1" not in page_text(answer)

    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    answer = prescriber.post(_url("plans:start_draft", cast), {"form_token": str(uuid.uuid4())}, follow=True)
    newest = PlanVersion.objects.order_by("-number").first()
    assert newest is not None and newest.based_on is not None and newest.organization == cast.northstar
    assert newest.summary == v1.summary and "Goal number 1" in page_text(answer)


# --- Editing ----------------------------------------------------------------------------


def _edit_posts(cast: Cast, version: PlanVersion) -> dict[str, dict[str, str]]:
    goal = version.goals.first()
    item = version.interventions.first()
    assert goal is not None and item is not None
    goal_fields = {"text": "Changed on the page", "discipline": "shared", "status": "active"}
    item_fields = {
        "text": "Changed on the page",
        "discipline": "therapy",
        "owner": str(cast.therapist.public_id),
        "frequency": "daily",
        "status": "active",
    }
    return {
        "overview": {
            "part": "overview",
            "revision": str(version.revision),
            "summary": "Rewritten on the page",
            "review_on": (cast.riverbend.local_date() + datetime.timedelta(days=30)).isoformat(),
            "change_note": "",
        },
        "add goal": {"part": "goal", **goal_fields},
        "change goal": {
            "part": "goal",
            "item": str(goal.lineage),
            **{f"g{goal.pk}-{k}": v for k, v in goal_fields.items()},
        },
        "remove goal": {"part": "remove_goal", "item": str(goal.lineage)},
        "add intervention": {"part": "intervention", **item_fields},
        "change intervention": {
            "part": "intervention",
            "item": str(item.lineage),
            **{f"i{item.pk}-{k}": v for k, v in item_fields.items()},
        },
        "remove intervention": {"part": "remove_intervention", "item": str(item.lineage)},
    }


def _content(version: PlanVersion) -> tuple[object, ...]:
    row = PlanVersion.objects.values_list("summary", "review_on", "revision", "status").get(pk=version.pk)
    goals = list(Goal.objects.filter(version=version).values_list("pk", "text", "discipline"))
    items = list(Intervention.objects.filter(version=version).values_list("pk", "text", "frequency"))
    return row, goals, items


EDITS = [
    "overview",
    "add goal",
    "change goal",
    "remove goal",
    "add intervention",
    "change intervention",
    "remove intervention",
]


@pytest.mark.django_db
@pytest.mark.parametrize("edit", EDITS)
def test_the_edit_page_changes_a_draft(cast: Cast, edit: str) -> None:
    version = filled_draft(cast)
    before = _content(version)
    answer = _client(cast.therapist).post(_url("plans:edit", cast, version), _edit_posts(cast, version)[edit])
    assert answer.status_code == 302 and answer["Location"] == _url("plans:version", cast, version)
    after = _content(version)
    assert after != before and after[0][2] == before[0][2] + 1  # type: ignore[index]


@pytest.mark.django_db
@pytest.mark.parametrize("signatures", [1, 2], ids=["signing", "in_force"])
@pytest.mark.parametrize("edit", EDITS)
def test_the_edit_page_leaves_a_signed_version_as_signed(cast: Cast, edit: str, signatures: int) -> None:
    version = filled_draft(cast)
    services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    if signatures == 2:
        services.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)
    before = _content(version)
    answer = _client(cast.therapist).post(
        _url("plans:edit", cast, version), _edit_posts(cast, version)[edit], follow=True
    )
    assert answer.status_code == 200
    assert LOCKED_MESSAGE in page_text(answer)
    assert _content(version) == before
    # The page offers no edit forms on a signed version.
    assert 'name="part" value="goal"' not in page_text(answer)


@pytest.mark.django_db
def test_a_stale_overview_is_not_saved_over_a_newer_one(cast: Cast) -> None:
    version = filled_draft(cast)
    form = _edit_posts(cast, version)["overview"]
    add_goal(cast, version, "Saved by someone else a moment ago")
    answer = _client(cast.therapist).post(_url("plans:edit", cast, version), form, follow=True)
    assert "Someone else saved this draft a moment ago" in page_text(answer)
    version.refresh_from_db()
    assert version.summary != "Rewritten on the page"


# --- Revising through the page ----------------------------------------------------------


@pytest.mark.django_db
def test_revising_on_the_page_shows_the_changes_from_the_version_before(cast: Cast) -> None:
    v1 = in_force(cast, goals=2)
    therapist = _client(cast.therapist)
    plan = page_text(therapist.get(_url("plans:plan", cast)))
    token = re.search(r'name="form_token" value="([0-9a-f-]+)"', plan)
    assert token is not None and "Revise the plan" in plan
    start = _url("plans:start_draft", cast)
    first = therapist.post(start, {"form_token": token[1]})
    second = therapist.post(start, {"form_token": token[1]})  # a double submit
    assert first["Location"] == second["Location"] == reverse("plans:version", args=[cast.patient.public_id, 2])
    assert PlanVersion.objects.count() == 2
    v2 = PlanVersion.objects.get(number=2)
    assert v2.based_on == v1

    page = page_text(therapist.get(_url("plans:version", cast, v2)))
    assert "Changes from version 1" in page
    goal = v2.goals.get(text="Goal number 2")
    services.remove_item(actor=cast.therapist, version=v2, item=goal, meta=META)
    add_goal(cast, v2, "Return to work half-time")
    page = page_text(therapist.get(_url("plans:version", cast, v2)))
    assert "<strong>Goal removed:</strong> Goal number 2" in page
    assert "<strong>Goal added:</strong> Return to work half-time" in page

    # A second draft is refused with a clear message.
    again = therapist.post(start, {"form_token": str(uuid.uuid4())}, follow=True)
    assert "A draft of this plan is already open: edit that one." in page_text(again)
    assert PlanVersion.objects.count() == 2
    # A broken token is refused without a draft.
    broken = therapist.post(start, {"form_token": "not-a-token"}, follow=True)
    assert "This form has expired" in page_text(broken) and PlanVersion.objects.count() == 2


@pytest.mark.django_db
def test_the_version_page_shows_progress_toward_a_measured_goal(cast: Cast) -> None:
    version = filled_draft(cast, goals=0)
    add_goal(cast, version, "Less depressed", instrument="phq9", comparison="below", target_score=5)
    for total in (18, 9):
        measures.record_in_session(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            instrument_key="phq9",
            answers={str(q): min(3, max(0, total - 3 * (q - 1))) for q in range(1, 10)},
            language="en",
            form_token=uuid.uuid4(),
            meta=META,
        )
    page = page_text(_client(cast.therapist).get(_url("plans:version", cast, version)))
    assert "Target: PHQ9 below 5." in page
    assert "PHQ-9 18 on" in page and "target below 5: 64% of the way" in page and 'value="64"' in page


# --- The patient's link -----------------------------------------------------------------


def _send(cast: Cast, version: PlanVersion, django_capture_on_commit_callbacks: object, channel: str = "email") -> str:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        _, token = acknowledgement.send(actor=cast.therapist, version=version, channel=channel, meta=META)
    return token


@pytest.fixture
def reachable(cast: Cast) -> Cast:
    cast.patient.email = "avery@example.test"
    cast.patient.phone = "503-555-0142"
    cast.patient.save()
    sms.outbox.clear()
    return cast


@pytest.mark.django_db
def test_the_patient_reads_and_acknowledges_the_plan_through_a_single_use_link(
    reachable: Cast, django_capture_on_commit_callbacks: object
) -> None:
    cast = reachable
    version = in_force(cast, goals=2, interventions=2)
    therapist = _client(cast.therapist)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        sent = therapist.post(_url("plans:send_link", cast, version), {"channel": "email"}, follow=True)
    assert "The link is on its way to the patient" in page_text(sent)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["avery@example.test"]
    found = re.search(r"/plan/([A-Za-z0-9_-]+)/", message.body)
    assert found is not None
    token = found[1]
    url = reverse("plans:patient_link", args=[token])
    # The practice's name and the link: no name, no goal, no diagnosis.
    assert message.body == acknowledgement.MESSAGE.format(
        practice=cast.riverbend.name, url=settings.SITE_URL.rstrip("/") + url
    )
    for private in (cast.patient.first_name, cast.patient.last_name, "Goal number", "Intervention", "depress"):
        assert private not in message.body and private not in message.subject

    patient = Client()
    page = patient.get(url)
    text = page_text(page)
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    assert "Goal number 1" in text and "Goal number 2" in text and "Intervention number 2" in text
    assert "Maya Ortiz" in text and "Priya Raman" in text
    missing = patient.post(url, {"typed_name": "Avery Quintero"})  # the box not ticked
    assert missing.status_code == 400 and not PlanAcknowledgement.objects.exists()
    done = patient.post(url, {"agree": "on", "typed_name": "Avery Quintero"})
    assert done.status_code == 200 and "Thank you" in page_text(done)
    row = PlanAcknowledgement.objects.get()
    assert (row.version, row.method, row.typed_name, row.witnessed_by) == (version, "link", "Avery Quintero", None)
    assert PlanLink.objects.get().used_at is not None

    for again in (patient.post(url, {"agree": "on", "typed_name": "Avery Quintero"}), patient.get(url)):
        assert again.status_code == 410
        assert "You have already acknowledged this plan" in page_text(again)
    assert PlanAcknowledgement.objects.count() == 1
    assert "Acknowledged through a secure link" in page_text(therapist.get(_url("plans:version", cast, version)))


@pytest.mark.django_db
def test_the_link_goes_by_text_message_without_health_information(
    reachable: Cast, django_capture_on_commit_callbacks: object
) -> None:
    cast = reachable
    version = in_force(cast)
    token = _send(cast, version, django_capture_on_commit_callbacks, channel="sms")
    assert len(sms.outbox) == 1 and mail.outbox == []
    text = sms.outbox[0]
    assert text.to == "+15035550142" and text.body.endswith(reverse("plans:patient_link", args=[token]))
    assert cast.riverbend.name in text.body and cast.patient.last_name not in text.body


@pytest.mark.django_db
def test_a_link_is_not_sent_without_an_address_or_for_a_plan_not_in_force(
    cast: Cast, django_capture_on_commit_callbacks: object
) -> None:
    version = filled_draft(cast)
    with pytest.raises(services.PlanError, match="Only the plan in force"):
        acknowledgement.send(actor=cast.therapist, version=version, channel="email", meta=META)
    version = sign_both(cast, version)
    with pytest.raises(services.PlanError, match="no email address"):
        acknowledgement.send(actor=cast.therapist, version=version, channel="email", meta=META)
    with pytest.raises(services.PlanError, match="no mobile number"):
        acknowledgement.send(actor=cast.therapist, version=version, channel="sms", meta=META)
    assert not PlanLink.objects.exists() and mail.outbox == []


@pytest.mark.django_db
def test_an_expired_link_answers_410(reachable: Cast, django_capture_on_commit_callbacks: object) -> None:
    cast = reachable
    version = in_force(cast)
    url = reverse("plans:patient_link", args=[_send(cast, version, django_capture_on_commit_callbacks)])
    with time_machine.travel(timezone.now() + datetime.timedelta(days=acknowledgement.LINK_DAYS, minutes=1)):
        for answer in (Client().get(url), Client().post(url, {"agree": "on", "typed_name": "Avery Quintero"})):
            assert answer.status_code == 410
            assert "This link has expired. Your care team can send you a new one." in page_text(answer)
    assert not PlanAcknowledgement.objects.exists()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=acknowledgement.LINK_DAYS - 1)):
        assert Client().get(url).status_code == 200


@pytest.mark.django_db
def test_a_newer_link_replaces_the_older(reachable: Cast, django_capture_on_commit_callbacks: object) -> None:
    cast = reachable
    version = in_force(cast)
    older = reverse("plans:patient_link", args=[_send(cast, version, django_capture_on_commit_callbacks)])
    newer = reverse("plans:patient_link", args=[_send(cast, version, django_capture_on_commit_callbacks)])
    answer = Client().post(older, {"agree": "on", "typed_name": "Avery Quintero"})
    assert answer.status_code == 410 and "A newer link was sent to you" in page_text(answer)
    assert Client().get(newer).status_code == 200
    assert len(mail.outbox) == 2 and not PlanAcknowledgement.objects.exists()


@pytest.mark.django_db
def test_a_link_sent_before_an_acknowledgement_in_the_office_no_longer_opens(
    reachable: Cast, django_capture_on_commit_callbacks: object
) -> None:
    cast = reachable
    version = in_force(cast)
    url = reverse("plans:patient_link", args=[_send(cast, version, django_capture_on_commit_callbacks)])
    acknowledgement.in_office(actor=cast.therapist, version=version, typed_name="Avery Quintero", meta=META)
    for answer in (Client().get(url), Client().post(url, {"agree": "on", "typed_name": "Avery Quintero"})):
        assert answer.status_code == 410
        assert "You have already acknowledged this plan with your care team" in page_text(answer)
    row = PlanAcknowledgement.objects.get()
    assert row.method == "in_office" and PlanLink.objects.get().used_at is None


@pytest.mark.django_db
def test_a_link_to_a_superseded_version_answers_410(
    reachable: Cast, django_capture_on_commit_callbacks: object
) -> None:
    cast = reachable
    version = in_force(cast)
    url = reverse("plans:patient_link", args=[_send(cast, version, django_capture_on_commit_callbacks)])
    sign_both(cast, draft(cast))
    answer = Client().get(url)
    assert answer.status_code == 410 and "Your care team has updated this plan" in page_text(answer)
    answer = Client().post(url, {"agree": "on", "typed_name": "Avery Quintero"})
    assert answer.status_code == 410 and not PlanAcknowledgement.objects.exists()


@pytest.mark.django_db
def test_an_unknown_or_oversized_token_answers_404(reachable: Cast, django_capture_on_commit_callbacks: object) -> None:
    cast = reachable
    token = _send(cast, in_force(cast), django_capture_on_commit_callbacks)
    for wrong in ("unknown-token", token[:-1], "x" * 101, token + "x" * 100):
        assert Client().get(reverse("plans:patient_link", args=[wrong])).status_code == 404
    assert Client().get(reverse("plans:patient_link", args=[token])).status_code == 200


# --- The PDF ----------------------------------------------------------------------------


def _pdf_date(moment: datetime.datetime) -> str:
    utc = moment.astimezone(datetime.UTC)
    return f"{utc:%B} {utc.day}, {utc.year}, {utc:%H:%M} UTC"


@pytest.mark.django_db
def test_the_pdf_carries_the_whole_plan_and_its_signatures(cast: Cast) -> None:
    version = in_force(cast, goals=3, interventions=2)
    exports_before = AuditEvent.objects.filter(action="export").count()
    answer = _client(cast.therapist).get(_url("plans:pdf", cast, version))
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer["Cache-Control"] == "no-store"
    text = pdf_text(answer.content)
    for n in (1, 2, 3):
        assert f"{n}. Goal number {n}" in text
    assert f"Intervention number 1 — Therapy, {cast.therapist.display_name}, weekly" in text
    assert f"Intervention number 2 — Medication, {cast.prescriber.display_name}, weekly" in text
    signatures = list(version.signatures.order_by("discipline"))
    assert [s.discipline for s in signatures] == ["medication", "therapy"]
    for s in signatures:
        label = "Therapy" if s.discipline == "therapy" else "Medication"
        assert f"{label}: {s.signer.display_name}, signed {_pdf_date(s.signed_at)}" in text
    review = version.review_on
    assert f"Review by {review:%B} {review.day}, {review.year}." in text
    assert version.in_force_at is not None
    assert f"In force since {version.in_force_at:%B} {version.in_force_at.day}, {version.in_force_at.year}." in text
    exports = AuditEvent.objects.filter(action="export")
    assert exports.count() == exports_before + 1
    event = exports.order_by("-seq").first()
    assert event is not None and event.target_type == "plan_pdf" and event.target_id == str(version.public_id)
    assert event.actor_id == cast.therapist.pk and event.patient_id == cast.patient.public_id


# --- Query budgets ----------------------------------------------------------------------

# The queries each page takes, measured on PostgreSQL (SQLite takes one fewer),
# plus a margin of two for harmless changes. What matters most is that the
# count does not grow with the plan: the tests compare 1 and 10 goals and
# interventions exactly. The prescriber's pages also note what crossed from the
# practice in the disclosure ledger.
MARGIN = 2
QUERY_BUDGETS = {
    ("therapist", "plan"): 15 + MARGIN,
    ("therapist", "draft"): 25 + MARGIN,
    ("therapist", "in force"): 26 + MARGIN,
    ("prescriber", "plan"): 18 + MARGIN,
    ("prescriber", "draft"): 28 + MARGIN,
    ("prescriber", "in force"): 29 + MARGIN,
}


def _plan_of_size(cast: Cast, size: int) -> PlanVersion:
    """A plan in force with ``size`` goals (measured) and interventions, with
    ``size`` versions before it, and a revision of it being worked on, with
    PHQ-9 scores to show progress."""
    v1 = filled_draft(cast, goals=0, interventions=size)
    for n in range(size):
        add_goal(cast, v1, f"Goal {n}", instrument="phq9", comparison="below", target_score=5)
    sign_both(cast, v1)
    for _ in range(size):
        sign_both(cast, draft(cast))
    for total in (18, 12):
        measures.record_in_session(
            actor=cast.therapist,
            patient=cast.patient,
            organization=cast.riverbend,
            instrument_key="phq9",
            answers={str(q): min(3, max(0, total - 3 * (q - 1))) for q in range(1, 10)},
            language="en",
            form_token=uuid.uuid4(),
            meta=META,
        )
    v2 = draft(cast)
    add_goal(cast, v2, "A goal of the revision")
    add_intervention(cast, v2, "An intervention of the revision", owner=cast.prescriber, discipline="medication")
    return v2


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url)
    assert answer.status_code == 200
    return len(queries)


def _another_patient(cast: Cast) -> Cast:
    return with_second_patient(cast)


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["therapist", "prescriber"])
def test_the_plan_pages_take_the_same_queries_whatever_the_plans_size(cast: Cast, viewer: str) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    client = _client(cast.everyone()[viewer])
    counts: dict[str, list[int]] = {"plan": [], "draft": [], "in force": []}
    for size, who in ((1, cast), (10, _another_patient(cast))):
        v2 = _plan_of_size(who, size)
        assert v2.goals.count() == size + 1 and v2.interventions.count() == size + 1
        assert v2.number == size + 2 and v2.based_on is not None
        counts["plan"].append(_count(client, _url("plans:plan", who)))
        counts["draft"].append(_count(client, _url("plans:version", who, v2)))
        counts["in force"].append(_count(client, _url("plans:version", who, v2.based_on)))
    for page, (small, large) in counts.items():
        assert small == large <= QUERY_BUDGETS[(viewer, page)], (page, counts)
