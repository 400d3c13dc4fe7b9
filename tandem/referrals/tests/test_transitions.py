"""Every referral transition, and every refused one, with who may and may not make it.

The first part is a table: each transition, from each state, tried by each
member of the cast and by Tandem itself. The table of who may do what is
written out here from the tracker, not read from ``services.TRANSITIONS``, so
it tests the code rather than repeating it.

The second part makes each transition happen for real through the services,
with its history row and its audit event, and checks that a refused one
leaves the database exactly as it was.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.http import Http404

from tandem.access import policy
from tandem.accounts.models import User
from tandem.audit.models import Action, AuditEvent
from tandem.messaging.models import Notification
from tandem.patients.models import CareTeamMember
from tandem.referrals import services
from tandem.referrals.models import (
    Offer,
    OfferStatus,
    Referral,
    ReferralEvent,
    ReferralSettings,
    State,
    Urgency,
)
from tandem.referrals.tests.world import META, NOW, World, build, draft, scheduled, submitted, triaged
from tandem.scheduling import services as scheduling
from tandem.scheduling.models import Appointment, Modality
from tandem.test import Cast

UTC = datetime.UTC
REFERRING = policy.REFERRING
RECEIVING = policy.RECEIVING
BOOKING = policy.BOOKING_THERAPIST
SYSTEM = policy.SYSTEM


def _states(*states: str) -> frozenset[str]:
    return frozenset(str(s) for s in states)


# Who may move a referral, and from where (the tracker's table).
EXPECTED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "submit": (_states(State.DRAFT), frozenset({REFERRING})),
    "triage": (_states(State.SUBMITTED), frozenset({RECEIVING})),
    "offer": (_states(State.TRIAGED), frozenset({RECEIVING, SYSTEM})),
    "book": (_states(State.TRIAGED, State.OFFERED), frozenset({RECEIVING, BOOKING})),
    "release": (_states(State.OFFERED), frozenset({RECEIVING, REFERRING, SYSTEM})),
    "reopen": (_states(State.SCHEDULED), frozenset({SYSTEM})),
    "complete": (_states(State.SCHEDULED), frozenset({SYSTEM})),
    "decline": (_states(State.SUBMITTED, State.TRIAGED, State.OFFERED), frozenset({RECEIVING})),
    "cancel": (
        _states(State.DRAFT, State.SUBMITTED, State.TRIAGED, State.OFFERED, State.SCHEDULED),
        frozenset({REFERRING}),
    ),
    "expire": (_states(State.SUBMITTED, State.TRIAGED, State.OFFERED), frozenset({SYSTEM})),
}

# Everyone who might try: the shared cast, the world's coordinator, and Tandem itself.
PEOPLE = [
    "therapist",
    "colleague",
    "prescriber",
    "unrelated",
    "outsider",
    "admin",
    "group_admin",
    "patient_user",
    "coordinator",
    "system",
]
PRACTICE_STAFF = {"therapist", "colleague", "admin"}
PRACTICE_THERAPISTS = {"therapist", "colleague"}
GROUP_OVERSIGHT = {"coordinator", "group_admin"}

ONLY = re.compile(r"Only .+ can do that\.")


@pytest.fixture
def world(cast: Cast) -> Iterator[World]:
    with time_machine.travel(NOW, tick=False):
        yield build(cast)


def person(world: World, who: str) -> User | None:
    if who == "system":
        return None
    if who == "coordinator":
        return world.coordinator
    user = getattr(world.cast, who)
    assert isinstance(user, User)
    return user


def expected_sides(who: str, status: str, therapists_may_book: bool) -> frozenset[str]:
    """The sides each person acts on, written out by hand."""
    if who == "system":
        return frozenset({SYSTEM})
    sides = set()
    if who in PRACTICE_STAFF:
        sides.add(REFERRING)
    if status != State.DRAFT:
        if who in GROUP_OVERSIGHT:
            sides.add(RECEIVING)
        if therapists_may_book and who in PRACTICE_THERAPISTS:
            sides.add(BOOKING)
    return frozenset(sides)


def sees(who: str, status: str) -> bool:
    """Whether this person may open the referral at all."""
    return who in PRACTICE_STAFF or (who in GROUP_OVERSIGHT and status != State.DRAFT)


def in_state(world: World, status: str) -> Referral:
    referral = draft(world)
    Referral.objects.filter(pk=referral.pk).update(status=status)
    referral.refresh_from_db()
    return referral


def test_the_expected_table_names_every_transition_the_code_has() -> None:
    assert set(EXPECTED) == set(services.TRANSITIONS)
    for name, (sources, sides) in EXPECTED.items():
        t = services.TRANSITIONS[name]
        assert (set(t.sources), set(t.sides)) == (set(sources), set(sides)), name
    # Every state is a source of something, or an ending with no way out.
    ended = {State.COMPLETED, State.DECLINED, State.CANCELLED, State.EXPIRED}
    for status in State.values:
        leaving = [n for n, (sources, _) in EXPECTED.items() if status in sources]
        assert bool(leaving) == (status not in ended), status


@pytest.mark.django_db
@pytest.mark.parametrize("may_book", [False, True], ids=["group-books", "therapists-may-book"])
@pytest.mark.parametrize("status", State.values)
def test_every_transition_from_every_state_by_everyone(world: World, status: str, may_book: bool) -> None:
    if may_book:
        ReferralSettings.objects.create(organization=world.cast.northstar, therapists_may_book=True)
    referral = in_state(world, status)
    before = Referral.objects.filter(pk=referral.pk).values().get()
    wrong: list[str] = []
    tried = allowed_count = 0
    for who in PEOPLE:
        user = person(world, who)
        sides = frozenset({SYSTEM}) if user is None else policy.referral_sides(user, referral)
        assert sides == expected_sides(who, status, may_book), f"{who} on a {status} referral"
        if user is not None:
            if sees(who, status):
                assert policy.get_referral_for(user, referral.public_id).pk == referral.pk, who
            else:
                with pytest.raises(Http404):
                    policy.get_referral_for(user, referral.public_id)
        for name, (sources, allowed_sides) in EXPECTED.items():
            tried += 1
            may = status in sources and bool(sides & allowed_sides)
            if services.allowed(name, status, sides) is not may:
                wrong.append(f"allowed({name}) for {who} from {status} is not {may}")
            try:
                services.check_transition(referral, name, sides, "A reason for the record.")
            except services.TransitionRefused as exc:
                message = str(exc)
                if may:
                    wrong.append(f"{who} was refused {name} from {status}: {message}")
                elif status not in sources:
                    label = services.STATE_IN_A_SENTENCE[State(status)]
                    verb = services.TRANSITIONS[name].verb
                    if message != f"A referral that is {label} cannot be {verb}.":
                        wrong.append(f"{name} from {status} by {who}: unclear message {message!r}")
                elif not ONLY.fullmatch(message):
                    wrong.append(f"{name} from {status} by {who}: unclear message {message!r}")
            else:
                allowed_count += 1
                if not may:
                    wrong.append(f"{who} was let {name} from {status}")
    assert wrong == []
    assert tried == len(PEOPLE) * len(services.TRANSITIONS)
    # Tandem itself may always do something from a waiting or scheduled referral, and
    # the table is not all refusals.
    if status in (State.SUBMITTED, State.TRIAGED, State.OFFERED, State.SCHEDULED, State.DRAFT):
        assert allowed_count > 0
    # Checking changes nothing.
    assert Referral.objects.filter(pk=referral.pk).values().get() == before


@pytest.mark.django_db
def test_the_sides_of_each_person_spelled_out(world: World) -> None:
    cast = world.cast
    drafted = draft(world)
    sent = submitted(world, cast.patient)
    sides = policy.referral_sides
    for user in (cast.therapist, cast.colleague, cast.admin):
        assert sides(user, drafted) == {REFERRING}
        assert sides(user, sent) == {REFERRING}
    for user in (world.coordinator, cast.group_admin):
        assert sides(user, drafted) == frozenset()
        assert sides(user, sent) == {RECEIVING}
    for user in (cast.prescriber, cast.unrelated, cast.outsider, cast.patient_user):
        assert sides(user, drafted) == frozenset()
        assert sides(user, sent) == frozenset()
    for referral in (drafted, sent):
        with pytest.raises(Http404):
            policy.get_referral_for(cast.outsider, referral.public_id)
        assert not policy.visible_referrals(cast.outsider).filter(pk=referral.pk).exists()


# --- Helpers for the scenarios -------------------------------------------------------------------


def snapshot(referral: Referral) -> dict[str, Any]:
    """Everything a transition could write."""
    return {
        "referral": Referral.objects.filter(pk=referral.pk).values().get(),
        "events": list(ReferralEvent.objects.order_by("pk").values_list("pk", flat=True)),
        "audit": AuditEvent.objects.count(),
        "offers": list(Offer.objects.order_by("pk").values_list("pk", "status")),
        "appointments": list(Appointment.objects.order_by("pk").values_list("pk", "status")),
        "notifications": Notification.objects.count(),
        "care_team": CareTeamMember.objects.count(),
    }


def refused(referral: Referral, match: str, call: Callable[[], object]) -> str:
    before = snapshot(referral)
    with pytest.raises(services.TransitionRefused, match=match) as info:
        call()
    assert snapshot(referral) == before
    return str(info.value)


def moved(referral: Referral, name: str, *, frm: str, to: str, actor: User | None) -> Referral:
    """The referral moved, with its history row and audit event."""
    referral.refresh_from_db()
    assert referral.status == to
    event = referral.events.last()
    assert event is not None
    actor_id = actor.pk if actor is not None else None
    assert (event.transition, event.from_status, event.to_status, event.actor_id) == (name, frm, to, actor_id)
    transitions = [
        a
        for a in AuditEvent.objects.filter(target_type="referral", target_id=str(referral.public_id)).order_by("seq")
        if "transition" in a.detail
    ]
    assert transitions, "no audit event"
    last = transitions[-1]
    assert (last.detail["transition"], last.detail["from"], last.detail["to"]) == (name, frm, to)
    assert last.actor_id == actor_id
    assert last.patient_id == referral.patient.public_id
    assert last.action == (Action.CREATE if name == "submit" else Action.UPDATE)
    return referral


def last_note(referral: Referral) -> str:
    event = referral.events.last()
    assert event is not None
    return event.note


def offered(world: World) -> tuple[Referral, Offer]:
    referral = triaged(world)
    choice = services.current_ranking(referral).offers[0]
    row = services.offer(referral=referral, choice=choice, meta=META, actor=world.coordinator)
    referral.refresh_from_db()
    return referral, row


FIRST_SLOT = datetime.datetime(2026, 6, 8, 16, tzinfo=UTC)  # 10:00 in Denver: an hour after NOW


# --- submit --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "colleague", "admin"])
def test_submit_by_the_referring_practice(world: World, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = draft(world)
    services.submit(actor=actor, referral=referral, meta=META)
    referral = moved(referral, "submit", frm=State.DRAFT, to=State.SUBMITTED, actor=actor)
    assert referral.submitted_at == NOW
    assert referral.triage_due_at is not None and referral.visit_due_at == NOW + datetime.timedelta(days=14)
    assert Notification.objects.filter(recipient=world.coordinator, text="A new referral is waiting for triage.")


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "group_admin", "prescriber", "outsider"])
def test_submit_refused_for_anyone_else(world: World, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = draft(world)
    refused(
        referral,
        "^Only the referring practice can do that.$",
        lambda: services.submit(actor=actor, referral=referral, meta=META),
    )


@pytest.mark.django_db
def test_submit_refused_without_an_authorization_for_northstar(cast: Cast) -> None:
    with time_machine.travel(NOW, tick=False):
        world = build(cast, consent=False)
        referral = draft(world)
        message = refused(
            referral,
            "has not authorized sharing with Northstar Psychiatry",
            lambda: services.submit(actor=cast.therapist, referral=referral, meta=META),
        )
    assert "Have the patient sign one, then submit." in message
    referral.refresh_from_db()
    assert referral.status == State.DRAFT and referral.submitted_at is None
    assert not Notification.objects.filter(recipient=world.coordinator).exists()
    assert not policy.visible_referrals(world.coordinator).filter(pk=referral.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   "])
def test_submit_refused_without_a_reason(world: World, reason: str) -> None:
    referral = draft(world, reason=reason)
    refused(
        referral,
        "^Give the reason for the referral.$",
        lambda: services.submit(actor=world.cast.therapist, referral=referral, meta=META),
    )
    referral.refresh_from_db()
    assert referral.status == State.DRAFT
    assert not Notification.objects.filter(recipient=world.coordinator).exists()


@pytest.mark.django_db
def test_a_sent_referral_cannot_be_sent_again(world: World) -> None:
    referral = submitted(world)
    refused(
        referral,
        "^A referral that is submitted cannot be submitted.$",
        lambda: services.submit(actor=world.cast.therapist, referral=referral, meta=META),
    )


# --- triage --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "group_admin"])
def test_triage_by_the_group(world: World, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = submitted(world)
    services.triage(actor=actor, referral=referral, meta=META)
    referral = moved(referral, "triage", frm=State.SUBMITTED, to=State.TRIAGED, actor=actor)
    assert referral.triaged_at == NOW
    assert referral.waitlisted_at is None  # Priya has room


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "admin", "prescriber"])
def test_triage_refused_for_anyone_else(world: World, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = submitted(world)
    refused(
        referral,
        "^Only the psychiatric group's coordinators and admins can do that.$",
        lambda: services.triage(actor=actor, referral=referral, meta=META),
    )


@pytest.mark.django_db
def test_triage_with_a_new_urgency_recomputes_the_time_limits_from_submission(world: World) -> None:
    referral = submitted(world)
    # Routine: triage within 3 business days, first visit within 14 days (09:00 in Denver).
    assert referral.triage_due_at == datetime.datetime(2026, 6, 11, 15, tzinfo=UTC)
    assert referral.visit_due_at == NOW + datetime.timedelta(days=14)
    with time_machine.travel(NOW + datetime.timedelta(hours=5), tick=False):
        services.triage(actor=world.coordinator, referral=referral, meta=META, urgency=Urgency.URGENT)
    referral = moved(referral, "triage", frm=State.SUBMITTED, to=State.TRIAGED, actor=world.coordinator)
    assert referral.urgency == Urgency.URGENT
    # Still counted from submission, not from triage.
    assert referral.triage_due_at == datetime.datetime(2026, 6, 9, 15, tzinfo=UTC)
    assert referral.visit_due_at == NOW + datetime.timedelta(days=3)
    [audit] = [
        a
        for a in AuditEvent.objects.filter(target_type="referral", target_id=str(referral.public_id))
        if a.detail.get("transition") == "triage"
    ]
    assert audit.detail["urgency_changed"] is True


@pytest.mark.django_db
def test_triage_keeping_the_urgency_keeps_the_time_limits(world: World) -> None:
    referral = submitted(world)
    due = (referral.triage_due_at, referral.visit_due_at)
    services.triage(actor=world.coordinator, referral=referral, meta=META, urgency=Urgency.ROUTINE)
    referral.refresh_from_db()
    assert (referral.triage_due_at, referral.visit_due_at) == due


@pytest.mark.django_db
def test_triage_refused_with_an_unknown_urgency(world: World) -> None:
    referral = submitted(world)
    refused(
        referral,
        "^Choose routine, soon or urgent.$",
        lambda: services.triage(actor=world.coordinator, referral=referral, meta=META, urgency="whenever"),
    )


# --- offer ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_offer_by_the_coordinator(world: World) -> None:
    referral = triaged(world)
    ranking = services.current_ranking(referral)
    row = services.offer(referral=referral, choice=ranking.offers[0], meta=META, actor=world.coordinator)
    moved(referral, "offer", frm=State.TRIAGED, to=State.OFFERED, actor=world.coordinator)
    assert row.status == OfferStatus.PENDING and not row.automatic
    assert (row.prescriber_id, row.starts_at) == (world.psychiatrist.pk, FIRST_SLOT)
    assert row.expires_at == NOW + datetime.timedelta(hours=24)


@pytest.mark.django_db
def test_offer_by_tandem_itself(world: World) -> None:
    referral = triaged(world)
    ranking = services.current_ranking(referral)
    row = services.offer(referral=referral, choice=ranking.offers[0], meta=META)
    moved(referral, "offer", frm=State.TRIAGED, to=State.OFFERED, actor=None)
    assert row.automatic


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "admin", "prescriber"])
def test_offer_refused_for_anyone_else(world: World, who: str) -> None:
    actor = person(world, who)
    referral = triaged(world)
    choice = services.current_ranking(referral).offers[0]
    refused(
        referral,
        "^Only .+ can do that.$",
        lambda: services.offer(referral=referral, choice=choice, meta=META, actor=actor),
    )


@pytest.mark.django_db
def test_an_offered_referral_cannot_be_offered_again(world: World) -> None:
    referral, _row = offered(world)
    ranking = services.current_ranking(referral)
    refused(
        referral,
        "^A referral that is holding an offer cannot be offered an opening.$",
        lambda: services.offer(referral=referral, choice=ranking.offers[0], meta=META, actor=world.coordinator),
    )


# --- book ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_book_by_the_coordinator(world: World) -> None:
    referral = triaged(world)
    best = services.current_ranking(referral).offers[0]
    services.book(
        actor=world.coordinator,
        referral=referral,
        prescriber_id=best.candidate.clinician_id,
        starts_at=best.starts_at,
        meta=META,
    )
    referral = moved(referral, "book", frm=State.TRIAGED, to=State.SCHEDULED, actor=world.coordinator)
    assert referral.appointment is not None
    assert referral.appointment.status == "booked" and referral.appointment.starts_at == FIRST_SLOT
    assert referral.appointment.patient_id == world.wa_patient.pk
    assert (referral.prescriber, referral.group) == (world.psychiatrist, world.cast.northstar)
    assert referral.scheduled_at == NOW
    assert Offer.objects.get(referral=referral).status == OfferStatus.ACCEPTED
    assert CareTeamMember.objects.filter(patient=world.wa_patient, user=world.psychiatrist).exists()


@pytest.mark.django_db
def test_book_an_offered_referral_accepts_the_offer(world: World) -> None:
    referral, row = offered(world)
    services.book(
        actor=world.coordinator, referral=referral, prescriber_id=row.prescriber_id, starts_at=row.starts_at, meta=META
    )
    moved(referral, "book", frm=State.OFFERED, to=State.SCHEDULED, actor=world.coordinator)
    row.refresh_from_db()
    assert row.status == OfferStatus.ACCEPTED and row.decided_by == world.coordinator


@pytest.mark.django_db
def test_book_refused_for_the_therapist_unless_the_group_allows_it(world: World) -> None:
    therapist = world.cast.therapist
    referral = triaged(world)
    best = services.current_ranking(referral).offers[0]

    def book(actor: User) -> Referral:
        return services.book(
            actor=actor,
            referral=referral,
            prescriber_id=best.candidate.clinician_id,
            starts_at=best.starts_at,
            meta=META,
        )

    refused(referral, "^Only .+ can do that.$", lambda: book(therapist))
    ReferralSettings.objects.create(organization=world.cast.northstar, therapists_may_book=True)
    # A practice admin is not a therapist: still the group's to book.
    refused(referral, "^Only .+ can do that.$", lambda: book(world.cast.admin))
    book(therapist)
    referral = moved(referral, "book", frm=State.TRIAGED, to=State.SCHEDULED, actor=therapist)
    assert referral.appointment is not None and referral.appointment.status == "booked"


@pytest.mark.django_db
def test_book_refused_for_a_prescriber_not_licensed_where_the_patient_is(world: World) -> None:
    referral = triaged(world)
    best = services.current_ranking(referral).offers[0]
    message = refused(
        referral,
        "not licensed in WA",
        lambda: services.book(
            actor=world.coordinator, referral=referral, prescriber_id=world.np.pk, starts_at=best.starts_at, meta=META
        ),
    )
    assert message.startswith(f"{world.np.display_name} cannot take this referral")
    referral.refresh_from_db()
    assert referral.status == State.TRIAGED and referral.appointment is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "starts_at",
    [
        NOW,  # within hours, but sooner than an evaluation is offered
        datetime.datetime(2026, 6, 13, 18, tzinfo=UTC),  # a Saturday
        FIRST_SLOT + datetime.timedelta(minutes=7),  # off the grid
    ],
    ids=["too-soon", "weekend", "off-grid"],
)
def test_book_refused_for_a_slot_not_offered(world: World, starts_at: datetime.datetime) -> None:
    referral = triaged(world)
    refused(
        referral,
        "no longer available",
        lambda: services.book(
            actor=world.coordinator,
            referral=referral,
            prescriber_id=world.psychiatrist.pk,
            starts_at=starts_at,
            meta=META,
        ),
    )


def _someone_else_books(world: World, starts_at: datetime.datetime) -> Appointment:
    return scheduling.book(
        actor=world.coordinator,
        appointment_type=services.evaluation_type(world.cast.northstar),
        clinicians=[world.psychiatrist],
        patient=world.cast.other_patient,
        starts_at=starts_at,
        modality=Modality.VIDEO_HOME,
        expected_state="OR",
        meta=META,
    )


@pytest.mark.django_db
def test_book_refused_when_the_slot_was_taken_after_ranking(world: World) -> None:
    referral = triaged(world)
    best = services.current_ranking(referral).offers[0]
    other = _someone_else_books(world, best.starts_at)
    refused(
        referral,
        "no longer available|just taken",
        lambda: services.book(
            actor=world.coordinator,
            referral=referral,
            prescriber_id=best.candidate.clinician_id,
            starts_at=best.starts_at,
            meta=META,
        ),
    )
    referral.refresh_from_db()
    assert referral.status == State.TRIAGED and referral.appointment is None
    assert not Appointment.objects.filter(patient=world.wa_patient).exists()
    other.refresh_from_db()
    assert other.status == "booked"


@pytest.mark.django_db
def test_book_refused_when_the_slot_is_taken_while_booking(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: the calendar ``book`` reads still shows the slot, and another
    booking lands before the insert."""
    referral = triaged(world)
    stale = services.current_ranking(referral)
    best = stale.offers[0]
    other = _someone_else_books(world, best.starts_at)
    monkeypatch.setattr(services, "match", lambda *args, **kwargs: stale)
    refused(
        referral,
        "^That time was just taken. Choose another slot.$",
        lambda: services.book(
            actor=world.coordinator,
            referral=referral,
            prescriber_id=best.candidate.clinician_id,
            starts_at=best.starts_at,
            meta=META,
        ),
    )
    referral.refresh_from_db()
    assert referral.status == State.TRIAGED and referral.appointment is None
    assert not CareTeamMember.objects.filter(patient=world.wa_patient, user=world.psychiatrist).exists()
    assert not Offer.objects.filter(referral=referral).exists()
    other.refresh_from_db()
    assert other.status == "booked"


