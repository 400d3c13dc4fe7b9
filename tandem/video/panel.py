"""The clinical side panel of the video room: what the clinician in the call
may see of the chart, at a glance. Latest scores, current medications, the
goals of the plan in force and the open diagnoses, each under the same
consent gate as their own pages, and each noted in the accounting of
disclosures when it crosses over.

Part 2 information stays on its own pages, where its notice against
redisclosure goes with it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.consent.disclosures import Ledger
from tandem.measures import instruments
from tandem.medications.models import MedicationStatus
from tandem.plans.models import DiagnosisStatus, VersionStatus

EMPTY = {
    InfoClass.ASSESSMENTS: "No scores are recorded yet.",
    InfoClass.MEDICATIONS: "No current medications.",
    InfoClass.CARE_PLAN: "No treatment plan is in force yet.",
    InfoClass.DIAGNOSES: "No open diagnoses.",
}
TITLES = {
    InfoClass.ASSESSMENTS: "Latest scores",
    InfoClass.MEDICATIONS: "Medications",
    InfoClass.CARE_PLAN: "Treatment plan goals",
    InfoClass.DIAGNOSES: "Diagnoses",
}


@dataclass(frozen=True)
class Item:
    title: str
    detail: str
    day: datetime.date | None


@dataclass(frozen=True)
class Section:
    title: str
    empty: str
    items: list[Item]
    # Some organization on the care team holds this kind of information and
    # does not share it with this viewer. Depends on consent only, never on
    # which records exist.
    withheld: bool


def side_panel(ledger: Ledger) -> list[Section]:
    """The panel's sections for the viewer behind ``ledger``, noting what is shown."""
    sharing = ledger.sharing
    items: dict[str, list[Item]] = {c: [] for c in TITLES}

    latest: dict[str, object] = {}
    for r in sorted(policy.visible_responses(sharing), key=lambda r: r.completed_at or r.started_at, reverse=True):
        if r.instrument in latest:
            continue
        latest[r.instrument] = r
        found = instruments.all_instruments().get(r.instrument)
        name = found.short_name if found else r.instrument
        day = r.completed_at.date() if r.completed_at else None
        items[InfoClass.ASSESSMENTS].append(Item(f"{name}: {r.total}", r.band, day))
        ledger.note(r.organization_id, InfoClass.ASSESSMENTS, f"assessment:{r.public_id}")

    for m in policy.visible_medications(sharing):
        if m.part2 or m.status == MedicationStatus.STOPPED:
            continue
        status = "" if m.status == MedicationStatus.ACTIVE else f" ({m.get_status_display().lower()})"
        items[InfoClass.MEDICATIONS].append(Item(f"{m.display} {m.dose_text}{status}", m.sig, m.started_on))
        ledger.note(m.organization_id, m.effective_class, f"medication:{m.public_id}")

    version = next((v for v in policy.visible_plan_versions(sharing) if v.status == VersionStatus.IN_FORCE), None)
    if version is not None:
        for g in version.goals.all():
            target = f"by {g.target_date:%b %d, %Y}" if g.target_date else ""
            items[InfoClass.CARE_PLAN].append(Item(g.text, target, None))
        ledger.note(version.organization_id, version.effective_class, f"plan:{version.public_id}")

    for d in policy.visible_diagnoses(sharing):
        if d.part2 or d.status == DiagnosisStatus.RESOLVED:
            continue
        items[InfoClass.DIAGNOSES].append(Item(d.label, d.get_status_display(), d.diagnosed_on))
        ledger.note(d.organization_id, d.effective_class, f"diagnosis:{d.public_id}")

    sources = ({sharing.patient.practice_id} | sharing.team_org_ids) - sharing.own_org_ids
    return [
        Section(
            title=title,
            empty=EMPTY[info_class],
            items=items[info_class],
            withheld=any(not sharing.sees(info_class, source) for source in sources),
        )
        for info_class, title in TITLES.items()
    ]
