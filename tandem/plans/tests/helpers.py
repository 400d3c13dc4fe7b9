"""Shared steps for the plan tests: a draft with content, signed by both
disciplines, through the services as the clinicians would."""

from __future__ import annotations

import datetime
import uuid

from tandem.accounts.models import User
from tandem.audit.services import RequestMeta
from tandem.plans import services
from tandem.plans.models import Diagnosis, Goal, Intervention, PlanVersion
from tandem.test import Cast

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
SUMMARY = "Low mood since the spring; wants to return to work and sleep through the night."


def review_date(cast: Cast, days: int = 60) -> datetime.date:
    return cast.riverbend.local_date() + datetime.timedelta(days=days)


def draft(cast: Cast, *, actor: User | None = None, token: uuid.UUID | None = None) -> PlanVersion:
    version, _ = services.start_draft(
        actor=actor or cast.therapist,
        patient=cast.patient,
        organization=cast.riverbend,
        problem_list=list(Diagnosis.objects.filter(patient=cast.patient)),
        form_token=token or uuid.uuid4(),
        meta=META,
    )
    return version


def add_goal(cast: Cast, version: PlanVersion, text: str, **fields: object) -> Goal:
    values: dict[str, object] = {
        "discipline": "shared",
        "target_date": None,
        "instrument": "",
        "comparison": "",
        "target_score": None,
        "status": "active",
    }
    values.update(fields)
    return services.save_goal(actor=cast.therapist, version=version, goal=None, text=text, meta=META, **values)  # type: ignore[arg-type]


def add_intervention(
    cast: Cast, version: PlanVersion, text: str, *, owner: User | None = None, discipline: str = "therapy"
) -> Intervention:
    return services.save_intervention(
        actor=cast.therapist,
        version=version,
        intervention=None,
        text=text,
        discipline=discipline,
        owner=owner or cast.therapist,
        frequency="weekly",
        status="active",
        meta=META,
    )


def filled_draft(cast: Cast, *, goals: int = 1, interventions: int = 1, summary: str = SUMMARY) -> PlanVersion:
    """A draft with a summary, goals and interventions: ready to sign."""
    version = draft(cast)
    if summary:
        version = services.save_overview(
            actor=cast.therapist,
            version=version,
            summary=summary,
            review_on=review_date(cast),
            change_note="",
            problem_list=None,
            meta=META,
        )
    for n in range(1, goals + 1):
        add_goal(cast, version, f"Goal number {n}")
    for n in range(1, interventions + 1):
        owner, discipline = (cast.therapist, "therapy") if n % 2 else (cast.prescriber, "medication")
        add_intervention(cast, version, f"Intervention number {n}", owner=owner, discipline=discipline)
    version.refresh_from_db()
    return version


def sign_both(cast: Cast, version: PlanVersion) -> PlanVersion:
    services.sign(actor=cast.therapist, version=version, discipline="therapy", meta=META)
    return services.sign(actor=cast.prescriber, version=version, discipline="medication", meta=META)


def in_force(cast: Cast, *, goals: int = 1, interventions: int = 1) -> PlanVersion:
    return sign_both(cast, filled_draft(cast, goals=goals, interventions=interventions))