# --- release -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "coordinator"])
def test_release_with_a_reason(world: World, who: str) -> None:
    actor = person(world, who)
    referral, row = offered(world)
    services.release(actor=actor, referral=referral, reason="The patient works that morning.", meta=META)
    referral = moved(referral, "release", frm=State.OFFERED, to=State.TRIAGED, actor=actor)
    assert referral.waitlisted_at == NOW
    assert last_note(referral) == "The patient works that morning."
    row.refresh_from_db()
    assert row.status == OfferStatus.DECLINED
    # That opening is not offered to this referral again.
    again = services.current_ranking(referral)
    assert (row.prescriber_id, row.starts_at) not in {(o.candidate.clinician_id, o.starts_at) for o in again.offers}


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "  "])
def test_release_needs_a_reason(world: World, reason: str) -> None:
    referral, _row = offered(world)
    for actor in (world.cast.therapist, world.coordinator):

        def release(actor: User = actor) -> Referral:
            return services.release(actor=actor, referral=referral, reason=reason, meta=META)

        refused(referral, "^Give a reason.$", release)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["prescriber", "outsider"])
def test_release_refused_for_anyone_else(world: World, who: str) -> None:
    actor = person(world, who)
    referral, _row = offered(world)
    refused(
        referral,
        "^Only .+ can do that.$",
        lambda: services.release(actor=actor, referral=referral, reason="No.", meta=META),
    )


