"""Score histories for the demo: a PHQ-9 and a GAD-7 every two weeks for each
patient shared with a prescriber, since their first session, in four shapes
(responding, remitting, flat at ten weeks, slowly improving), and one open
safety alert from a PHQ-9 this morning."""

from __future__ import annotations

import datetime

from django.utils import timezone

from tandem.accounts.models import User
from tandem.measures import instruments, scoring
from tandem.measures.models import Response, ResponseStatus, SafetyAlert, Source
from tandem.organizations.models import Organization
from tandem.patients.models import CareTeamMember, Patient

# PHQ-9 from the first measure to the latest, by shape; GAD-7 follows at about 3/4.
SHAPES = {
    "responding": (18, 8),
    "remitting": (15, 3),
    "flat": (14, 13),
    "slow": (12, 9),
}
ORDER = ["responding", "remitting", "flat", "slow"]


def _answers(key: str, total: int, last_item: int = 0) -> dict[str, int]:
    """Answers adding up to ``total``, the last scored item set apart (PHQ-9 item 9)."""
    instrument = instruments.get(key)
    scored = [i for i in instrument.items if i.scored]
    answers = {scored[-1].id: last_item} if key == "phq9" else {}
    left = total - last_item
    for item in scored:
        if item.id in answers:
            continue
        points = min(left, item.max_points)
        answers[item.id] = points
        left -= points
    return answers


def _response(
    patient: Patient, organization: Organization, who: User, key: str, answers: dict[str, int], at: datetime.datetime
) -> Response:
    instrument = instruments.get(key)
    result = scoring.score(instrument, answers, {"sex_at_birth": patient.sex_at_birth})
    assert result.complete and result.total is not None
    return Response(
        patient=patient,
        organization=organization,
        instrument=key,
        instrument_version=instrument.version,
        source=Source.IN_SESSION,
        administered_by=who,
        answers=answers,
        status=ResponseStatus.COMPLETE,
        total=result.total,
        band=result.band or "",
        positive=result.positive,
        critical=[{"item": c.item, "label": c.label} for c in result.critical],
        started_at=at - datetime.timedelta(minutes=4),
        completed_at=at,
    )


def seed_measures(orgs: dict[str, Organization], users: dict[str, User], riverbend: list[Patient]) -> int:
    now = timezone.now()
    rows: list[Response] = []
    therapists = {
        m.patient_id: m
        for m in CareTeamMember.objects.filter(
            patient__in=riverbend[:35], organization=orgs["riverbend"]
        ).select_related("user")
    }
    for i, patient in enumerate(riverbend[:35]):
        member = therapists.get(patient.pk)
        if member is None:
            continue
        start, end = SHAPES[ORDER[i % len(ORDER)]]
        first = max(
            timezone.make_aware(datetime.datetime.combine(member.starts_on, datetime.time(10))),
            now - datetime.timedelta(weeks=12),
        )
        visits = max(int((now - first).days // 14) + 1, 1)
        for n in range(visits):
            at = min(first + datetime.timedelta(weeks=2 * n), now - datetime.timedelta(hours=2))
            share = n / (visits - 1) if visits > 1 else 1.0
            phq9 = round(start + (end - start) * share)
            rows.append(_response(patient, orgs["riverbend"], member.user, "phq9", _answers("phq9", phq9), at))
            gad7 = round(phq9 * 0.75)
            rows.append(_response(patient, orgs["riverbend"], member.user, "gad7", _answers("gad7", gad7), at))
    Response.objects.bulk_create(rows)
    # This morning's PHQ-9 for one patient answered item 9: an alert nobody has acknowledged yet.
    patient = riverbend[2]
    member = therapists[patient.pk]
    at = now - datetime.timedelta(minutes=20)
    critical = _response(patient, orgs["riverbend"], member.user, "phq9", _answers("phq9", 16, last_item=1), at)
    critical.save()
    SafetyAlert.objects.create(
        patient=patient,
        response=critical,
        organization=orgs["riverbend"],
        reasons=[c["label"] for c in critical.critical],
        opened_at=at,
    )
    return len(rows) + 1


def remove_measures(orgs: object) -> None:
    SafetyAlert.objects.filter(patient__practice__in=orgs).delete()
    Response.objects.filter(patient__practice__in=orgs).delete()
