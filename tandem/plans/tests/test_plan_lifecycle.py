"""The treatment plan's lifecycle through the services and the database:
two signatures bring a version into force, a locked version never changes
by any path, a revision carries the goals over and says what changed,
progress toward measured goals, the patient's acknowledgement in the
office, and the review reminders."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from collections.abc import Callable

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tandem.measures import services as measures
from tandem.measures.models import Response
from tandem.messaging.models import Notification
from tandem.plans import acknowledgement, progress, reviews, services
from tandem.plans.models import (
    LOCKED_MESSAGE,
    Diagnosis,
    Goal,
    Intervention,
    Plan,
    PlanAcknowledgement,
    PlanSignature,
    PlanVersion,
    ReviewReminder,
    VersionStatus,
)
from tandem.plans.services import PlanError
from tandem.plans.tests.helpers import (
    META,
    add_goal,
    add_intervention,
    draft,
    filled_draft,
    in_force,
    review_date,
    sign_both,
)
from tandem.test import Cast, grant_authorization

# --- Two signatures ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_version_is_in_force_only_once_both_disciplines_have_signed(cast: Cast) -> None:
    grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    first = in_force(cast)
    assert first.status == VersionStatus.IN_FORCE
    Notification.objects.all().delete()

    second = filled_draft(cast)
    assert second.number == 2 and second.status == VersionStatus.DRAFT and second.locked_at is None

    signed = services.sign(actor=cast.therapist, version=second, discipline="therapy", meta=META)
    assert signed.status == VersionStatus.SIGNING and signed.is_locked and signed.locked_at is not None
    assert signed.in_force_at is None
    first.refresh_from_db()
    assert first.status == VersionStatus.IN_FORCE  # still the plan in force
    # The prescriber is told a signature is waiting; the therapist who signed is not.
    waiting = Notification.objects.filter(kind=services.PLAN_SIGNED)
    assert [n.recipient for n in waiting] == [cast.prescriber]

    done = services.sign(actor=cast.prescriber, version=second, discipline="medication", meta=META)
    assert done.status == VersionStatus.IN_FORCE and done.in_force_at is not None
    assert done.locked_at == signed.locked_at  # locked at the first signature
    first.refresh_from_db()
    assert first.status == VersionStatus.SUPERSEDED and first.ended_at == done.in_force_at
    assert PlanVersion.objects.filter(status=VersionStatus.IN_FORCE).get() == done
    assert sorted(s.discipline for s in done.signatures.all()) == ["medication", "therapy"]
    assert [n.recipient for n in Notification.objects.filter(kind=services.PLAN_IN_FORCE)] == [cast.therapist]


@pytest.mark.django_db
def test_each_discipline_signs_once_and_a_second_click_is_harmless(cast: Cast) -> None:
    version = filled_draft(cast)
    services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    again = services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    assert again.status == VersionStatus.SIGNING and PlanSignature.objects.count() == 1

    with pytest.raises(PlanError, match="therapy signature is already on this version"):
        services.sign(actor=cast.colleague, version=version, discipline="therapy", meta=META)
    with pytest.raises(PlanError, match="already signed this version"):
        services.sign(actor=cast.therapist, version=version, discipline="medication", meta=META)
    with pytest.raises(PlanError, match="Only the therapist and the prescriber"):
        services.sign(actor=cast.colleague, version=version, discipline="shared", meta=META)
    assert PlanSignature.objects.count() == 1

    services.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)
    # A click on a version already in force signs nothing more.
    with pytest.raises(PlanError, match="no longer open for signature"):
        services.sign(actor=cast.unrelated, version=version, discipline="medication", meta=META)
    assert PlanSignature.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("summary", "goals"), [("", 1), ("   ", 1), ("A summary.", 0)])
def test_a_plan_without_its_summary_or_a_goal_cannot_be_signed(cast: Cast, summary: str, goals: int) -> None:
    version = draft(cast)
    if summary:
        # save_overview keeps what it is given; a blank summary is the form's concern.
        PlanVersion.objects.filter(pk=version.pk).update(summary=summary)
    for n in range(goals):
        add_goal(cast, version, f"Goal {n}")
    with pytest.raises(PlanError, match="summary and at least one goal"):
        services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT and not version.signatures.exists()


# --- A locked version never changes -----------------------------------------------------


def _service_edits(cast: Cast, locked: PlanVersion) -> dict[str, Callable[[], object]]:
    goal = locked.goals.first()
    item = locked.interventions.first()
    assert goal is not None and item is not None
    goal_fields = {
        "discipline": "shared",
        "target_date": None,
        "instrument": "",
        "comparison": "",
        "target_score": None,
        "status": "active",
        "meta": META,
    }
    return {
        "save_overview": lambda: services.save_overview(
            actor=cast.therapist,
            version=locked,
            summary="Rewritten",
            review_on=review_date(cast, 30),
            change_note="",
            problem_list=None,
            meta=META,
        ),
        "save_goal add": lambda: services.save_goal(
            actor=cast.therapist, version=locked, goal=None, text="A new goal", **goal_fields
        ),
        "save_goal change": lambda: services.save_goal(
            actor=cast.therapist, version=locked, goal=goal, text="Changed", **goal_fields
        ),
        "save_intervention add": lambda: add_intervention(cast, locked, "A new intervention"),
        "save_intervention change": lambda: services.save_intervention(
            actor=cast.therapist,
            version=locked,
            intervention=item,
            text="Changed",
            discipline="therapy",
            owner=cast.therapist,
            frequency="daily",
            status="active",
            meta=META,
        ),
        "remove goal": lambda: services.remove_item(actor=cast.therapist, version=locked, item=goal, meta=META),
        "remove intervention": lambda: services.remove_item(actor=cast.therapist, version=locked, item=item, meta=META),
    }


def _snapshot(version: PlanVersion) -> tuple[object, ...]:
    row = PlanVersion.objects.values(
        "summary", "review_on", "change_note", "revision", "diagnoses", "status", "locked_at"
    ).get(pk=version.pk)
    goals = list(Goal.objects.filter(version=version).values_list("pk", "text", "position", "status"))
    items = list(Intervention.objects.filter(version=version).values_list("pk", "text", "frequency", "owner_id"))
    return tuple(row.values()), goals, items


SERVICE_EDITS = [
    "save_overview",
    "save_goal add",
    "save_goal change",
    "save_intervention add",
    "save_intervention change",
    "remove goal",
    "remove intervention",
]


@pytest.mark.django_db
@pytest.mark.parametrize("signatures", [1, 2], ids=["signing", "in_force"])
@pytest.mark.parametrize("edit", SERVICE_EDITS)
def test_every_service_refuses_to_change_a_signed_version(cast: Cast, edit: str, signatures: int) -> None:
    version = filled_draft(cast)
    services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    if signatures == 2:
        services.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)
    before = _snapshot(version)
    with pytest.raises(PlanError) as refused:
        _service_edits(cast, version)[edit]()
    assert str(refused.value) == LOCKED_MESSAGE
    assert _snapshot(version) == before


def _db_edits(locked: PlanVersion, open_draft: PlanVersion) -> dict[str, Callable[[], object]]:
    goal = locked.goals.first()
    assert goal is not None
    new_goal = open_draft.goals.order_by("-position").first()  # added in the draft: a lineage of its own
    assert new_goal is not None

    def raw_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE plans_goal SET text = %s WHERE version_id = %s", ["Raw", locked.pk])

    def raw_version_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE plans_planversion SET summary = %s WHERE id = %s", ["Raw", locked.pk])

    return {
        "version summary": lambda: PlanVersion.objects.filter(pk=locked.pk).update(summary="Rewritten"),
        "version review date": lambda: PlanVersion.objects.filter(pk=locked.pk).update(
            review_on=locked.review_on + datetime.timedelta(days=1)
        ),
        "version back to draft": lambda: PlanVersion.objects.filter(pk=locked.pk).update(status="draft"),
        "version diagnoses": lambda: PlanVersion.objects.filter(pk=locked.pk).update(
            diagnoses=[{"code": "F32.1", "name": "Added after signing", "status": "confirmed"}]
        ),
        "version revision": lambda: PlanVersion.objects.filter(pk=locked.pk).update(revision=99),
        "version save()": lambda: _save_version(locked),
        "version raw SQL": raw_version_sql,
        "goal update": lambda: Goal.objects.filter(version=locked).update(text="Changed"),
        "goal save()": lambda: _save_goal(goal),
        "goal create": lambda: Goal.objects.create(version=locked, text="Sneaked in", discipline="shared"),
        "intervention update": lambda: Intervention.objects.filter(version=locked).update(frequency="daily"),
        "intervention create": lambda: Intervention.objects.create(
            version=locked, text="Sneaked in", discipline="therapy", owner=locked.created_by, frequency="daily"
        ),
        "goal moved into the locked version": lambda: Goal.objects.filter(pk=new_goal.pk).update(version=locked),
        "goal moved out of the locked version": lambda: Goal.objects.filter(pk=goal.pk).update(version=open_draft),
        "goal raw SQL": raw_sql,
    }


def _save_version(version: PlanVersion) -> None:
    row = PlanVersion.objects.get(pk=version.pk)
    row.change_note = "Edited after signing"
    row.save()


def _save_goal(goal: Goal) -> None:
    goal.text = "Edited after signing"
    goal.save()


DB_EDITS = [
    "version summary",
    "version review date",
    "version back to draft",
    "version diagnoses",
    "version revision",
    "version save()",
    "version raw SQL",
    "goal update",
    "goal save()",
    "goal create",
    "intervention update",
    "intervention create",
    "goal moved into the locked version",
    "goal moved out of the locked version",
    "goal raw SQL",
]


@pytest.mark.django_db
@pytest.mark.parametrize("edit", DB_EDITS)
def test_the_database_refuses_every_change_to_a_signed_version(cast: Cast, edit: str) -> None:
    locked = in_force(cast)
    open_draft = draft(cast)
    add_goal(cast, open_draft, "A goal only the draft has")
    before, draft_before = _snapshot(locked), _snapshot(open_draft)
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        _db_edits(locked, open_draft)[edit]()
    assert "signed plan version cannot be changed" in str(refused.value)
    assert _snapshot(locked) == before and _snapshot(open_draft) == draft_before


@pytest.mark.django_db
def test_the_lifecycle_still_moves_on_a_locked_version(cast: Cast) -> None:
    version = filled_draft(cast)
    services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    # signing → in force, through the service, and → superseded by the next version in force.
    services.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)
    next_version = sign_both(cast, draft(cast))
    version.refresh_from_db()
    assert version.status == VersionStatus.SUPERSEDED and next_version.status == VersionStatus.IN_FORCE
    # The lifecycle fields alone may move by a queryset too, content untouched.
    now = timezone.now()
    assert PlanVersion.objects.filter(pk=version.pk).update(ended_at=now) == 1
    version.refresh_from_db()
    assert version.ended_at == now and version.summary == next_version.summary


@pytest.mark.django_db
def test_a_draft_stays_editable(cast: Cast) -> None:
    version = filled_draft(cast, goals=2, interventions=2)
    goal = version.goals.first()
    assert goal is not None
    services.remove_item(actor=cast.therapist, version=version, item=goal, meta=META)
    Goal.objects.filter(version=version).update(text="Edited freely")
    version.refresh_from_db()
    assert list(version.goals.values_list("text", flat=True)) == ["Edited freely"]
    assert version.revision == 6  # overview, two goals, two interventions, one removal


# --- Revising ---------------------------------------------------------------------------


def _diagnose(cast: Cast, code: str, status: str = "provisional") -> Diagnosis:
    row, _ = services.record_diagnosis(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        code=code,
        status=status,
        diagnosed_on=cast.riverbend.local_date(),
        note="",
        part2=False,
        form_token=uuid.uuid4(),
        meta=META,
    )
    return row


@pytest.mark.django_db
def test_a_revision_copies_the_plan_and_the_diff_says_what_changed(cast: Cast) -> None:
    mdd = _diagnose(cast, "F32.1")
    gad = _diagnose(cast, "F41.1", "confirmed")
    v1 = draft(cast)
    services.save_overview(
        actor=cast.therapist,
        version=v1,
        summary="First summary",
        review_on=review_date(cast, 60),
        change_note="",
        problem_list=None,
        meta=META,
    )
    kept = add_goal(cast, v1, "Sleep through the night")
    dropped = add_goal(cast, v1, "Walk daily")
    weekly = add_intervention(cast, v1, "CBT")
    stopped = add_intervention(cast, v1, "Sertraline", owner=cast.prescriber, discipline="medication")
    v1 = sign_both(cast, v1)
    assert [d["code"] for d in v1.diagnoses] == ["F41.1", "F32.1"]  # confirmed first

    v2 = draft(cast)
    assert v2.based_on == v1 and v2.number == 2 and v2.status == VersionStatus.DRAFT
    assert v2.summary == v1.summary
    copied_goals = list(v2.goals.all())
    copied_items = list(v2.interventions.all())
    assert [(g.lineage, g.text, g.position) for g in copied_goals] == [
        (g.lineage, g.text, g.position) for g in v1.goals.all()
    ]
    assert [(i.lineage, i.text, i.owner_id) for i in copied_items] == [
        (i.lineage, i.text, i.owner_id) for i in v1.interventions.all()
    ]
    assert {g.pk for g in copied_goals}.isdisjoint({kept.pk, dropped.pk})
    # Nothing changed yet but the review date, which a revision sets afresh.
    assert v2.review_on == cast.riverbend.local_date() + datetime.timedelta(days=services.DEFAULT_REVIEW_DAYS)
    assert [(c.what, c.part) for c in progress.diff(v1, v2)] == [("changed", "Review date")]

    # The problem list moves on: MDD confirmed, GAD resolved, PTSD added.
    services.change_diagnosis_status(actor=cast.therapist, diagnosis=mdd, status="confirmed", meta=META)
    services.change_diagnosis_status(actor=cast.therapist, diagnosis=gad, status="resolved", meta=META)
    _diagnose(cast, "F43.10")
    services.save_overview(
        actor=cast.therapist,
        version=v2,
        summary="Second summary",
        review_on=review_date(cast, 90),
        change_note="Sertraline stopped",
        problem_list=list(Diagnosis.objects.filter(patient=cast.patient)),
        meta=META,
    )
    services.save_goal(
        actor=cast.therapist,
        version=v2,
        goal=v2.goals.get(lineage=kept.lineage),
        text="Sleep seven hours a night",
        discipline="therapy",
        target_date=None,
        instrument="",
        comparison="",
        target_score=None,
        status="active",
        meta=META,
    )
    services.remove_item(actor=cast.therapist, version=v2, item=v2.goals.get(lineage=dropped.lineage), meta=META)
    add_goal(cast, v2, "Return to work half-time")
    services.save_intervention(
        actor=cast.therapist,
        version=v2,
        intervention=v2.interventions.get(lineage=weekly.lineage),
        text="CBT",
        discipline="therapy",
        owner=cast.therapist,
        frequency="every 2 weeks",
        status="active",
        meta=META,
    )
    services.remove_item(
        actor=cast.therapist, version=v2, item=v2.interventions.get(lineage=stopped.lineage), meta=META
    )
    add_intervention(cast, v2, "Behavioural activation")
    v2.refresh_from_db()

    changes = progress.diff(v1, v2)
    assert {(c.what, c.part, c.text) for c in changes} == {
        ("changed", "Summary", "The summary was rewritten."),
        ("changed", "Review date", f"{review_date(cast, 60).isoformat()} → {review_date(cast, 90).isoformat()}"),
        ("changed", "Diagnosis", "F32.1 Major depressive disorder, single episode, moderate"),
        ("removed", "Diagnosis", f"F41.1 {gad.name}"),
        ("added", "Diagnosis", "F43.10 Posttraumatic stress disorder"),
        ("changed", "Goal", "Sleep seven hours a night"),
        ("removed", "Goal", "Walk daily"),
        ("added", "Goal", "Return to work half-time"),
        ("changed", "Intervention", "CBT"),
        ("removed", "Intervention", "Sertraline"),
        ("added", "Intervention", "Behavioural activation"),
    }
    assert len(changes) == 11
    details = {(c.part, c.text): c.details for c in changes}
    assert details[("Goal", "Sleep seven hours a night")] == (
        "text: Sleep through the night → Sleep seven hours a night",
        "owner: Shared → Therapy",
    )
    assert details[("Intervention", "CBT")] == ("frequency: weekly → every 2 weeks",)
    assert details[("Diagnosis", "F32.1 Major depressive disorder, single episode, moderate")] == (
        "status: provisional → confirmed",
    )
    # The signed version is as it was.
    assert list(v1.goals.values_list("text", flat=True)) == ["Sleep through the night", "Walk daily"]


@pytest.mark.django_db
def test_a_revision_withdraws_a_version_awaiting_its_second_signature(cast: Cast) -> None:
    v1 = in_force(cast)
    v2 = filled_draft(cast)
    services.sign(actor=cast.therapist, version=v2, discipline="therapy", meta=META)
    v3 = draft(cast)
    v2.refresh_from_db()
    v1.refresh_from_db()
    assert v2.status == VersionStatus.SUPERSEDED and v2.ended_at is not None and v2.in_force_at is None
    assert v1.status == VersionStatus.IN_FORCE  # the plan in force stays until the next is signed
    assert v3.status == VersionStatus.DRAFT and v3.based_on == v2 and v3.number == 3
    assert list(v3.goals.values_list("text", flat=True)) == list(v2.goals.values_list("text", flat=True))
    # The withdrawn version cannot be signed any more.
    with pytest.raises(PlanError, match="no longer open for signature"):
        services.sign(actor=cast.prescriber, version=v2, discipline="medication", meta=META)
    sign_both(cast, v3)
    v1.refresh_from_db()
    assert v1.status == VersionStatus.SUPERSEDED


@pytest.mark.django_db
def test_two_drafts_at_once_are_refused_and_a_double_submit_is_one_draft(cast: Cast) -> None:
    token = uuid.uuid4()
    first = draft(cast, token=token)
    again, created = services.start_draft(
        actor=cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        problem_list=[],
        form_token=token,
        meta=META,
    )
    assert again == first and created is False
    with pytest.raises(PlanError, match="A draft of this plan is already open: edit that one"):
        draft(cast)
    with pytest.raises(PlanError, match="already open"):
        draft(cast, actor=cast.prescriber)
    assert PlanVersion.objects.count() == 1


# --- Progress toward a measured goal ----------------------------------------------------


def _phq9(cast: Cast, totals: list[int]) -> list[Response]:
    """PHQ-9s given in session a week apart, one per total, in order."""
    start = timezone.now() - datetime.timedelta(weeks=len(totals))
    for n, total in enumerate(totals):
        with time_machine.travel(start + datetime.timedelta(weeks=n), tick=False):
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
    return list(Response.objects.filter(patient=cast.patient))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("totals", "comparison", "target", "met", "percent"),
    [
        # From 18 toward "below 5" (a score of 4 meets it): 9 of 14 points so far.
        ([18, 12, 9], "below", 5, False, 64),
        ([18, 9, 5], "below", 5, False, 93),  # 5 is not below 5
        ([18, 9, 4], "below", 5, True, 100),
        ([18, 9, 5], "at_most", 5, True, 100),  # 5 is at most 5
        ([18, 9, 6], "at_most", 5, False, 92),  # 12 of 13 points
        ([18, 21], "at_most", 5, False, 0),  # worse than the baseline: no progress, never negative
        ([4], "at_most", 5, True, 100),  # met from the start
        ([3, 9], "below", 5, False, 0),  # started below the target, now above it
    ],
)
def test_goal_progress_from_phq9_scores(
    cast: Cast, totals: list[int], comparison: str, target: int, met: bool, percent: int
) -> None:
    responses = _phq9(cast, totals)
    assert sorted(r.total for r in responses) == sorted(totals)
    goal = Goal(text="Less depressed", instrument="phq9", comparison=comparison, target_score=target)
    found = progress.goal_progress(goal, responses)
    assert found is not None
    assert (found.baseline, found.latest) == (totals[0], totals[-1])
    assert found.baseline_on < found.latest_on or len(totals) == 1
    assert (found.met, found.percent, found.target, found.instrument) == (met, percent, target, "PHQ-9")
    assert ("target met" in found.summary) is met


@pytest.mark.django_db
def test_goal_progress_needs_a_score_of_its_own_questionnaire(cast: Cast) -> None:
    responses = _phq9(cast, [15, 10])
    unmeasured = Goal(text="Walk daily")
    gad = Goal(text="Less worry", instrument="gad7", comparison="below", target_score=5)
    assert progress.goal_progress(unmeasured, responses) is None
    assert progress.goal_progress(gad, responses) is None
    phq = Goal(text="Less depressed", instrument="phq9", comparison="below", target_score=5)
    assert progress.goal_progress(phq, []) is None
    assert progress.goal_progress(phq, responses) is not None


# --- Acknowledgement in the office ------------------------------------------------------


@pytest.mark.django_db
def test_the_patient_acknowledges_only_the_plan_in_force_and_only_once(cast: Cast) -> None:
    version = filled_draft(cast)
    with pytest.raises(PlanError, match="Only the plan in force"):
        acknowledgement.in_office(actor=cast.therapist, version=version, typed_name="Avery Quintero", meta=META)
    services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    with pytest.raises(PlanError, match="Only the plan in force"):
        acknowledgement.in_office(actor=cast.therapist, version=version, typed_name="Avery Quintero", meta=META)
    version = services.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)
    with pytest.raises(PlanError, match="Type the patient's name"):
        acknowledgement.in_office(actor=cast.therapist, version=version, typed_name="   ", meta=META)

    row = acknowledgement.in_office(actor=cast.therapist, version=version, typed_name="  Avery   Quintero ", meta=META)
    assert (row.method, row.typed_name, row.witnessed_by) == ("in_office", "Avery Quintero", cast.therapist)
    with pytest.raises(PlanError, match="already acknowledged"):
        acknowledgement.in_office(actor=cast.prescriber, version=version, typed_name="Avery Quintero", meta=META)
    with pytest.raises(PlanError, match="already acknowledged"):
        acknowledgement.send(actor=cast.therapist, version=version, channel="email", meta=META)
    assert PlanAcknowledgement.objects.count() == 1


# --- Review reminders -------------------------------------------------------------------


def _noon(cast: Cast, day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=zoneinfo.ZoneInfo(cast.riverbend.timezone))


@pytest.mark.django_db
@pytest.mark.parametrize("authorized", [True, False], ids=["shared", "not shared"])
def test_review_reminders_go_once_two_weeks_ahead_and_once_overdue(cast: Cast, authorized: bool) -> None:
    if authorized:
        grant_authorization(cast.patient, cast.riverbend, cast.northstar)
    version = in_force(cast)
    Notification.objects.all().delete()
    review_on = version.review_on

    def reminded() -> list[tuple[str, str]]:
        rows = Notification.objects.filter(kind=reviews.REVIEW_DUE).order_by("id")
        return [(n.recipient.email, n.text) for n in rows]

    assert reviews.sweep(_noon(cast, review_on - datetime.timedelta(days=15))) == 0
    assert reminded() == []

    team = [cast.therapist, cast.prescriber] if authorized else [cast.therapist]
    for day in (review_on - datetime.timedelta(days=14), review_on - datetime.timedelta(days=3), review_on):
        for _ in range(3):
            reviews.sweep(_noon(cast, day))
    soon = reminded()
    assert sorted(email for email, _ in soon) == sorted(u.email for u in team)
    assert all("is due for review soon" in text for _, text in soon)

    for day in (review_on + datetime.timedelta(days=1), review_on + datetime.timedelta(days=40)):
        for _ in range(3):
            reviews.sweep(_noon(cast, day))
    overdue = reminded()[len(soon) :]
    assert sorted(email for email, _ in overdue) == sorted(u.email for u in team)
    assert all("is overdue for review" in text for _, text in overdue)
    assert ReviewReminder.objects.filter(version=version).count() == 2
    # Health information stays out of the notice: no name, no goal.
    assert all(cast.patient.last_name not in text and "Goal" not in text for _, text in reminded())


@pytest.mark.django_db
def test_only_the_plan_in_force_is_reminded(cast: Cast) -> None:
    old = in_force(cast)
    Notification.objects.all().delete()
    new = sign_both(cast, draft(cast))
    Notification.objects.all().delete()
    filled_draft(cast)  # a draft is never reminded
    # The old version's review date passes, but it is superseded; the new one is not due for weeks.
    assert new.review_on - old.review_on == datetime.timedelta(days=services.DEFAULT_REVIEW_DAYS - 60)
    assert reviews.sweep(_noon(cast, old.review_on + datetime.timedelta(days=1))) == 0
    assert not ReviewReminder.objects.exists() and not Notification.objects.exists()
    assert reviews.sweep(_noon(cast, new.review_on - datetime.timedelta(days=14))) == 1
    assert ReviewReminder.objects.get().version == new


def _deletes(locked: PlanVersion) -> dict[str, Callable[[], object]]:
    def raw(table: str, column: str) -> Callable[[], None]:
        def run() -> None:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [locked.pk])

        return run

    return {
        "goal delete()": lambda: Goal.objects.filter(version=locked).first().delete(),  # type: ignore[union-attr]
        "goals queryset delete": lambda: Goal.objects.filter(version=locked).delete(),
        "intervention delete": lambda: Intervention.objects.filter(version=locked).delete(),
        "signature delete": lambda: PlanSignature.objects.filter(version=locked).delete(),
        "acknowledgement delete": lambda: PlanAcknowledgement.objects.filter(version=locked).delete(),
        "goal raw SQL delete": raw("plans_goal", "version_id"),
        "signature raw SQL delete": raw("plans_plansignature", "version_id"),
        "version raw SQL delete": raw("plans_planversion", "id"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "delete",
    [
        "goal delete()",
        "goals queryset delete",
        "intervention delete",
        "signature delete",
        "acknowledgement delete",
        "goal raw SQL delete",
        "signature raw SQL delete",
        "version raw SQL delete",
    ],
)
def test_nothing_of_a_signed_version_can_be_deleted(cast: Cast, delete: str) -> None:
    locked = in_force(cast, goals=2, interventions=2)
    acknowledgement.in_office(actor=cast.therapist, version=locked, typed_name="Pat Example", meta=META)
    before = _snapshot(locked)
    counts = (PlanSignature.objects.filter(version=locked).count(), PlanAcknowledgement.objects.count())
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        _deletes(locked)[delete]()
    assert "signed plan version cannot be changed" in str(refused.value)
    assert _snapshot(locked) == before
    assert (PlanSignature.objects.filter(version=locked).count(), PlanAcknowledgement.objects.count()) == counts
    assert counts == (2, 1)


@pytest.mark.django_db
def test_a_draft_can_lose_items_and_an_erased_record_can_go_whole(cast: Cast) -> None:
    locked = in_force(cast)
    open_draft = draft(cast)
    assert Goal.objects.filter(version=open_draft).delete()[0] == 1
    # Removing the whole record (the demo reset's path) releases the plan first.
    Plan.objects.filter(pk=locked.plan_id).update(erasing=True)
    PlanSignature.objects.filter(version=locked).delete()
    Goal.objects.filter(version=locked).delete()
    Intervention.objects.all().delete()
    PlanVersion.objects.filter(pk=open_draft.pk).delete()
    PlanVersion.objects.filter(pk=locked.pk).delete()
    assert not PlanVersion.objects.filter(plan_id=locked.plan_id).exists()
