"""Searching notes and messages, for the people who may see them.

What is searched: signed chart records (each note at its newest version) and
care-team messages that were not retracted, of the patients the viewer may
see. Every hit then passes the same gate as the chart: a record only if the
viewer's sharing shows its class from its organization, a message only if
the thread is open to them. Drafts and psychotherapy notes are never searched.

On PostgreSQL the match is full-text (``websearch`` syntax: words, "quoted
phrases", -exclusions), ranked. On SQLite every word must appear (case
aside) in the title or text; on the demo's data the two find the same hits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import reverse

from tandem.access import policy
from tandem.accounts.models import User
from tandem.messaging.models import Message
from tandem.patients.models import CareTeamMember, Patient
from tandem.records.models import Document, NoteStatus

QUERY_MAX = 100
CANDIDATES = 500
RESULTS = 50
WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    kind: str  # "record" or "message"
    patient: Patient
    title: str
    snippet: str
    link: str
    when: object


def words(query: str) -> list[str]:
    return [w for w in WORD.findall(query.lower()) if len(w) > 1][:10]


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _match(rows: QuerySet, query: str, fields: Iterable[str]) -> QuerySet:
    fields = list(fields)
    if _postgres():
        vector = SearchVector(*fields, config="english")
        wanted = SearchQuery(query, search_type="websearch", config="english")
        return (
            rows.annotate(document=vector, rank=SearchRank(vector, wanted))
            .filter(document=wanted)
            .order_by("-rank", "-pk")
        )
    condition = Q()
    for word in words(query):
        any_field = Q()
        for f in fields:
            any_field |= Q(**{f"{f}__icontains": word})
        condition &= any_field
    return rows.filter(condition).order_by("-pk")


def _snippet(text: str, query: str, width: int = 160) -> str:
    lowered = text.lower()
    at = min((i for w in words(query) if (i := lowered.find(w)) >= 0), default=0)
    start = max(at - width // 3, 0)
    piece = " ".join(text[start : start + width].split())
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


def search(user: User, query: str) -> list[Hit]:
    query = query.strip()[:QUERY_MAX]
    if not words(query):
        return []
    patients = policy.visible_patients(user)
    documents: list[Document] = list(
        _match(
            Document.objects.filter(patient__in=patients, status=NoteStatus.SIGNED)
            .exclude(amended_by__status=NoteStatus.SIGNED)
            .select_related("patient__practice", "author", "organization"),
            query,
            ["title", "body"],
        )[:CANDIDATES]
    )
    messages: list[Message] = list(
        _match(
            Message.objects.filter(thread__patient__in=patients, retracted_at__isnull=True).select_related(
                "thread__patient__practice", "author"
            ),
            query,
            ["body"],
        )[:CANDIDATES]
    )
    involved = {d.patient_id: d.patient for d in documents} | {m.thread.patient_id: m.thread.patient for m in messages}
    sharing = policy.sharing_for_patients(user, involved.values())
    teams: dict[int, list[CareTeamMember]] = {}
    for member in CareTeamMember.objects.filter(patient_id__in=involved):
        teams.setdefault(member.patient_id, []).append(member)
    hits: list[Hit] = []
    for d in documents:
        seen = sharing.get(d.patient_id)
        if seen is not None and seen.sees(d.effective_class, d.organization_id):
            hits.append(
                Hit(
                    "record",
                    d.patient,
                    d.title,
                    _snippet(d.body, query),
                    reverse("records:document", args=[d.patient.public_id, d.public_id]),
                    d.signed_at or d.created_at,
                )
            )
    for m in messages:
        patient = m.thread.patient
        seen = sharing.get(patient.pk)
        if seen is not None and policy.thread_open_to(user, seen, teams.get(patient.pk, [])):
            hits.append(
                Hit(
                    "message",
                    patient,
                    f"Message from {m.author.display_name}",
                    _snippet(m.body, query),
                    reverse("messaging:thread", args=[patient.public_id]) + f"#message-{m.public_id}",
                    m.created_at,
                )
            )
    return hits[:RESULTS]