# --- decline -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("source", [State.SUBMITTED, State.TRIAGED, State.OFFERED])
def test_decline_by_the_coordinator(world: World, source: str) -> None:
    if source == State.SUBMITTED:
        referral = submitted(world)
    elif source == State.TRIAGED:
        referral = triaged(world)
    else:
        referral, _row = offered(world)
    services.decline(actor=world.coordinator, referral=referral, reason="Needs inpatient care.", meta=META)
    referral = moved(referral, "decline", frm=source, to=State.DECLINED, actor=world.coordinator)
    assert referral.ended_at == NOW and referral.end_reason == "Needs inpatient care."
    assert not Offer.objects.filter(referral=referral, status=OfferStatus.PENDING).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "colleague", "admin"])
def test_decline_refused_for_the_referring_practice(world: World, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = triaged(world)
    refused(
        referral,
        "^Only the psychiatric group's coordinators and admins can do that.$",
        lambda: services.decline(actor=actor, referral=referral, reason="Changed our mind.", meta=META),
    )


# --- cancel --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("source", [State.DRAFT, State.SUBMITTED, State.TRIAGED, State.OFFERED])
def test_cancel_by_the_therapist(world: World, source: str) -> None:
    therapist = world.cast.therapist
    if source == State.DRAFT:
        referral = draft(world)
    elif source == State.SUBMITTED:
        referral = submitted(world)
    elif source == State.TRIAGED:
        referral = triaged(world)
    else:
        referral, _row = offered(world)
    services.cancel(actor=therapist, referral=referral, reason="The patient moved away.", meta=META)
    referral = moved(referral, "cancel", frm=source, to=State.CANCELLED, actor=therapist)
    assert referral.ended_at == NOW and referral.end_reason == "The patient moved away."
    assert not Offer.objects.filter(referral=referral, status=OfferStatus.PENDING).exists()


@pytest.mark.django_db
def test_cancelling_a_scheduled_referral_cancels_its_appointment(world: World) -> None:
    therapist = world.cast.therapist
    referral = scheduled(world)
    appointment = referral.appointment
    assert appointment is not None
    services.cancel(actor=therapist, referral=referral, reason="The patient found a psychiatrist.", meta=META)
    referral = moved(referral, "cancel", frm=State.SCHEDULED, to=State.CANCELLED, actor=therapist)
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    # The appointment's cancellation does not put the cancelled referral back in line.
    assert list(referral.events.values_list("transition", flat=True)) == ["submit", "triage", "book", "cancel"]
    assert referral.waitlisted_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coordinator", "group_admin", "prescriber"])
def test_cancel_refused_for_anyone_else(world: World, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = triaged(world)
    refused(
        referral,
        "^Only the referring practice can do that.$",
        lambda: services.cancel(actor=actor, referral=referral, reason="Not ours to keep.", meta=META),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "who"), [("decline", "coordinator"), ("cancel", "therapist")])
def test_ending_needs_a_reason(world: World, name: str, who: str) -> None:
    actor = person(world, who)
    assert actor is not None
    referral = submitted(world)
    end = services.decline if name == "decline" else services.cancel
    refused(referral, "^Give a reason.$", lambda: end(actor=actor, referral=referral, reason=" ", meta=META))


# --- expire --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("source", [State.SUBMITTED, State.TRIAGED, State.OFFERED])
def test_expire_by_tandem_itself(world: World, source: str) -> None:
    if source == State.SUBMITTED:
        referral = submitted(world)
    elif source == State.TRIAGED:
        referral = triaged(world)
    else:
        referral, _row = offered(world)
    services.expire(referral=referral, reason="No evaluation was booked within 90 days.")
    referral = moved(referral, "expire", frm=source, to=State.EXPIRED, actor=None)
    assert referral.ended_at == NOW and referral.end_reason == "No evaluation was booked within 90 days."
    assert not Offer.objects.filter(referral=referral, status=OfferStatus.PENDING).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["therapist", "coordinator", "group_admin"])
