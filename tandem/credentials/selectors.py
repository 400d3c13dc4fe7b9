"""Reading credentials: coverage, what is expiring, and one clinician's file."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from tandem.access import policy
from tandem.accounts.models import User
from tandem.credentials import models as m
from tandem.credentials.alerts import KINDS
from tandem.credentials.eligibility import Action, Credentials, decide, load_credentials
from tandem.credentials.rules import current
from tandem.lib.us_states import US_STATES

# The controlled drug the coverage map asks about: a Schedule IV benzodiazepine,
# the class remote prescribers are asked for most.
COVERAGE_CONTROLLED_DRUG = "diazepam"


@dataclass(frozen=True)
class Cell:
    state: str
    can_see: bool
    can_prescribe_controlled: bool


@dataclass(frozen=True)
class CoverageRow:
    clinician: User
    cells: list[Cell]

    @property
    def states_seen(self) -> int:
        return sum(c.can_see for c in self.cells)


@dataclass(frozen=True)
class Coverage:
    states: list[str]
    rows: list[CoverageRow]
    gaps: list[str]  # states nobody can see patients in


def overseen_clinicians(user: User | AnonymousUser) -> list[User]:
    """The clinicians on the coverage map: those of the organizations the user looks after."""
    others = policy.visible_clinicians(user)
    if isinstance(user, User):
        others = others.exclude(pk=user.pk)
    return list(others.order_by("full_name"))


def coverage(user: User | AnonymousUser, at: datetime.datetime | None = None) -> Coverage:
    at = at or timezone.now()
    rules = current()
    clinicians = overseen_clinicians(user)
    loaded = load_credentials([c.pk for c in clinicians])
    states = [code for code, _ in US_STATES]
    rows = []
    for clinician in clinicians:
        creds: Credentials = loaded[clinician.pk]
        cells = []
        for state in states:
            can_see = decide(creds, state=state, at=at, action=Action.SEE, rules=rules).allowed
            controlled = (
                can_see
                and decide(
                    creds, state=state, at=at, action=Action.PRESCRIBE, drug=COVERAGE_CONTROLLED_DRUG, rules=rules
                ).allowed
            )
            cells.append(Cell(state, can_see, controlled))
        rows.append(CoverageRow(clinician, cells))
    gaps = [s for i, s in enumerate(states) if not any(r.cells[i].can_see for r in rows)]
    return Coverage(states=states, rows=rows, gaps=gaps)


def _related(model: type[m.Credential]) -> list[str]:
    # A payer enrollment names its payer when printed.
    return ["payer"] if model is m.PayerEnrollment else []


@dataclass(frozen=True)
class Expiring:
    clinician: User
    label: str
    credential: m.Credential
    expires_on: datetime.date
    days_left: int


def expiring(user: User | AnonymousUser, *, within_days: int, today: datetime.date | None = None) -> list[Expiring]:
    """Credentials of the clinicians the user may see, lapsing within the window, soonest first."""
    today = today or timezone.now().date()
    horizon = today + datetime.timedelta(days=within_days)
    clinicians = policy.visible_clinicians(user).values("pk")
    found = []
    for model, label in KINDS:
        rows = model._default_manager.filter(
            clinician__in=clinicians, status=m.Status.ACTIVE, expires_on__gte=today, expires_on__lte=horizon
        ).select_related("clinician", *_related(model))
        for row in rows:
            assert row.expires_on is not None
            found.append(Expiring(row.clinician, label, row, row.expires_on, (row.expires_on - today).days))
    return sorted(found, key=lambda e: (e.expires_on, e.clinician.full_name))


def credential_file(clinician: User) -> list[tuple[str, str, list[m.Credential]]]:
    """Everything one clinician holds: (kind, label, rows) for each kind."""
    return [
        (
            kind,
            m.KIND_LABELS[kind],
            list(model._default_manager.filter(clinician=clinician).select_related("verified_by", *_related(model))),
        )
        for kind, model in m.KIND_MODELS.items()
    ]
