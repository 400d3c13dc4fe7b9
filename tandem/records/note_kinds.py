"""The encounter note templates, one per kind of note, by discipline.

A template is structured: named fields (short text, long text or a choice),
some required before signing, and always a free-text field at the end. The
note's text (what search, the PDF and the other clinician read) is rendered
from the fields in template order, so a note reads the same everywhere.

Psychotherapy notes are not here: they are kept apart (``PsychotherapyNote``)
and never enter the shared record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tandem.organizations.models import Role

FIELD_MAX = 8_000
SHORT_MAX = 200
FREE_TEXT = "additional"


@dataclass(frozen=True)
class NoteField:
    key: str
    label: str
    kind: str = "long"  # "short", "long" or "choice"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""

    @property
    def max_length(self) -> int:
        return SHORT_MAX if self.kind in ("short", "choice") else FIELD_MAX


@dataclass(frozen=True)
class NoteKind:
    key: str
    label: str
    # Who writes it: the roles whose members may start one.
    roles: frozenset[str]
    fields: tuple[NoteField, ...] = field(default_factory=tuple)
    format_name: str = ""

    def field(self, key: str) -> NoteField | None:
        return next((f for f in self.fields if f.key == key), None)


_ADDITIONAL = NoteField(FREE_TEXT, "Additional notes")
_PLAN = NoteField("plan", "Plan", required=True)
RISK_LEVELS = (("low", "Low"), ("moderate", "Moderate"), ("high", "High"), ("imminent", "Imminent"))
CONTACT_METHODS = (("phone", "Phone"), ("video", "Video"), ("in_person", "In person"), ("secure_message", "Message"))

KINDS: tuple[NoteKind, ...] = (
    NoteKind(
        "psychiatric_evaluation",
        "Psychiatric evaluation",
        frozenset({Role.PRESCRIBER}),
        (
            NoteField("reason", "Reason for referral and chief complaint", required=True),
            NoteField(
                "history",
                "History",
                required=True,
                help="Present illness; past psychiatric, substance use, medical, family and social history.",
            ),
            NoteField(
                "mental_status",
                "Mental status exam",
                required=True,
                help="Appearance, behavior, speech, mood and affect, thought process and content, perception, "
                "cognition, insight and judgment.",
            ),
            NoteField("risk_level", "Suicide and violence risk", "choice", required=True, choices=RISK_LEVELS),
            NoteField("risk", "Risk assessment", required=True, help="Risk and protective factors; safety plan."),
            NoteField("diagnosis", "DSM-5 diagnosis", "short", required=True, help="With its ICD-10-CM code."),
            _PLAN,
            _ADDITIONAL,
        ),
    ),
    NoteKind(
        "medication_management",
        "Medication management",
        frozenset({Role.PRESCRIBER}),
        (
            NoteField("subjective", "Subjective", required=True, help="Symptoms, response, side effects, adherence."),
            NoteField("objective", "Objective", required=True, help="Mental status, vital signs, scores, labs."),
            NoteField("assessment", "Assessment", required=True),
            _PLAN,
            _ADDITIONAL,
        ),
        format_name="SOAP",
    ),
    NoteKind(
        "therapy_dap",
        "Therapy progress note (DAP)",
        frozenset({Role.THERAPIST}),
        (
            NoteField("data", "Data", required=True, help="What the client said and did; what was observed."),
            NoteField("assessment", "Assessment", required=True, help="Progress toward goals; clinical impressions."),
            _PLAN,
            _ADDITIONAL,
        ),
        format_name="DAP",
    ),
    NoteKind(
        "therapy_birp",
        "Therapy progress note (BIRP)",
        frozenset({Role.THERAPIST}),
        (
            NoteField("behavior", "Behavior", required=True, help="The client's presentation and reports."),
            NoteField("intervention", "Intervention", required=True, help="What the clinician did."),
            NoteField("response", "Response", required=True, help="How the client responded."),
            _PLAN,
            _ADDITIONAL,
        ),
        format_name="BIRP",
    ),
    NoteKind(
        "provider_consult",
        "Provider consult",
        frozenset({Role.THERAPIST, Role.PRESCRIBER}),
        (
            NoteField("with_whom", "Consulted with", "short", required=True),
            NoteField("question", "Question", required=True),
            NoteField("discussion", "Discussion", required=True),
            NoteField("recommendations", "Recommendations and who does what", required=True),
            _ADDITIONAL,
        ),
    ),
    NoteKind(
        "collateral_contact",
        "Collateral contact",
        frozenset({Role.THERAPIST, Role.PRESCRIBER}),
        (
            NoteField("contact", "Who was contacted", "short", required=True, help="Name and relationship."),
            NoteField("method", "How", "choice", required=True, choices=CONTACT_METHODS),
            NoteField("authority", "Release or basis for the contact", "short", required=True),
            NoteField("summary", "Summary", required=True),
            NoteField("plan", "Plan"),
            _ADDITIONAL,
        ),
    ),
)
BY_KEY = {k.key: k for k in KINDS}
# What an addendum's author writes: the text added. The note it adds to stays
# as it was, and the addendum's version reads as that note followed by this.
ADDENDUM = NoteKind(
    "addendum",
    "Addendum",
    frozenset({Role.THERAPIST, Role.PRESCRIBER}),
    (NoteField("addendum", "Addendum", required=True),),
)
# A filed record (an outside report, a list) rather than an encounter note.
RECORD = "record"
KIND_CHOICES = [(RECORD, "Filed record"), *((k.key, k.label) for k in KINDS)]


def kinds_for(roles: set[str]) -> list[NoteKind]:
    return [k for k in KINDS if k.roles & roles]


def clean_fields(kind: NoteKind, given: Mapping[str, object]) -> dict[str, str]:
    """The template's fields from ``given``, as stripped text: unknown keys are
    dropped, a choice outside its list is dropped, and each value is cut to
    its field's limit. Validation for signing is ``missing``."""
    out: dict[str, str] = {}
    for f in kind.fields:
        value = given.get(f.key)
        if not isinstance(value, str):
            continue
        value = value.replace("\r\n", "\n").strip()
        if f.kind == "choice" and value and value not in dict(f.choices):
            continue
        if value:
            out[f.key] = value
    return out


def too_long(kind: NoteKind, values: dict[str, str]) -> list[str]:
    return [f.label for f in kind.fields if len(values.get(f.key, "")) > f.max_length]


def missing(kind: NoteKind, values: dict[str, str]) -> list[str]:
    """The labels of required fields still empty: a note is signed only without any."""
    return [f.label for f in kind.fields if f.required and not values.get(f.key, "").strip()]


def render_text(kind: NoteKind, values: dict[str, str]) -> str:
    """The note as one text, in template order, headed by each field's label."""
    parts = []
    for f in kind.fields:
        value = values.get(f.key, "")
        if not value:
            continue
        shown = dict(f.choices).get(value, value) if f.kind == "choice" else value
        parts.append(f"{f.label}:\n{shown}")
    return "\n\n".join(parts)
