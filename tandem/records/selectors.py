"""What of a patient's record a viewer is shown, noted in the disclosure ledger as it is read."""

from __future__ import annotations

from dataclasses import dataclass

from tandem.access import policy
from tandem.access.classes import PART2_NOTICE, InfoClass
from tandem.consent.disclosures import Ledger
from tandem.records.models import Document


@dataclass(frozen=True)
class ChartRecords:
    shows_demographics: bool
    documents: list[Document]
    # Part 2 records of another organization carry the notice against redisclosure wherever they are shown.
    part2_notice: str


def chart_records(ledger: Ledger) -> ChartRecords:
    sharing = ledger.sharing
    patient = sharing.patient
    shows_demographics = ledger.note(patient.practice_id, InfoClass.DEMOGRAPHICS, f"patient:{patient.public_id}")
    documents = policy.visible_documents(sharing)
    for d in documents:
        ledger.note(d.organization_id, d.effective_class, f"document:{d.public_id}")
    crossed_part2 = any(d.part2 and d.organization_id not in sharing.own_org_ids for d in documents)
    return ChartRecords(shows_demographics, documents, PART2_NOTICE if crossed_part2 else "")


def encounter_notes(ledger: Ledger, encounter_id: int) -> list[Document]:
    """The signed notes of one visit this viewer may see (a co-treatment visit
    has one per clinician), noted in the ledger as they are shown."""
    sharing = ledger.sharing
    rows = policy.current_documents(sharing.patient).filter(encounter_id=encounter_id).order_by("signed_at", "pk")
    shown = [d for d in rows if sharing.sees(d.effective_class, d.organization_id)]
    for d in shown:
        ledger.note(d.organization_id, d.effective_class, f"document:{d.public_id}")
    return shown
