""" "Since your last visit": on opening a chart, what the other clinicians did
since this clinician last saw the patient.

The last visit is this clinician's latest appointment with the patient that
has ended and was not cancelled or missed; before any, it is the day they
joined the care team. Everything in the digest comes from what the chart
already shows this viewer (records through the consent gate, appointments
they may see), so the digest can never show more than the chart does:

* notes signed by others since then, each at its newest version;
* medication changes others made; questionnaires others gave or the patient
  answered; plan versions others signed; and filed records of those classes;
* visits others held with the patient since then, and visits others booked.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils import timezone

from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.patients.models import CareTeamMember
from tandem.records.models import Document

if TYPE_CHECKING:
    from tandem.measures.models import Response
    from tandem.medications.models import MedicationChange
    from tandem.plans.models import PlanVersion
from tandem.scheduling.models import Appointment, Status

NOT_HELD = (Status.CANCELLED, Status.NO_SHOW)


@dataclass
class Digest:
    since: datetime.datetime
    # "visit" (their last visit), or "joined" (no visit yet: since joining the care team).
    basis: str
    last_visit: Appointment | None = None
    notes: list[Document] = field(default_factory=list)
    medications: list[Document] = field(default_factory=list)
    scores: list[Document] = field(default_factory=list)
    plan: list[Document] = field(default_factory=list)
    visits: list[Appointment] = field(default_factory=list)
    booked: list[Appointment] = field(default_factory=list)
    medication_changes: list[MedicationChange] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    plan_versions: list[PlanVersion] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.notes
            or self.medications
            or self.scores
            or self.plan
            or self.visits
            or self.booked
            or self.medication_changes
            or self.responses
            or self.plan_versions
        )


def _when(document: Document) -> datetime.datetime:
    return document.signed_at or document.created_at


def since_last_visit(
    viewer: User,
    team: list[CareTeamMember],
    documents: list[Document],
    appointments: list[Appointment],
    at: datetime.datetime | None = None,
    *,
    changes: Sequence[MedicationChange] = (),
    responses: Sequence[Response] = (),
    versions: Sequence[PlanVersion] = (),
) -> Digest | None:
    """The digest for ``viewer``, from the chart's own lists; None for someone
    who neither saw the patient nor is on the care team."""
    now = at or timezone.now()

    def mine(a: Appointment) -> bool:
        return any(p.user_id == viewer.pk for p in a.participants.all())

    held = [a for a in appointments if mine(a) and a.ends_at <= now and a.status not in NOT_HELD]
    if held:
        last = max(held, key=lambda a: a.ends_at)
        digest = Digest(since=last.ends_at, basis="visit", last_visit=last)
    else:
        joined = [m.starts_on for m in team if m.user_id == viewer.pk]
        if not joined:
            return None
        start = datetime.datetime.combine(min(joined), datetime.time.min, tzinfo=timezone.get_current_timezone())
        digest = Digest(since=start, basis="joined")
    since = digest.since
    for d in documents:
        if d.author_id == viewer.pk or not since < _when(d) <= now:
            continue
        if d.is_note:
            digest.notes.append(d)
        elif d.info_class == InfoClass.MEDICATIONS:
            digest.medications.append(d)
        elif d.info_class == InfoClass.ASSESSMENTS:
            digest.scores.append(d)
        elif d.info_class == InfoClass.CARE_PLAN:
            digest.plan.append(d)
        else:
            digest.notes.append(d)
    for a in appointments:
        if mine(a):
            continue
        if since < a.ends_at <= now and a.status not in NOT_HELD:
            digest.visits.append(a)
        elif a.starts_at > now and since < a.created_at <= now and a.status not in NOT_HELD:
            digest.booked.append(a)
    digest.medication_changes = sorted(
        (c for c in changes if c.made_by_id != viewer.pk and since < c.made_at <= now),
        key=lambda c: c.made_at,
        reverse=True,
    )
    digest.responses = sorted(
        (
            r
            for r in responses
            if r.completed_at and since < r.completed_at <= now and r.administered_by_id != viewer.pk
        ),
        key=lambda r: r.completed_at or now,
        reverse=True,
    )
    digest.plan_versions = [
        v for v in versions if any(s.signer_id != viewer.pk and since < s.signed_at <= now for s in v.signatures.all())
    ]
    for items in (digest.notes, digest.medications, digest.scores, digest.plan):
        items.sort(key=_when, reverse=True)
    digest.visits.sort(key=lambda a: a.starts_at, reverse=True)
    digest.booked.sort(key=lambda a: a.starts_at)
    return digest
