"""Reading consent: what the practice sees of a patient's authorizations."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from tandem.consent.models import Authorization, BreakGlass, Disclosure, SigningLink
from tandem.organizations.models import Organization
from tandem.patients.models import Patient


@dataclass(frozen=True)
class Row:
    authorization: Authorization
    state: str
    pending_link: SigningLink | None


def authorizations(patient: Patient, at: datetime.datetime | None = None) -> list[Row]:
    at = at or timezone.now()
    open_links = SigningLink.objects.filter(used_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=at)
    rows = (
        Authorization.objects.filter(patient=patient)
        .select_related("discloser", "recipient", "recipient_clinician", "patient__practice")
        .prefetch_related(Prefetch("links", queryset=open_links, to_attr="open_links"))
    )
    return [Row(a, a.state_at(at), a.open_links[0] if a.open_links else None) for a in rows]


@dataclass(frozen=True)
class Summary:
    rows: list[Row]

    @property
    def active(self) -> list[Row]:
        return [r for r in self.rows if r.state == "active"]

    @property
    def pending(self) -> list[Row]:
        return [r for r in self.rows if r.state == "pending"]


def summary(patient: Patient) -> Summary:
    return Summary(authorizations(patient))


def disclosures(patient: Patient) -> QuerySet[Disclosure]:
    return (
        Disclosure.objects.filter(patient=patient)
        .select_related("source", "recipient", "recipient_user", "authorization")
        .order_by("-occurred_at", "-id")
    )


def break_glass_for_review(practices: list[Organization]) -> QuerySet[BreakGlass]:
    return (
        BreakGlass.objects.filter(patient__practice__in=practices)
        .select_related("patient", "user", "organization", "reviewed_by")
        .order_by("reviewed_at", "-started_at")
    )