def test_expire_refused_for_a_person(world: World, who: str) -> None:
    actor = person(world, who)
    referral = triaged(world)
    refused(
        referral,
        "^Only Tandem itself can do that.$",
        lambda: services._end("expire", actor=actor, referral=referral, reason="Too slow.", meta=META),
    )


# --- complete and reopen, following the appointment ----------------------------------------------


@pytest.mark.django_db
def test_completing_the_evaluation_completes_the_referral(world: World) -> None:
    referral = scheduled(world)
    assert referral.appointment is not None
    later = FIRST_SLOT + datetime.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        scheduling.complete(actor=world.psychiatrist, appointment=referral.appointment, meta=META)
    referral = moved(referral, "complete", frm=State.SCHEDULED, to=State.COMPLETED, actor=None)
    assert referral.completed_at == later


@pytest.mark.django_db
@pytest.mark.parametrize("what", ["cancelled", "missed"])
def test_a_cancelled_or_missed_evaluation_puts_the_referral_back_in_line(world: World, what: str) -> None:
    referral = scheduled(world)
    appointment = referral.appointment
    assert appointment is not None
    later = FIRST_SLOT + datetime.timedelta(minutes=20)
    with time_machine.travel(later, tick=False):
        if what == "cancelled":
            scheduling.cancel(actor=world.coordinator, appointment=appointment, reason="Prescriber ill.", meta=META)
        else:
            scheduling.mark_no_show(actor=world.psychiatrist, appointment=appointment, meta=META)
    referral = moved(referral, "reopen", frm=State.SCHEDULED, to=State.TRIAGED, actor=None)
    assert referral.waitlisted_at == later
    assert referral.appointment is None
    assert last_note(referral) == f"The evaluation was {what}."
    appointment.refresh_from_db()
    assert appointment.status == ("cancelled" if what == "cancelled" else "no_show")


@pytest.mark.django_db
def test_the_appointment_of_an_ended_referral_moves_nothing(world: World) -> None:
    referral = scheduled(world)
    appointment = referral.appointment
    assert appointment is not None
    services.cancel(actor=world.cast.therapist, referral=referral, reason="Not needed.", meta=META)
    before = snapshot(referral)["events"]
    with (
        time_machine.travel(FIRST_SLOT + datetime.timedelta(hours=1), tick=False),
        pytest.raises(scheduling.BookingRefused),
    ):
        scheduling.complete(actor=world.psychiatrist, appointment=appointment, meta=META)
    referral.refresh_from_db()
    assert referral.status == State.CANCELLED
    assert snapshot(referral)["events"] == before
