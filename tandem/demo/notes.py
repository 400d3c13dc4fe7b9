"""Encounter notes for the demo: a believable history from both disciplines.

* Each completed therapy session and medication visit of the first patients
  has its clinician's signed note (DAP or BIRP; SOAP), written that evening.
* The showcase patient has a psychiatric evaluation, last week's co-treatment
  visit with both clinicians' notes, an amended note (two versions) and an
  addendum, a provider consult and a collateral contact.
* The showcase therapist has an unsigned note from four days ago.
* Riverbend asks for co-signatures: Samuel's latest note waits for Maya's.
* Two more patients have psychotherapy notes, their therapist's alone.

All of it is invented. Signed notes are written as signed, in one insert:
the database refuses to change them afterwards.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from tandem.accounts.models import User
from tandem.organizations.models import Membership, Organization
from tandem.patients.models import Patient
from tandem.records import note_kinds
from tandem.records.models import Change, Cosignature, Document, NoteStatus, PsychotherapyNote
from tandem.scheduling.models import Appointment, Kind, Status

THERAPY = [
    (
        "therapy_dap",
        {
            "data": "Reports sleeping about six hours most nights, up from four. Completed two of three behavioral "
            "activation tasks (walk with a friend, cooked twice). Avoided a work meeting on Thursday.",
            "assessment": "Gradual gains in activation; avoidance persists around work. Mood brighter in session.",
            "plan": "Keep the activity log. Grade exposure to one meeting next week. Review PHQ-9 next session.",
        },
    ),
    (
        "therapy_birp",
        {
            "behavior": "Arrived on time, tearful at first. Describes worry about a sister's health most days.",
            "intervention": "Cognitive restructuring of catastrophic predictions; taught paced breathing; "
            "rehearsed a scheduled worry time.",
            "response": "Engaged; rated worry 7/10 at start and 4/10 after practice. Willing to try worry time daily.",
            "plan": "Worry time at 6 pm daily. Next session: thought record review.",
        },
    ),
    (
        "therapy_dap",
        {
            "data": "Two panic episodes this week, both on the bus. Used breathing once with partial relief. "
            "Sleep unchanged. Says the new medication makes her a little nauseous in the morning.",
            "assessment": "Interoceptive fear remains the main driver. Side effect worth passing to the prescriber.",
            "plan": "Interoceptive exposure (spinning, breath holding) in session next week. Message the prescriber "
            "about nausea.",
        },
    ),
]
MED = {
    "subjective": "Taking sertraline daily with breakfast. Mild nausea the first week, now gone. Sleep better; "
    "still wakes early. No suicidal thoughts.",
    "objective": "Calm, good eye contact, speech normal. Mood 'better', affect brighter. PHQ-9 today 11 "
    "(from 17). BP 118/76.",
    "assessment": "Major depressive disorder, single episode, moderate (F32.1), responding to sertraline 50 mg.",
    "plan": "Increase sertraline to 100 mg daily. Recheck in four weeks with PHQ-9 and GAD-7. Continue weekly "
    "CBT with the therapist.",
}
EVALUATION = {
    "reason": "Referred by her therapist for persistent low mood and poor sleep despite eight weeks of CBT.",
    "history": "Low mood for about five months after a job change; anhedonia, early waking, low appetite. "
    "One prior episode at 22, untreated. Alcohol two drinks a week; no other substances. No medical "
    "problems; no current medications. Mother treated for depression.",
    "mental_status": "Casually dressed, cooperative. Speech normal rate. Mood 'flat'; affect constricted. "
    "Thought process linear; no delusions. No hallucinations. Oriented; attention intact. Insight and "
    "judgment good.",
    "risk_level": "low",
    "risk": "Passive thoughts of not waking up two months ago, none now; no plan, intent or past attempts. "
    "Protective: partner, work, engaged in therapy. Safety plan reviewed with the therapist's copy.",
    "diagnosis": "Major depressive disorder, single episode, moderate (F32.1)",
    "plan": "Start sertraline 25 mg for a week, then 50 mg. Follow up in two weeks by video. Continue CBT.",
}
CO_THERAPY = {
    "data": "Joint visit, patient in the office with the therapist, psychiatrist by video. Patient reports "
    "better sleep and less morning dread; worried the higher dose will bring back nausea.",
    "assessment": "Aligned plan across both clinicians; patient's worry about side effects addressed.",
    "plan": "Therapist continues weekly CBT; activity log to include a sleep diary for the dose change.",
}
CO_MED = {
    "subjective": "Seen jointly with her therapist. Nausea gone; early waking twice a week. Asks about the "
    "dose increase.",
    "objective": "On video from the therapist's office. Brighter affect, reactive. PHQ-9 this week 9.",
    "assessment": "Continued response to sertraline 100 mg; residual insomnia.",
    "plan": "Keep sertraline 100 mg. Sleep hygiene with the therapist. Review in four weeks.",
}
CONSULT = {
    "with_whom": "Dr. Priya Raman, psychiatrist",
    "question": "Is the return of panic related to the sertraline dose change?",
    "discussion": "Reviewed the timing: panic returned before the increase. Discussed interoceptive exposure "
    "in therapy and holding the dose steady.",
    "recommendations": "Prescriber keeps the dose. Therapist starts interoceptive exposure and messages if "
    "panic increases.",
}
COLLATERAL = {
    "contact": "Jordan Reyes, partner",
    "method": "phone",
    "authority": "Patient's written release on file, dated at intake",
    "summary": "Partner reports she is getting up earlier and cooking again. Asked how to help on bad "
    "days; shared general strategies, nothing from sessions.",
    "plan": "Offer a joint session if the patient wishes.",
}
PROCESS = [
    "Countertransference: I noticed wanting to rescue; keep the pace hers. Hypothesis about father's "
    "illness unconfirmed; do not raise yet.",
    "Felt stuck this hour. Consider whether my reassurance feeds the checking. Bring to supervision.",
]


def _note(
    patient: Patient,
    author: User,
    organization: Organization,
    kind: str,
    fields: dict[str, str],
    day: datetime.date,
    signed_at: datetime.datetime | None,
    encounter: Appointment | None = None,
    amends: Document | None = None,
    change: str = "",
    reason: str = "",
) -> Document:
    template = note_kinds.BY_KEY[kind]
    title = f"{template.label}, {day:%b} {day.day}, {day.year}"
    body = note_kinds.render_text(template, fields)
    if change == Change.AMENDMENT:
        title += " (amended)"
    elif change == Change.ADDENDUM and amends is not None:
        title += " (addendum)"
        body = f"{amends.body}\n\nAddendum of {day:%b} {day.day}, {day.year} ({reason}):\n{fields['addendum']}"
    return Document.objects.create(
        patient=patient,
        organization=organization,
        author=author,
        info_class="progress_notes",
        kind=kind,
        encounter=encounter,
        title=title,
        body=body,
        fields=fields,
        occurred_on=day,
        created_at=(signed_at or timezone.now()) - datetime.timedelta(minutes=25),
        updated_at=signed_at or timezone.now(),
        status=NoteStatus.SIGNED if signed_at else NoteStatus.DRAFT,
        signed_at=signed_at,
        revision=6,
        version=(amends.version + 1) if amends else 1,
        amends=amends,
        change=change,
        change_reason=reason,
    )


def _evening(start: datetime.datetime) -> datetime.datetime:
    return min(start + datetime.timedelta(hours=3), timezone.now() - datetime.timedelta(minutes=5))


def seed_notes(orgs: dict[str, Organization], users: dict[str, User], riverbend: list[Patient]) -> int:
    now = timezone.now()
    count = 0
    visits = (
        Appointment.objects.filter(patient__in=riverbend[:8], status=Status.COMPLETED, starts_at__lt=now)
        .select_related("appointment_type", "patient")
        .prefetch_related("participants__user")
        .order_by("starts_at")
    )
    for i, visit in enumerate(visits):
        if visit.patient is None:
            continue
        people = [p.user for p in visit.participants.all()]
        day = timezone.localtime(visit.starts_at).date()
        signed = _evening(visit.starts_at)
        if visit.appointment_type.kind == Kind.THERAPY:
            kind, fields = THERAPY[i % len(THERAPY)]
            _note(visit.patient, people[0], orgs["riverbend"], kind, fields, day, signed, visit)
        elif visit.appointment_type.kind == Kind.MED_MANAGEMENT:
            _note(visit.patient, people[0], orgs["northstar"], "medication_management", MED, day, signed, visit)
        elif visit.appointment_type.kind == Kind.CO_TREATMENT:
            by_email = {u.email: u for u in people}
            therapist, prescriber = by_email["therapist@riverbend.demo"], by_email["prescriber@northstar.demo"]
            _note(visit.patient, therapist, orgs["riverbend"], "therapy_dap", CO_THERAPY, day, signed, visit)
            _note(visit.patient, prescriber, orgs["northstar"], "medication_management", CO_MED, day, signed, visit)
            count += 1
        else:
            continue
        count += 1

    showcase = riverbend[0]
    maya, priya = users["therapist@riverbend.demo"], users["prescriber@northstar.demo"]
    ago = now - datetime.timedelta(days=30)
    evaluation = _note(showcase, priya, orgs["northstar"], "psychiatric_evaluation", EVALUATION, ago.date(), ago)
    # The evaluation was amended once: the first version had the wrong starting dose.
    amended_at = ago + datetime.timedelta(days=1)
    _note(
        showcase,
        priya,
        orgs["northstar"],
        "psychiatric_evaluation",
        {**EVALUATION, "plan": EVALUATION["plan"].replace("25 mg for a week", "25 mg for five days")},
        ago.date(),
        amended_at,
        amends=Document.objects.get(pk=evaluation.pk),
        change=Change.AMENDMENT,
        reason="Starting dose schedule corrected",
    )
    consult_at = now - datetime.timedelta(days=12)
    _note(showcase, maya, orgs["riverbend"], "provider_consult", CONSULT, consult_at.date(), consult_at)
    collateral_at = now - datetime.timedelta(days=6)
    contact = _note(
        showcase, maya, orgs["riverbend"], "collateral_contact", COLLATERAL, collateral_at.date(), collateral_at
    )
    added_at = collateral_at + datetime.timedelta(days=1)
    _note(
        showcase,
        maya,
        orgs["riverbend"],
        "collateral_contact",
        {"addendum": "Partner called back: the patient agreed to a joint session next month."},
        added_at.date(),
        added_at,
        amends=contact,
        change=Change.ADDENDUM,
        reason="Follow-up call",
    )
    # A note Maya started four days ago and has not signed.
    stale = now - datetime.timedelta(days=4)
    draft = _note(showcase, maya, orgs["riverbend"], "therapy_birp", dict(THERAPY[1][1]), stale.date(), None)
    Document.objects.filter(pk=draft.pk).update(created_at=stale, updated_at=stale)
    count += 5

    # Riverbend asks for co-signatures on its associate's notes: Samuel's latest waits for Maya.
    samuel = users["therapist2@riverbend.demo"]
    Organization.objects.filter(pk=orgs["riverbend"].pk).update(notes_need_cosignature=True)
    Membership.objects.filter(user=samuel, organization=orgs["riverbend"]).update(supervisor=maya)
    yesterday = now - datetime.timedelta(days=1)
    associate = _note(
        riverbend[20], samuel, orgs["riverbend"], "therapy_dap", dict(THERAPY[0][1]), yesterday.date(), yesterday
    )
    Cosignature.objects.create(document=associate, supervisor=maya, requested_at=yesterday)
    count += 1

    for patient, text in zip((riverbend[2], riverbend[5]), PROCESS, strict=True):
        day = (now - datetime.timedelta(days=3)).date()
        PsychotherapyNote.objects.create(
            patient=patient,
            organization=orgs["riverbend"],
            author=maya,
            body=text,
            occurred_on=day,
            created_at=now - datetime.timedelta(days=3),
        )
    return count
