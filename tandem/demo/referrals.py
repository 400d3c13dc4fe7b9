"""The demo's referrals: one in every state, and the first referrals that
brought Riverbend's shared patients to Northstar.

* The referrals in flight (a draft, one just sent, one overdue and escalated,
  one triaged, one on the waitlist, one with an opening offered, two booked,
  one seen last week, and one each declined, cancelled and expired) go through
  the real services, so their history, audit events, notifications, offers and
  appointments are the ones the app writes. The services stamp the present
  moment; afterwards each referral's clock is set back to the days it moved on:
  its history, offers, appointment and notifications. Never the audit trail,
  which refuses changes: it keeps the moment the demo was built.
* The first referrals, one for each patient who came to Northstar through one,
  are written as rows: seen on the day the prescriber joined the patient's care
  team, with the completed evaluation on the prescriber's calendar at a time
  that was free. They give the access measures months to measure.

Only patients who already have a Northstar prescriber have an authorization in
the demo, so the referrals in flight ask a new question of the group (a
re-evaluation, an ADHD assessment), and every booking is with the patient's own
prescriber: the care teams stay as the demo built them.

Every patient, clinician and reason here is invented.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.consent.models import Authorization
from tandem.consent.models import Status as ConsentStatus
from tandem.messaging.models import Notification
from tandem.organizations.models import Membership, Organization, Role
from tandem.patients.models import CareTeamMember, CareTeamRole, Language, Patient, active_on
from tandem.referrals import matching, services
from tandem.referrals.models import (
    Escalation,
    Offer,
    OfferStatus,
    Referral,
    ReferralEvent,
    State,
    Urgency,
    VisitSetting,
)
from tandem.scheduling import services as scheduling
from tandem.scheduling.models import Appointment, Modality, Participant, Status

META = audit.SYSTEM
PAD = datetime.timedelta(minutes=10)  # the demo calendars' buffer between visits


@dataclass(frozen=True)
class Story:
    reason: str
    question: str


# The referrals in flight, by the state they end in.
DRAFT = Story(
    "Anxiety with panic attacks on workday mornings",
    "GAD-7 15 at intake and still high after six sessions of CBT. Would an SSRI help, and is anything "
    "reasonable for the mornings while it starts to work?",
)
SENT = Story(
    "Low mood and early waking since a job loss in the autumn",
    "PHQ-9 went from 12 to 16 over six weeks of therapy. Is a medication trial worth it, and which would "
    "not make sleep worse?",
)
URGENT = Story(
    "Sleeping three hours a night, racing thoughts and unplanned spending for a week",
    "Family history of bipolar disorder. Could this be hypomania on the current antidepressant, and should "
    "it change now? Safety plan reviewed; no thoughts of self-harm.",
)
TRIAGED = Story(
    "Evaluation for ADHD: lifelong trouble keeping focus, now affecting work",
    "ASRS screener positive (5 of 6 part A items). Please assess for ADHD, and whether treatment fits "
    "alongside the current anxiety care.",
)
WAITLISTED = Story(
    "Depression that has not lifted after six months of weekly therapy",
    "PHQ-9 still 16. Would a medication change help? Takes several heart medications from primary care; "
    "please check for interactions.",
)
OFFERED = Story(
    "Panic attacks back after a year without them",
    "Three attacks this month, one at work. Restart medication, or change the plan?",
)
SPANISH = Story(
    "Depression and worry; the patient would like the visit in Spanish",
    "PHQ-9 14, GAD-7 12. Re-evaluation for medication. More comfortable speaking Spanish about feelings.",
)
NIGHT_SHIFTS = Story(
    "Poor sleep and irritability since starting night shifts",
    "Sleeping in two short blocks; ISI 19. Would medication for sleep be appropriate, and which is safe "
    "with shift work?",
)
SEEN = Story(
    "Checking rituals taking two hours a day",
    "Y-BOCS 22. Is an SSRI trial appropriate alongside exposure work in therapy?",
)
DECLINED = Story(
    "Restrictive eating and weight loss over three months",
    "Down 8 kg since the summer; skipping lunch most days. Medication options, or a higher level of care?",
)
CANCELLED = Story(
    "Ongoing low mood; asking about medication",
    "PHQ-9 11, steady for two months. The patient asked whether an antidepressant might help.",
)
EXPIRED = Story(
    "Depression and anxiety; would like to try medication",
    "PHQ-9 15, GAD-7 13, no medication tried before. Is an SSRI reasonable?",
)
DECLINE_REASON = (
    "Needs an eating-disorder program with in-person medical monitoring, which Northstar does not offer. "
    "We sent the practice a list of programs near the patient."
)
CANCEL_REASON = "The patient decided to give therapy alone a few more weeks first. We will refer again if needed."
RAN_OUT = "The offer ran out before anyone accepted it."  # as the sweep says it

# The first referrals. The demo's showcase patients have their own, matching their charts.
FIRST = [
    Story(
        "Depression not lifting with therapy alone",
        "PHQ-9 above 15 for two months despite weekly CBT. Would medication help?",
    ),
    Story(
        "Generalized anxiety with poor sleep",
        "GAD-7 14; trouble falling asleep most nights. Options that do not cause dependence?",
    ),
    Story(
        "Panic attacks several times a week",
        "Avoiding the bus and the grocery store. Is an SSRI appropriate, and anything for acute attacks?",
    ),
    Story(
        "Possible ADHD, long-standing",
        "ASRS screener positive; trouble finishing work tasks since school. Please evaluate.",
    ),
    Story(
        "Low mood after the birth of a child",
        "EPDS 15, breastfeeding. Medication options compatible with nursing?",
    ),
    Story(
        "Nightmares and startle after a car accident",
        "PCL-5 44. Medication for nightmares alongside trauma-focused therapy?",
    ),
    Story(
        "Mood swings with nights of little sleep",
        "Family history of bipolar disorder. Please assess before any antidepressant is started.",
    ),
    Story(
        "Obsessive thoughts and checking",
        "Y-BOCS 24. Would an SSRI help alongside exposure and response prevention?",
    ),
    Story(
        "Review of a long-standing antidepressant",
        "Same medication for eight years, from a doctor who has retired. Is it still the right one?",
    ),
    Story(
        "Low mood and irritability in the week before each period",
        "Tracked over three cycles. Treatment options?",
    ),
    Story(
        "Social anxiety keeping the patient from work",
        "SPIN 48; has turned down two interviews. Medication to support exposure work?",
    ),
    Story(
        "Insomnia with worry",
        "Sleeping about five hours; racing thoughts at night. Sleep hygiene has not helped. Other options?",
    ),
]
SHOWCASE_FIRST = {
    "showcase": Story(
        "Recurrent depression not lifting with weekly CBT",
        "Third episode; partial response to fluoxetine in 2019, stopped for stomach upset. PHQ-9 17. "
        "Would medication help now?",
    ),
    "revoked": Story(
        "Depression with insomnia on rotating night shifts",
        "PHQ-9 14; sleeping in two blocks. No medication tried before. Options that suit shift work?",
    ),
    "np_showcase": Story(
        "Anxiety before meetings at a new job",
        "GAD-7 14 at intake; wakes around 4 a.m. twice a week. Is medication worth trying alongside therapy?",
    ),
}

# Days from submission to the first visit, and hours to triage and then to
# booking, by urgency: mostly within Tandem's promises, sometimes not.
FIRST_VISIT_DAYS = {Urgency.URGENT: (1.2, 4.5), Urgency.SOON: (3.5, 10.0), Urgency.ROUTINE: (6.0, 22.0)}
TRIAGE_HOURS = {Urgency.URGENT: (1.0, 7.0), Urgency.SOON: (3.0, 30.0), Urgency.ROUTINE: (6.0, 72.0)}
BOOKING_HOURS = {Urgency.URGENT: (0.2, 3.0), Urgency.SOON: (0.5, 20.0), Urgency.ROUTINE: (1.0, 40.0)}


def remove_referrals(orgs: Iterable[Organization] | QuerySet[Organization]) -> None:
    """The demo's referrals, with their history, offers and escalations: they
    hold on to patients and people, so the demo's reset removes them first."""
    Referral.objects.filter(Q(practice__in=orgs) | Q(group__in=orgs)).delete()


