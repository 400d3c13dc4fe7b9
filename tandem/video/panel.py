"""The clinical side panel of the video room: what the clinician in the call
may see of the chart, at a glance. Latest scores, the medication list, the
plan's goals and the diagnoses, each under the same consent gate as the chart,
and each noted in the accounting of disclosures when it crosses over.

Part 2 records stay on the chart, where their notice against redisclosure
goes with them. Scores, medications and the plan are chart records for now; the panel reads
the newest of each kind, so richer sources can replace these queries without
touching the room.
"""

from __future__ import annotations

from dataclasses import dataclass

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.consent.disclosures import Ledger
from tandem.records.models import Document

# How many of each kind of record the panel shows, newest first.
PER_SECTION = 3
SECTIONS: tuple[tuple[str, str, str], ...] = (
    (InfoClass.ASSESSMENTS, "Latest scores", "No scores are recorded yet."),
    (InfoClass.MEDICATIONS, "Medications", "No medication list is recorded yet."),
    (InfoClass.CARE_PLAN, "Treatment plan goals", "No treatment plan is recorded yet."),
    (InfoClass.DIAGNOSES, "Diagnoses", "No diagnoses are recorded yet."),
)


@dataclass(frozen=True)
class Section:
    title: str
    empty: str
    documents: list[Document]
    # Some organization on the care team holds this kind of information and
    # does not share it with this viewer. Depends on consent only, never on
    # which records exist.
    withheld: bool


def side_panel(ledger: Ledger) -> list[Section]:
    """The panel's sections for the viewer behind ``ledger``, noting what is shown."""
    sharing = ledger.sharing
    documents = [d for d in policy.visible_documents(sharing) if not d.part2]
    sources = ({sharing.patient.practice_id} | sharing.team_org_ids) - sharing.own_org_ids
    sections = []
    for info_class, title, empty in SECTIONS:
        shown = [d for d in documents if d.info_class == info_class][:PER_SECTION]
        for d in shown:
            ledger.note(d.organization_id, d.effective_class, f"document:{d.public_id}")
        withheld = any(not sharing.sees(info_class, source) for source in sources)
        sections.append(Section(title=title, empty=empty, documents=shown, withheld=withheld))
    return sections
