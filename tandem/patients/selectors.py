"""Reading patients. Every query starts from what the viewer may see."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.patients.models import CareTeamMember, Patient, active_on
from tandem.records.models import Document

if TYPE_CHECKING:
    from tandem.referrals.models import Referral

_DATE_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _as_date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    match = _DATE_US.match(text)
    if match:
        month, day, year = (int(g) for g in match.groups())
        try:
            return datetime.date(year, month, day)
        except ValueError:
            return None
    return None


def search_patients(user: User | AnonymousUser, *, query: str = "", mine: bool = False) -> QuerySet[Patient]:
    """The patient list: visible patients, optionally searched and narrowed to
    the viewer's own care teams, with what the list shows in a fixed number of queries."""
    today = timezone.now().date()
    patients = policy.visible_patients(user).select_related("practice", "payer")
    query = query.strip()
    if query:
        as_date = _as_date(query)
        if as_date is not None:
            patients = patients.filter(date_of_birth=as_date)
        else:
            condition = Q(mrn__iexact=query)
            for term in query.split()[:4]:
                condition |= (
                    Q(first_name__icontains=term) | Q(last_name__icontains=term) | Q(preferred_name__icontains=term)
                )
            patients = patients.filter(condition)
    if mine and isinstance(user, User):
        patients = patients.filter(
            Exists(CareTeamMember.objects.filter(active_on(today), patient=OuterRef("pk"), user=user))
        )
    # Only what the list prints: the full rows would drag password hashes along.
    team = (
        CareTeamMember.objects.filter(active_on(today))
        .select_related("user")
        .only("patient_id", "role", "user__full_name")
        .order_by("role", "user__full_name")
    )
    return patients.prefetch_related(Prefetch("care_team", queryset=team, to_attr="active_team")).order_by(
        "last_name", "first_name", "id"
    )


def my_caseload(user: User | AnonymousUser) -> list[Patient]:
    return list(
        search_patients(user, mine=True).only(
            "public_id", "first_name", "last_name", "preferred_name", "practice__name", "payer__name"
        )
    )


def care_team(patient: Patient) -> list[CareTeamMember]:
    return list(patient.care_team.select_related("user", "organization").order_by("ends_on", "role", "user__full_name"))


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime.datetime
    text: str
    kind: str


def referrals(user: User | AnonymousUser, patient: Patient) -> list[Referral]:
    """The patient's referrals this viewer may see, newest first."""
    return list(
        policy.visible_referrals(user).filter(patient=patient).select_related("prescriber").order_by("-created_at")
    )


def timeline(
    patient: Patient, team: list[CareTeamMember], documents: list[Document], referrals: Sequence[Referral] = ()
) -> list[TimelineEntry]:
    """The chart's activity timeline, newest first. Records come in already
    filtered by what the viewer may see (``policy.visible_documents``);
    psychotherapy notes never appear here."""
    entries = [TimelineEntry(when=patient.created_at, text="Registered at " + patient.practice.name, kind="registered")]
    tz = timezone.get_current_timezone()
    for member in team:
        start = datetime.datetime.combine(member.starts_on, datetime.time.min, tzinfo=tz)
        entries.append(
            TimelineEntry(
                when=start,
                text=f"{member.user.display_name} joined the care team as {member.get_role_display().lower()}",
                kind="care_team",
            )
        )
        if member.ends_on:
            end = datetime.datetime.combine(member.ends_on, datetime.time.max, tzinfo=tz)
            entries.append(
                TimelineEntry(when=end, text=f"{member.user.display_name} left the care team", kind="care_team")
            )
    for document in documents:
        entries.append(
            TimelineEntry(
                when=document.occurred_at,
                text=f"{document.effective_class_label}: {document.title} ({document.author.display_name})",
                kind="record",
            )
        )
    for referral in referrals:
        # The milestones; the referral's own page has every step.
        label = f"Referral to psychiatry ({referral.get_urgency_display().lower()})"
        for when, what in [
            (referral.submitted_at, "submitted"),
            (referral.triaged_at, "triaged"),
            (referral.scheduled_at, "evaluation booked"),
            (referral.completed_at, "first visit completed"),
            (referral.ended_at, referral.get_status_display().lower()),
        ]:
            if when is not None:
                entries.append(TimelineEntry(when=when, text=f"{label}: {what}", kind="referral"))
    return sorted(entries, key=lambda e: e.when, reverse=True)
