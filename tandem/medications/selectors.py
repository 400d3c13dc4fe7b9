"""What the medication pages show, built from rows the policy already judged
visible: the timeline of every change, prescription, observation and lab
result, and the labs and vitals due by drug class."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tandem.medications import monitoring
from tandem.medications.models import (
    ChangeKind,
    LabResult,
    Medication,
    MedicationChange,
    MedicationStatus,
    Observation,
    Prescription,
)

DOSE_EVENTS = (ChangeKind.DOSE, ChangeKind.TAPER, ChangeKind.RESUME)


@dataclass(frozen=True)
class Event:
    day: datetime.date
    at: datetime.datetime
    kind: str  # change, prescription, observation, lab
    title: str
    detail: str
    who: str
    anchor: str
    medication: Medication | None = None


def timeline(
    changes: Iterable[MedicationChange],
    prescriptions: Iterable[Prescription],
    observations: Iterable[Observation],
    labs: Iterable[LabResult],
) -> list[Event]:
    """Everything that happened to the patient's medications, newest first."""
    events: list[Event] = []
    for c in changes:
        m = c.medication
        if c.kind == ChangeKind.START:
            title = f"{m.display} started"
        elif c.dose_before is not None and c.dose_after is not None and c.dose_before != c.dose_after:
            title = (
                f"{m.display} {c.get_kind_display().lower()}: {c.dose_before.normalize():f} → "
                f"{c.dose_after.normalize():f} {m.dose_unit}"
            )
        else:
            title = f"{m.display} {c.get_kind_display().lower()}"
        events.append(
            Event(c.effective_on, c.made_at, "change", title, c.reason, c.made_by.display_name, f"chg-{c.public_id}", m)
        )
    for p in prescriptions:
        m = p.medication
        detail = f"{p.sig}; #{p.quantity}, {p.days_supply} days, {p.refills} refills"
        events.append(
            Event(
                p.written_at.date(),
                p.written_at,
                "prescription",
                f"Prescription: {m.display} {p.strength} {p.form}",
                detail,
                p.prescriber.display_name,
                f"rx-{p.public_id}",
                m,
            )
        )
    for o in observations:
        about = f" ({o.medication.display})" if o.medication else ""
        events.append(
            Event(
                o.observed_on,
                o.created_at,
                "observation",
                f"{o.get_kind_display()}{about}",
                o.text,
                o.author.display_name,
                f"obs-{o.public_id}",
                o.medication,
            )
        )
    names = {t.key: t.name for t in monitoring.tests().values()}
    for r in labs:
        events.append(
            Event(
                r.collected_on,
                r.entered_at,
                "lab",
                f"{names.get(r.test, r.test)}: {r.value} {r.unit}".strip(),
                r.note,
                r.entered_by.display_name,
                f"lab-{r.public_id}",
            )
        )
    return sorted(events, key=lambda e: (e.day, e.at), reverse=True)


def courses(medications: Sequence[Medication], changes: Iterable[MedicationChange]) -> list[monitoring.Course]:
    """The courses monitoring follows: medications being taken (a held one is not)."""
    dose_days: dict[int, list[datetime.date]] = defaultdict(list)
    for c in changes:
        if c.kind in DOSE_EVENTS:
            dose_days[c.medication_id].append(c.effective_on)
    return [
        monitoring.Course(drug=m.drug, started_on=m.started_on, dose_changed_on=tuple(sorted(dose_days[m.pk])))
        for m in medications
        if m.status in (MedicationStatus.ACTIVE, MedicationStatus.TAPERING)
    ]


def due(
    medications: Sequence[Medication],
    changes: Iterable[MedicationChange],
    labs: Iterable[LabResult],
    today: datetime.date,
) -> list[monitoring.Due]:
    done: dict[str, list[datetime.date]] = defaultdict(list)
    for r in labs:
        done[r.test].append(r.collected_on)
    return monitoring.due(courses(medications, changes), done, today)