@dataclass
class Candidate:
    patient: Patient
    index: int  # the patient's place in the demo's list, as in seed.py
    therapist: User
    therapist_since: datetime.date
    prescriber: User | None
    prescriber_since: datetime.date | None
    may_refer: bool  # an authorization in force lets Northstar receive a referral now
    ever_signed: bool
    awaiting_signature: bool
    takers: frozenset[int] = frozenset()  # prescribers with an opening for this patient now


def _at(day: datetime.date, hour: int, minute: int, zone: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(zone))


def _weekdays_back(day: datetime.date, n: int) -> datetime.date:
    while n > 0:
        day -= datetime.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _office_hours(at: datetime.datetime, zone: str, opens: int, closes: int, *, forward: bool) -> datetime.datetime:
    """``at`` if it falls in weekday office hours where ``zone`` is. Otherwise,
    forward: first thing on the next working morning; backward: earlier on the
    same working day or on the one before, at an hour spread over the day."""
    local = at.astimezone(zoneinfo.ZoneInfo(zone))
    day, clock = local.date(), local.time()
    if day.weekday() < 5 and datetime.time(opens) <= clock < datetime.time(closes):
        return at
    if forward:
        if day.weekday() >= 5 or clock >= datetime.time(closes):
            day += datetime.timedelta(days=1)
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        return _at(day, opens, 10 + local.minute % 40, zone)
    if day.weekday() >= 5 or clock < datetime.time(opens):
        day -= datetime.timedelta(days=1)
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    return _at(day, opens + local.hour % (closes - opens), local.minute, zone)


