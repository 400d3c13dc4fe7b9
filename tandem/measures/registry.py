"""The collaborative-care registry: the viewer's caseload with first and
latest scores, the change, weeks in treatment, last contact, next
appointment, and the flags that decide who needs attention.

Built in a fixed number of queries however many patients and scores there
are: one for the patients with every figure as a correlated subquery, and
three for what the viewer may see of each (the consent gate). A patient's
scores show only where the viewer may see the patient's assessments; the
flags that depend on them are left off otherwise, and the row says so.

Flags (AIMS Center; clinical.md section 2):
* not improving: 8 to 12 weeks or more in treatment, and the latest score has
  not dropped by half from the first (no response);
* measurement overdue: no score in the last ``OVERDUE_DAYS``;
* no follow-up booked: nothing booked ahead;
* open safety alert;
* labs or vitals overdue: what the patient's current medications call for
  (``medications/data/monitoring.toml``), where the viewer may see them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone

from tandem.access import policy
from tandem.access.classes import InfoClass
from tandem.accounts.models import User
from tandem.measures import instruments, scoring
from tandem.measures.models import Response, ResponseStatus, SafetyAlert
from tandem.medications import selectors as med_selectors
from tandem.medications.models import LabResult, Medication, MedicationChange, MedicationStatus
from tandem.patients.models import CareTeamMember, Patient, active_on
from tandem.scheduling.models import Appointment, Status

NOT_IMPROVING_WEEKS = 8
OVERDUE_DAYS = 30
FLAGS = {
    "not_improving": "Not improving at 8+ weeks",
    "overdue": "Measurement overdue",
    "no_follow_up": "No follow-up booked",
    "alert": "Open safety alert",
    "labs_overdue": "Labs or vitals overdue",
}
SORTS = {"name", "change", "weeks", "latest", "last_contact"}


@dataclass
class Row:
    patient: Patient
    shown: bool  # the viewer may see this patient's scores
    first_total: int | None
    first_at: datetime.datetime | None
    latest_total: int | None
    latest_at: datetime.datetime | None
    weeks: int | None
    last_contact: datetime.datetime | None
    next_appointment: datetime.datetime | None
    flags: list[str] = field(default_factory=list)
    change: int | None = None
    response: bool | None = None
    remission: bool | None = None
    labs_overdue: list[str] = field(default_factory=list)


def _patients(user: User, instrument_key: str, now: datetime.datetime) -> QuerySet[Patient]:
    today = now.date()
    scores = Response.objects.filter(patient=OuterRef("pk"), instrument=instrument_key, status=ResponseStatus.COMPLETE)
    return (
        policy.visible_patients(user)
        .filter(Exists(CareTeamMember.objects.filter(active_on(today), patient=OuterRef("pk"), user=user)))
        .select_related("practice")
        .only(
            "public_id",
            "first_name",
            "last_name",
            "preferred_name",
            "practice__timezone",
            "practice__name",
            "practice__treatment_sharing_requires_authorization",
        )
        .annotate(
            first_total=Subquery(scores.order_by("completed_at", "pk").values("total")[:1]),
            first_at=Subquery(scores.order_by("completed_at", "pk").values("completed_at")[:1]),
            latest_total=Subquery(scores.order_by("-completed_at", "-pk").values("total")[:1]),
            latest_at=Subquery(scores.order_by("-completed_at", "-pk").values("completed_at")[:1]),
            team_since=Subquery(
                CareTeamMember.objects.filter(active_on(today), patient=OuterRef("pk"))
                .values("patient")
                .annotate(first=Min("starts_on"))
                .values("first")[:1]
            ),
            last_contact=Subquery(
                Appointment.objects.filter(patient=OuterRef("pk"), status=Status.COMPLETED, starts_at__lt=now)
                .order_by("-starts_at")
                .values("starts_at")[:1]
            ),
            next_appointment=Subquery(
                Appointment.objects.filter(patient=OuterRef("pk"), status=Status.BOOKED, starts_at__gte=now)
                .order_by("starts_at")
                .values("starts_at")[:1]
            ),
            open_alert=Exists(SafetyAlert.objects.filter(patient=OuterRef("pk"), acknowledged_at__isnull=True)),
        )
    )


def registry(
    user: User, instrument_key: str = "phq9", *, flag: str = "", sort: str = "name", at: datetime.datetime | None = None
) -> list[Row]:
    now = at or timezone.now()
    instrument = instruments.get(instrument_key)
    patients = list(_patients(user, instrument.key, now).order_by("last_name", "first_name", "pk"))
    sharing = policy.sharing_for_patients(user, patients, now)
    monitoring = _monitoring(patients)
    rows = []
    for p in patients:
        seen = sharing.get(p.pk)
        # Scores come from the organizations that measured; the practice's own, in the demo and usually.
        shown = seen is not None and seen.sees(InfoClass.ASSESSMENTS, p.practice_id)
        since = p.team_since  # type: ignore[attr-defined]
        start = p.first_at or (  # type: ignore[attr-defined]
            datetime.datetime.combine(since, datetime.time(12), tzinfo=datetime.UTC) if since else None
        )
        weeks = int((now - start).days // 7) if start else None
        row = Row(
            patient=p,
            shown=shown,
            first_total=p.first_total if shown else None,  # type: ignore[attr-defined]
            first_at=p.first_at if shown else None,  # type: ignore[attr-defined]
            latest_total=p.latest_total if shown else None,  # type: ignore[attr-defined]
            latest_at=p.latest_at if shown else None,  # type: ignore[attr-defined]
            weeks=weeks,
            last_contact=p.last_contact,  # type: ignore[attr-defined]
            next_appointment=p.next_appointment,  # type: ignore[attr-defined]
        )
        if shown and row.first_total is not None and row.latest_total is not None:
            outcome = scoring.change(instrument, row.first_total, row.latest_total)
            row.change, row.response, row.remission = outcome.change, outcome.response, outcome.remission
            if weeks is not None and weeks >= NOT_IMPROVING_WEEKS and not outcome.response:
                row.flags.append("not_improving")
        if shown and (row.latest_at is None or now - row.latest_at > datetime.timedelta(days=OVERDUE_DAYS)):
            row.flags.append("overdue")
        if row.next_appointment is None:
            row.flags.append("no_follow_up")
        if shown and p.open_alert:  # type: ignore[attr-defined]
            row.flags.append("alert")
        if seen is not None:
            medications, changes, labs = monitoring.get(p.pk, ([], [], []))
            visible = [m for m in medications if seen.sees(m.effective_class, m.organization_id)]
            labs = [r for r in labs if seen.sees(r.effective_class, r.organization_id)]
            today = p.practice.local_date(now)
            overdue = [d for d in med_selectors.due(visible, changes, labs, today) if d.overdue]
            row.labs_overdue = [d.test.name for d in overdue]
            if overdue:
                row.flags.append("labs_overdue")
        rows.append(row)
    if flag in FLAGS:
        rows = [r for r in rows if flag in r.flags]
    return _sorted(rows, sort if sort in SORTS else "name")


def _monitoring(
    patients: list[Patient],
) -> dict[int, tuple[list[Medication], list[MedicationChange], list[LabResult]]]:
    """Current medications, their dose changes and the lab results of every
    patient on the registry, in three queries."""
    ids = [p.pk for p in patients]
    current = Medication.objects.filter(
        patient_id__in=ids, status__in=[MedicationStatus.ACTIVE, MedicationStatus.TAPERING]
    )
    by_patient: dict[int, tuple[list[Medication], list[MedicationChange], list[LabResult]]] = {
        pk: ([], [], []) for pk in ids
    }
    patient_of: dict[int, int] = {}
    for m in current.only("pk", "patient_id", "organization_id", "drug", "started_on", "status", "part2"):
        by_patient[m.patient_id][0].append(m)
        patient_of[m.pk] = m.patient_id
    for c in MedicationChange.objects.filter(medication__in=current, kind__in=med_selectors.DOSE_EVENTS).only(
        "medication_id", "kind", "effective_on"
    ):
        by_patient[patient_of[c.medication_id]][1].append(c)
    for r in LabResult.objects.filter(patient_id__in=ids).only("patient_id", "organization_id", "test", "collected_on"):
        by_patient[r.patient_id][2].append(r)
    return by_patient


def _sorted(rows: list[Row], sort: str) -> list[Row]:
    far = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    keys = {
        "name": lambda r: (r.patient.last_name, r.patient.first_name),
        "change": lambda r: (r.change is None, r.change if r.change is not None else 0),
        "weeks": lambda r: (r.weeks is None, -(r.weeks or 0)),
        "latest": lambda r: (r.latest_total is None, -(r.latest_total or 0)),
        "last_contact": lambda r: r.last_contact or far,
    }
    return sorted(rows, key=keys[sort])
