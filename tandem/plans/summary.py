"""The chart's view of the shared treatment: open diagnoses, the plan in force
(or waiting for a signature), current medications and the monitoring they
need, read through the consent gate, noting in the ledger what crosses over.
The same rows feed "since your last visit"."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch

from tandem.access import policy
from tandem.consent.disclosures import Ledger
from tandem.measures.models import Response
from tandem.medications import selectors as medication_selectors
from tandem.medications.models import Medication, MedicationChange, MedicationStatus
from tandem.medications.monitoring import Due
from tandem.plans.models import Diagnosis, DiagnosisStatus, PlanSignature, PlanVersion, VersionStatus


@dataclass
class CareSummary:
    diagnoses: list[Diagnosis] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    changes: list[MedicationChange] = field(default_factory=list)
    versions: list[PlanVersion] = field(default_factory=list)
    due: list[Due] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    @property
    def in_force(self) -> PlanVersion | None:
        return next((v for v in self.versions if v.status == VersionStatus.IN_FORCE), None)

    @property
    def working(self) -> PlanVersion | None:
        return next((v for v in self.versions if v.status in (VersionStatus.DRAFT, VersionStatus.SIGNING)), None)

    @property
    def overdue(self) -> list[Due]:
        return [d for d in self.due if d.overdue]


def care_summary(ledger: Ledger) -> CareSummary:
    sharing = ledger.sharing
    diagnoses = [d for d in policy.visible_diagnoses(sharing) if d.status != DiagnosisStatus.RESOLVED]
    medications = [m for m in policy.visible_medications(sharing) if m.status != MedicationStatus.STOPPED]
    changes = policy.visible_medication_changes(medications)
    labs = policy.visible_lab_results(sharing)
    versions = [
        v
        for v in PlanVersion.objects.filter(plan__patient=sharing.patient)
        .select_related("created_by")
        .prefetch_related(Prefetch("signatures", queryset=PlanSignature.objects.select_related("signer")))
        .order_by("-number")
        if sharing.sees(v.effective_class, v.organization_id)
    ]
    for d in diagnoses:
        ledger.note(d.organization_id, d.effective_class, f"diagnosis:{d.public_id}")
    for m in medications:
        ledger.note(m.organization_id, m.effective_class, f"medication:{m.public_id}")
    for v in versions:
        ledger.note(v.organization_id, v.effective_class, f"plan:{v.public_id}")
    for lab in labs:
        ledger.note(lab.organization_id, lab.effective_class, f"lab:{lab.public_id}")
    return CareSummary(
        diagnoses=diagnoses,
        medications=medications,
        changes=changes,
        versions=versions,
        due=medication_selectors.due(medications, changes, labs, sharing.patient.practice.local_date()),
        responses=policy.visible_responses(sharing),
    )