class DemoReferrals:
    def __init__(self, orgs: dict[str, Organization], users: dict[str, User]) -> None:
        self.riverbend, self.northstar = orgs["riverbend"], orgs["northstar"]
        self.maya = users["therapist@riverbend.demo"]
        self.samuel = users["therapist2@riverbend.demo"]
        self.priya = users["prescriber@northstar.demo"]
        self.jordan = users["np@northstar.demo"]
        self.alex = users["coordinator@northstar.demo"]
        self.started = self.now = timezone.now()
        self.practice_zone, self.group_zone = self.riverbend.timezone, self.northstar.timezone
        self.today = self.riverbend.local_date(self.now)
        self.groups = policy.receiving_groups(self.riverbend)
        self.settings = services.settings_for(self.northstar)
        self.evaluation = services.evaluation_type(self.northstar)
        self.length = datetime.timedelta(minutes=self.evaluation.minutes)
        self.candidates = self._candidates()
        # The showcase patients keep the stories their charts tell.
        from tandem.demo import seed  # seed imports this module

        showcase = {seed.SHOWCASE, seed.REVOKED, seed.PART2, seed.NP_SHOWCASE}
        self.used: set[int] = {c.patient.pk for c in self.candidates if c.index in showcase}

    # --- Who may be referred --------------------------------------------------------------

    def _candidates(self) -> list[Candidate]:
        patients = list(Patient.objects.filter(practice=self.riverbend).select_related("payer", "practice"))
        patients.sort(key=lambda p: p.mrn)
        team: dict[tuple[int, str], CareTeamMember] = {}
        for m in CareTeamMember.objects.filter(active_on(self.today), patient__in=patients).select_related("user"):
            team.setdefault((m.patient_id, m.role), m)
        signed = set(
            Authorization.objects.filter(patient__in=patients, signed_at__isnull=False).values_list(
                "patient_id", flat=True
            )
        )
        pending = set(
            Authorization.objects.filter(patient__in=patients, status=ConsentStatus.PENDING).values_list(
                "patient_id", flat=True
            )
        )
        cache: services.SlotCache = {}
        found = []
        for index, p in enumerate(patients):
            therapist = team.get((p.pk, CareTeamRole.PRIMARY_THERAPIST))
            if therapist is None:
                continue
            prescriber = team.get((p.pk, CareTeamRole.PRESCRIBER))
            sharing = policy.referral_sharing(p, self.northstar.pk, 0, self.now)
            c = Candidate(
                patient=p,
                index=index,
                therapist=therapist.user,
                therapist_since=therapist.starts_on,
                prescriber=prescriber.user if prescriber else None,
                prescriber_since=prescriber.starts_on if prescriber else None,
                may_refer=sharing.sees(InfoClass.DEMOGRAPHICS, p.practice_id),
                ever_signed=p.pk in signed,
                awaiting_signature=p.pk in pending,
            )
            if c.may_refer:
                probe = Referral(
                    patient=p,
                    practice=self.riverbend,
                    referred_by=c.therapist,
                    location_state=p.state,
                    payer=p.payer,
                    language=p.preferred_language,
                )
                ranking = services.match(probe, at=self.now, slot_cache=cache)
                c.takers = frozenset(o.candidate.clinician_id for o in ranking.offers)
            found.append(c)
        return found

    def pick(self, *tests: Callable[[Candidate], bool]) -> Candidate:
        """The first patient not used yet who passes the first test any passes."""
        for test in tests:
            for c in self.candidates:
                if c.patient.pk not in self.used and test(c):
                    self.used.add(c.patient.pk)
                    return c
        raise RuntimeError("No demo patient fits this referral.")

    @staticmethod
    def bookable(c: Candidate, prescriber: User | None = None) -> bool:
        """Referable, and the patient's own prescriber has an opening for them."""
        own = c.prescriber
        return (
            c.may_refer and own is not None and own.pk in c.takers and (prescriber is None or own.pk == prescriber.pk)
        )

    # --- Times ----------------------------------------------------------------------------

    def practice_time(self, weekdays_back: int, hour: int, minute: int) -> datetime.datetime:
        return _at(_weekdays_back(self.today, weekdays_back), hour, minute, self.practice_zone)

    def group_time(self, weekdays_back: int, hour: int, minute: int) -> datetime.datetime:
        return _at(_weekdays_back(self.today, weekdays_back), hour, minute, self.group_zone)

    def retime(self, referral: Referral, times: Sequence[datetime.datetime], *, drafted: datetime.datetime) -> None:
        """Move the referral's first ``len(times)`` history rows to these times,
        and with them everything its transitions stamped: the referral's own
        dates and time limits, its offers, the appointment booked for it and the
        notifications they sent. Rows written after those transitions stay put."""
        events = list(ReferralEvent.objects.filter(referral=referral).order_by("id"))
        moves = [(e.at, times[i] if i < len(times) else e.at) for i, e in enumerate(events)]

        def after(at: datetime.datetime | None) -> datetime.datetime | None:
            """For what a transition wrote after its history row."""
            if at is None:
                return None
            new = at
            for old, moved in moves:
                if old <= at:
                    new = moved + (at - old)
            return new

        def before(at: datetime.datetime) -> datetime.datetime:
            """For what a transition wrote before its history row (the appointment it booked)."""
            for old, moved in moves:
                if at <= old:
                    return moved - (old - at)
            return at

        for event, (_old, moved) in zip(events, moves, strict=True):
            event.at = moved
        ReferralEvent.objects.bulk_update(events, ["at"])
        r = Referral.objects.get(pk=referral.pk)
        for name in ("updated_at", "submitted_at", "triaged_at", "scheduled_at", "completed_at", "ended_at"):
            setattr(r, name, after(getattr(r, name)))
        r.waitlisted_at = after(r.waitlisted_at)
        r.created_at = drafted
        if r.submitted_at is not None:
            r.triage_due_at, r.visit_due_at = services.due_times(r.urgency, r.submitted_at, self.groups)
        r.save()
        for offer in Offer.objects.filter(referral=r):
            created = after(offer.created_at)
            assert created is not None
            if offer.expires_at is not None:
                offer.expires_at = created + (offer.expires_at - offer.created_at)
            offer.created_at, offer.decided_at = created, after(offer.decided_at)
            offer.save(update_fields=["created_at", "expires_at", "decided_at"])
        notes = list(
            Notification.objects.filter(
                link=reverse("referrals:detail", args=[r.public_id]), created_at__gte=self.started
            )
        )
        for note in notes:
            note.created_at = after(note.created_at) or note.created_at
        if r.appointment is not None and r.appointment.created_at >= self.started:
            # Booking wrote the appointment and told the care team before its history row.
            Appointment.objects.filter(pk=r.appointment.pk).update(created_at=before(r.appointment.created_at))
            told = Notification.objects.filter(
                link=reverse("scheduling:appointment", args=[r.appointment.public_id]), created_at__gte=self.started
            )
            for note in told:
                note.created_at = before(note.created_at)
                notes.append(note)
        for note in notes:
            # What happened more than a day ago has been read.
            if note.created_at < self.now - datetime.timedelta(days=1):
                note.read_at = note.created_at + datetime.timedelta(minutes=50)
        Notification.objects.bulk_update(notes, ["created_at", "read_at"])

    # --- Through the services -------------------------------------------------------------

    def draft(
        self,
        c: Candidate,
        story: Story,
        urgency: str,
        *,
        referrer: User | None = None,
        times_of_day: tuple[str, ...] = (),
        visit_setting: str = VisitSetting.VIDEO_HOME,
    ) -> Referral:
        referrer = referrer or c.therapist
        p = c.patient
        draft = services.Draft(
            urgency=urgency,
            reason=story.reason,
            clinical_question=story.question,
            language=p.preferred_language,
            times_of_day=times_of_day,
            visit_setting=visit_setting,
            location_state=p.state,
            payer=p.payer,
            member_id=p.member_id,
            attachments=tuple(services.latest_attachments(referrer, p)),
        )
        return services.save_draft(actor=referrer, patient=p, draft=draft, meta=META)

    def sent(
        self,
        c: Candidate,
        story: Story,
        urgency: str,
        *,
        times_of_day: tuple[str, ...] = (),
        visit_setting: str = VisitSetting.VIDEO_HOME,
    ) -> Referral:
        referral = self.draft(c, story, urgency, times_of_day=times_of_day, visit_setting=visit_setting)
        return services.submit(actor=referral.referred_by, referral=referral, meta=META)

    def triaged(
        self,
        c: Candidate,
        story: Story,
        urgency: str,
        *,
        times_of_day: tuple[str, ...] = (),
        visit_setting: str = VisitSetting.VIDEO_HOME,
    ) -> Referral:
        sent = self.sent(c, story, urgency, times_of_day=times_of_day, visit_setting=visit_setting)
        return services.triage(actor=self.alex, referral=sent, meta=META)

    def patient_busy(self, patient: Patient) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """The patient's own appointments (a consult about them is not one they attend)."""
        return list(
            Appointment.objects.filter(patient=patient, appointment_type__with_patient=True)
            .exclude(status=Status.CANCELLED)
            .values_list("starts_at", "ends_at")
        )

    def free(self, busy: Sequence[tuple[datetime.datetime, datetime.datetime]], start: datetime.datetime) -> bool:
        end = start + self.length
        return not any(s - PAD < end and start < e + PAD for s, e in busy)

    def opening(self, referral: Referral, offer: matching.Offer) -> datetime.datetime:
        """Among the prescriber's openings, the soonest at the patient's preferred
        times (else the soonest), a day ahead or more when there is one, that does
        not clash with the patient's own appointments."""
        prefs = matching.Preferences(times_of_day=frozenset(referral.times_of_day), zone=referral.patient.timezone)
        held = set(
            Offer.objects.filter(status=OfferStatus.PENDING)
            .exclude(referral=referral)
            .values_list("prescriber_id", "starts_at")
        )
        slots = [s for s in offer.candidate.slots or () if (offer.candidate.clinician_id, s) not in held]
        ordered = [s for s in slots if prefs.fits_time(s)] + [s for s in slots if not prefs.fits_time(s)]
        later = [s for s in ordered if s >= self.now + datetime.timedelta(hours=20)]
        busy = self.patient_busy(referral.patient)
        return next((s for s in later + ordered if self.free(busy, s)), offer.starts_at)

    def book(self, referral: Referral, prescriber: User) -> Referral:
        ranking = services.current_ranking(referral)
        offer = next(o for o in ranking.offers if o.candidate.clinician_id == prescriber.pk)
        return services.book(
            actor=self.alex,
            referral=referral,
            prescriber_id=prescriber.pk,
            starts_at=self.opening(referral, offer),
            meta=META,
        )

    def past_opening(
        self,
        prescriber: User,
        patient: Patient,
        first_day: datetime.date,
        last_day: datetime.date,
        rng: random.Random,
    ) -> datetime.datetime | None:
        """A free evaluation time on the prescriber's past calendar: their hours,
        buffer and weekly new-patient limit, as the slot search reads them."""
        zone = zoneinfo.ZoneInfo(prescriber.timezone)
        start = datetime.datetime.combine(first_day, datetime.time(), zone)
        end = min(
            datetime.datetime.combine(last_day, datetime.time(23, 59), zone), self.now - datetime.timedelta(days=1)
        )
        if end <= start:
            return None
        slots = scheduling.open_slots(prescriber, self.evaluation, start, end, limit=None)
        busy = self.patient_busy(patient)
        for day in sorted({s.astimezone(zone).date() for s in slots}):
            # On the hour or the half hour, as people book.
            tidy = [s for s in slots if s.astimezone(zone).date() == day and s.astimezone(zone).minute in (0, 30)]
            tidy = [s for s in tidy if self.free(busy, s)]
            if tidy:
                return rng.choice(tidy)
        return None

    # --- The referrals in flight ----------------------------------------------------------

    def in_flight(self) -> None:
        maya, priya, jordan, alex = self.maya, self.priya, self.jordan, self.alex
        spanish = Language.SPANISH

        # A draft Maya saved yesterday: the patient's authorization is still waiting
        # for a signature, and the referral cannot be sent before it is signed.
        c = self.pick(
            lambda c: c.therapist == maya and c.awaiting_signature and not c.may_refer,
            lambda c: c.therapist == maya,
        )
        r = self.draft(c, DRAFT, Urgency.ROUTINE, referrer=maya, times_of_day=("morning",))
        saved = self.practice_time(1, 16, 40)
        Referral.objects.filter(pk=r.pk).update(created_at=saved - datetime.timedelta(minutes=18), updated_at=saved)

        # Booked: a Spanish-speaking patient, matched first with Priya, who speaks Spanish;
        # and a patient whose plan only Jordan takes.
        c = self.pick(
            lambda c: self.bookable(c, priya) and c.patient.preferred_language == spanish,
            lambda c: self.bookable(c, priya),
        )
        r = self.book(self.triaged(c, SPANISH, Urgency.SOON), priya)
        s = self.practice_time(3, 10, 5)
        self.retime(
            r, [s, self.group_time(2, 9, 25), self.group_time(2, 9, 40)], drafted=s - datetime.timedelta(minutes=25)
        )

        c = self.pick(
            lambda c: self.bookable(c, jordan) and c.takers == {jordan.pk},
            lambda c: self.bookable(c, jordan),
            lambda c: self.bookable(c),
        )
        assert c.prescriber is not None
        r = self.book(self.triaged(c, NIGHT_SHIFTS, Urgency.ROUTINE, times_of_day=("morning",)), c.prescriber)
        s = self.practice_time(4, 13, 20)
        self.retime(
            r, [s, self.group_time(3, 10, 5), self.group_time(3, 10, 30)], drafted=s - datetime.timedelta(minutes=40)
        )

        # Seen last week: booked, moved to the past time it happened at, and marked
        # completed by the prescriber, which completes the referral.
        c = self.pick(lambda c: self.bookable(c) and c.therapist == maya, lambda c: self.bookable(c))
        assert c.prescriber is not None
        r = self.book(self.triaged(c, SEEN, Urgency.SOON, visit_setting=VisitSetting.VIDEO_OFFICE), c.prescriber)
        assert r.appointment is not None
        rng = random.Random(20261129)
        visit = self.past_opening(
            c.prescriber,
            c.patient,
            self.today - datetime.timedelta(days=10),
            self.today - datetime.timedelta(days=3),
            rng,
        )
        if visit is not None:
            appointment = r.appointment
            Participant.objects.filter(appointment=appointment).update(starts_at=visit, ends_at=visit + self.length)
            Appointment.objects.filter(pk=appointment.pk).update(
                starts_at=visit,
                ends_at=visit + self.length,
                attested_state=r.location_state,
                attested_by="clinician",
            )
            appointment.refresh_from_db()
            Offer.objects.filter(referral=r, status=OfferStatus.ACCEPTED).update(starts_at=visit)
            scheduling.complete(actor=c.prescriber, appointment=appointment, meta=META)
            s = _office_hours(visit - datetime.timedelta(days=5, hours=3), self.practice_zone, 9, 17, forward=False)
            t = _office_hours(s + datetime.timedelta(hours=19), self.group_zone, 8, 17, forward=True)
            t = min(t, visit - datetime.timedelta(days=1))
            b = t + datetime.timedelta(minutes=35)
            self.retime(
                r,
                [s, t, b, visit + self.length + datetime.timedelta(minutes=4)],
                drafted=s - datetime.timedelta(minutes=30),
            )

        # Triaged yesterday; the coordinator has yet to book one of the openings.
        c = self.pick(lambda c: c.may_refer and len(c.takers) >= 2, lambda c: c.may_refer and bool(c.takers))
        r = self.triaged(c, TRIAGED, Urgency.ROUTINE, times_of_day=("afternoon",))
        s = self.practice_time(2, 11, 5)
        self.retime(r, [s, self.group_time(1, 9, 20)], drafted=s - datetime.timedelta(minutes=15))

        # On the waitlist: no Northstar prescriber is enrolled with the patient's plan
        # in their state, so no one has an opening for them. The referral waits in
        # line and the waitlist offers the first opening anyone can take (a new
        # enrollment, or the patient choosing to pay for the visit).
        c = self.pick(
            lambda c: c.may_refer and not c.takers and c.patient.payer is not None and c.therapist == maya,
            lambda c: c.may_refer and not c.takers,
        )
        r = self.triaged(c, WAITLISTED, Urgency.ROUTINE)
        s = self.practice_time(3, 10, 30)
        self.retime(r, [s, self.group_time(2, 13, 45)], drafted=s - datetime.timedelta(minutes=20))

        # Expired: waited in line the same way for 90 days, until the sweep expired it.
        c = self.pick(lambda c: c.may_refer and not c.takers)
        r = self.triaged(c, EXPIRED, Urgency.ROUTINE)
        days = self.settings.max_wait_days
        r = services.expire(referral=r, reason=f"No evaluation was booked within {days} days.")
        s = _office_hours(self.now - datetime.timedelta(days=days + 2), self.practice_zone, 9, 17, forward=False)
        t = _office_hours(s + datetime.timedelta(hours=20), self.group_zone, 8, 17, forward=True)
        self.retime(r, [s, t, s + datetime.timedelta(days=days, minutes=3)], drafted=s - datetime.timedelta(hours=1))

        # Declined by the coordinator, and cancelled by the practice.
        c = self.pick(lambda c: c.may_refer and c.therapist == maya)
        r = services.decline(
            actor=alex, referral=self.sent(c, DECLINED, Urgency.SOON), reason=DECLINE_REASON, meta=META
        )
        s = self.practice_time(6, 15, 10)
        self.retime(r, [s, self.group_time(5, 10, 50)], drafted=s - datetime.timedelta(minutes=30))

        c = self.pick(lambda c: c.may_refer and c.therapist == maya)
        r = self.triaged(c, CANCELLED, Urgency.ROUTINE)
        r = services.cancel(actor=r.referred_by, referral=r, reason=CANCEL_REASON, meta=META)
        s = self.practice_time(8, 9, 45)
        self.retime(
            r,
            [s, self.group_time(7, 11, 30), self.practice_time(5, 12, 15)],
            drafted=s - datetime.timedelta(minutes=10),
        )

        # Sent yesterday afternoon, within its time limit.
        c = self.pick(lambda c: c.may_refer and c.patient.state == "WA", lambda c: c.may_refer)
        r = self.sent(c, SENT, Urgency.SOON)
        s = self.practice_time(1, 14, 15)
        if services.due_times(Urgency.SOON, s, self.groups)[0] <= self.now:
            s = self.now - datetime.timedelta(minutes=30)
        self.retime(r, [s], drafted=s - datetime.timedelta(minutes=12))

        # Offered: the coordinator offered an opening yesterday; nobody answered
        # within the day it was held, so the sweep put the referral back in line,
        # and the waitlist then held the next opening for it (below).
        c = self.pick(lambda c: self.bookable(c), lambda c: c.may_refer and bool(c.takers))
        offered = self.triaged(c, OFFERED, Urgency.SOON, times_of_day=("morning",))
        best = services.current_ranking(offered).best
        assert best is not None
        services.offer(
            referral=offered,
            choice=dataclasses.replace(best, starts_at=self.opening(offered, best)),
            actor=alex,
            meta=META,
        )
        services.release(actor=None, referral=offered, reason=RAN_OUT, meta=META, expired=True)

        # Urgent, sent days ago and still not triaged: overdue, told to the
        # coordinators and, a day later, to the group's admins.
        c = self.pick(lambda c: c.may_refer and c.therapist == self.samuel, lambda c: c.may_refer)
        urgent = self.sent(c, URGENT, Urgency.URGENT)
        s = self.overdue_submission()
        self.retime(urgent, [s], drafted=s - datetime.timedelta(minutes=8))

        # The sweeps, as the worker runs them.
        services.fill_waitlist(timezone.now())
        r = Referral.objects.get(pk=offered.pk)
        ran_out = self.now - datetime.timedelta(minutes=2)
        made = ran_out - datetime.timedelta(hours=self.settings.offer_hours, minutes=1)
        t = min(self.group_time(1, 9, 10), made - datetime.timedelta(minutes=20))
        s = self.practice_time(2, 15, 20)
        self.retime(r, [s, t, made, ran_out], drafted=s - datetime.timedelta(minutes=14))
        self.escalate(urgent)

    def overdue_submission(self) -> datetime.datetime:
        """The latest time, in office hours, an urgent referral could have been
        sent for its triage to be overdue long enough to reach the group admins."""
        late = datetime.timedelta(hours=self.settings.admin_escalation_hours, minutes=30)
        for back in range(2, 12):
            day = _weekdays_back(self.today, back)
            for hour, minute in ((16, 20), (14, 5), (11, 40), (9, 30)):
                s = _at(day, hour, minute, self.practice_zone)
                if services.due_times(Urgency.URGENT, s, self.groups)[0] + late <= self.now:
                    return s
        raise RuntimeError("No time found for the overdue referral.")

    def escalate(self, referral: Referral) -> None:
        """Run the escalation sweep now, then date each escalation (and what it
        sent) when the sweep would first have sent it."""
        marker = timezone.now()
        services.escalate_overdue(marker)
        r = Referral.objects.get(pk=referral.pk)
        admins = set(
            Membership.objects.filter(organization__in=self.groups, role=Role.GROUP_ADMIN).values_list(
                "user_id", flat=True
            )
        )
        hours = datetime.timedelta(hours=self.settings.admin_escalation_hours)
        sent = {}
        for row in Escalation.objects.filter(referral=r):
            due = r.triage_due_at if row.target == Escalation.TRIAGE else r.visit_due_at
            assert due is not None
            row.sent_at = min(
                due + datetime.timedelta(minutes=4) + (hours if row.level == 2 else datetime.timedelta()), marker
            )
            row.save(update_fields=["sent_at"])
            sent[(row.target, row.level)] = row.sent_at
        link = reverse("referrals:detail", args=[r.public_id])
        for note in Notification.objects.filter(link=link, created_at__gte=marker):
            target = Escalation.TRIAGE if "triage" in note.text else Escalation.VISIT
            at = sent.get((target, 2 if note.recipient_id in admins else 1))
            if at is not None:
                Notification.objects.filter(pk=note.pk).update(created_at=at)

    # --- The first referrals --------------------------------------------------------------

    def first_referrals(self) -> int:
        """One completed referral for each patient who came to Northstar with a
        signed authorization: the evaluation on the day the prescriber joined the
        care team (or the next free time), the rest worked back from it."""
        from tandem.demo import seed  # the showcase patients' places; seed imports this module

        showcase = {seed.SHOWCASE: "showcase", seed.REVOKED: "revoked", seed.NP_SHOWCASE: "np_showcase"}
        rng = random.Random(20261130)
        stories = FIRST[:]
        rng.shuffle(stories)
        made = 0
        for n, c in enumerate(self.candidates):
            if c.prescriber is None or c.prescriber_since is None or not c.ever_signed:
                continue
            since = c.prescriber_since
            visit = self.past_opening(c.prescriber, c.patient, since, since + datetime.timedelta(days=10), rng)
            if visit is None:
                continue
            story = SHOWCASE_FIRST[showcase[c.index]] if c.index in showcase else stories[n % len(stories)]
            urgency = rng.choices([Urgency.URGENT, Urgency.SOON, Urgency.ROUTINE], weights=[15, 35, 50])[0]
            self.first_referral(
                c, c.prescriber, visit, story, urgency, rng, since=c.therapist_since + datetime.timedelta(days=2)
            )
            made += 1
        return made

    def first_referral(
        self,
        c: Candidate,
        prescriber: User,
        visit: datetime.datetime,
        story: Story,
        urgency: str,
        rng: random.Random,
        since: datetime.date,
    ) -> Referral:
        def hours(span: tuple[float, float]) -> datetime.timedelta:
            return datetime.timedelta(hours=rng.uniform(*span))

        u = Urgency(urgency)
        # Sent after the therapist's first sessions with the patient, in the
        # practice's office hours; triaged and booked in the group's.
        earliest = _office_hours(_at(since, 9, 30, self.practice_zone), self.practice_zone, 9, 17, forward=True)
        room = (visit - earliest) / datetime.timedelta(days=1)
        low, high = FIRST_VISIT_DAYS[u]
        high = max(min(high, room), 0.5)
        s = visit - datetime.timedelta(days=rng.uniform(min(low, high * 0.7), high))
        for _ in range(5):
            s = _office_hours(s, self.practice_zone, 9, 17, forward=False)
            t = _office_hours(s + hours(TRIAGE_HOURS[u]), self.group_zone, 8, 17, forward=True)
            b = _office_hours(t + hours(BOOKING_HOURS[u]), self.group_zone, 8, 17, forward=True)
            if b <= visit - datetime.timedelta(hours=2) or s - datetime.timedelta(days=1) < earliest:
                break
            s -= datetime.timedelta(days=1)  # too tight around a weekend: sent a day earlier
        if b > visit - datetime.timedelta(hours=2):
            t, b = s + (visit - s) / 3, s + (visit - s) / 2
        done = visit + self.length + datetime.timedelta(minutes=rng.randint(2, 25))
        p = c.patient
        setting = VisitSetting.VIDEO_OFFICE if rng.random() < 0.2 else VisitSetting.VIDEO_HOME
        appointment = Appointment.objects.create(
            organization=self.northstar,
            appointment_type=self.evaluation,
            patient=p,
            starts_at=visit,
            ends_at=visit + self.length,
            modality=Modality.VIDEO_OFFICE if setting == VisitSetting.VIDEO_OFFICE else Modality.VIDEO_HOME,
            status=Status.COMPLETED,
            expected_state=p.state,
            attested_state=p.state,
            attested_by="clinician",
            created_by=self.alex,
            created_at=b,
        )
        Participant.objects.create(
            appointment=appointment, user=prescriber, starts_at=visit, ends_at=visit + self.length
        )
        triage_due, visit_due = services.due_times(urgency, s, self.groups)
        referral = Referral.objects.create(
            patient=p,
            practice=self.riverbend,
            referred_by=c.therapist,
            status=State.COMPLETED,
            urgency=urgency,
            reason=story.reason,
            clinical_question=story.question,
            language=p.preferred_language,
            times_of_day=list(rng.choice([(), (), ("morning",), ("afternoon",), ("morning", "afternoon")])),
            visit_setting=setting,
            location_state=p.state,
            payer=p.payer,
            member_id=p.member_id,
            created_at=s - datetime.timedelta(minutes=rng.randint(10, 90)),
            updated_at=done,
            submitted_at=s,
            triaged_at=t,
            scheduled_at=b,
            completed_at=done,
            triage_due_at=triage_due,
            visit_due_at=visit_due,
            appointment=appointment,
            prescriber=prescriber,
            group=self.northstar,
        )
        Offer.objects.create(
            referral=referral,
            prescriber=prescriber,
            group=self.northstar,
            starts_at=visit,
            status=OfferStatus.ACCEPTED,
            why=[f"Has openings on {rng.randint(6, 14)} of the next {self.settings.search_days} days."],
            created_at=b,
            decided_at=b,
            decided_by=self.alex,
        )
        steps = [
            (s, c.therapist, "submit", State.DRAFT, State.SUBMITTED),
            (t, self.alex, "triage", State.SUBMITTED, State.TRIAGED),
            (b, self.alex, "book", State.TRIAGED, State.SCHEDULED),
            (done, None, "complete", State.SCHEDULED, State.COMPLETED),
        ]
        ReferralEvent.objects.bulk_create(
            ReferralEvent(referral=referral, at=at, actor=actor, transition=name, from_status=a, to_status=b_)
            for at, actor, name, a, b_ in steps
        )
        return referral


def seed_referrals(orgs: dict[str, Organization], users: dict[str, User]) -> int:
    """Build the demo's referrals once the people, consent and calendars are in
    place. Returns how many; does nothing when the demo already has some."""
    if Referral.objects.filter(practice=orgs["riverbend"]).exists():
        return 0
    demo = DemoReferrals(orgs, users)
    demo.in_flight()
    demo.first_referrals()
    return Referral.objects.filter(practice=orgs["riverbend"]).count()
