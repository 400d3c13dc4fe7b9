"""The reviewed authorization templates, read from versioned TOML files.

Each template lives at ``data/templates/<key>/v<version>.toml``. A published
version is never edited: a change in wording is a new file with the next
version number, so a signed authorization can always be shown in the exact
words the patient agreed to. The hex SHA-256 of the file's bytes is kept with
the template so a stored signature can name the text it covers.

``validate`` checks that a template carries every element HIPAA (and, where it
applies, 42 CFR Part 2) expects of the form, uses only known placeholders and
names only known classes of information. ``load`` refuses a file that fails.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import re
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATES_DIR = Path(__file__).parent / "data" / "templates"

INFO_CLASS_KEYS: tuple[str, ...] = (
    "demographics",
    "appointments",
    "progress_notes",
    "medications",
    "assessments",
    "care_plan",
    "diagnoses",
    "psychotherapy_notes",
    "part2",
)

# The elements HIPAA (45 CFR 164.508(c)) requires of every valid authorization.
REQUIRED_ELEMENTS: tuple[str, ...] = (
    "description",
    "discloser",
    "recipient",
    "purpose",
    "expiry",
    "signature",
    "revocation",
    "conditioning",
    "redisclosure",
)

# Further elements a template of a given kind must carry.
EXTRA_ELEMENTS: dict[str, tuple[str, ...]] = {
    "part2": ("part2_scope", "part2_notice"),
    "psychotherapy_notes": ("not_combined",),
    "telehealth": ("telehealth_risks", "cost_sharing"),
    "coordination": (),
}

# Elements a template may carry without being required to.
OPTIONAL_ELEMENTS: tuple[str, ...] = ("copy",)

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "patient_name",
        "date_of_birth",
        "discloser",
        "recipient",
        "information",
        "purpose",
        "expiry",
        "revocation_contact",
        "cost_sharing",
    }
)

# Every template must name these somewhere in its text.
REQUIRED_PLACEHOLDERS: tuple[str, ...] = (
    "patient_name",
    "discloser",
    "recipient",
    "purpose",
    "expiry",
    "revocation_contact",
)

# Placeholders that belong to one kind of template only.
KIND_ONLY_PLACEHOLDERS: dict[str, str] = {"cost_sharing": "telehealth"}

# Classes of information that may only be released by a template of their own
# kind: psychotherapy notes need a separate authorization (45 CFR
# 164.508(b)(3)(ii)) and Part 2 records need a Part 2 consent.
CLASS_OWN_KIND: dict[str, str] = {"psychotherapy_notes": "psychotherapy_notes", "part2": "part2"}

ELEMENT_LABELS: dict[str, str] = {
    "description": "Description of the information",
    "discloser": "Who may disclose",
    "recipient": "Who receives the information",
    "purpose": "Purpose of the disclosure",
    "expiry": "Expiration date or event",
    "signature": "Signature, date and representative's authority",
    "revocation": "Right to revoke and how",
    "conditioning": "Whether care or payment depends on signing",
    "redisclosure": "Possible redisclosure by the recipient",
    "part2_scope": "Substance use disorder information covered",
    "part2_notice": "Notice prohibiting redisclosure and use against the patient",
    "not_combined": "Separate authorization for psychotherapy notes",
    "telehealth_risks": "Risks and benefits of care by video",
    "cost_sharing": "Cost-sharing for collaborative care",
    "copy": "Your copy of this form",
}

# Listing order in the chooser; any other key follows, alphabetically.
PREFERRED_ORDER: tuple[str, ...] = ("coordination", "psychotherapy_notes", "part2", "telehealth")

_TOP_LEVEL_REQUIRED: frozenset[str] = frozenset(
    {
        "key",
        "version",
        "title",
        "summary",
        "kind",
        "effective_on",
        "review_status",
        "review_note",
        "classes_allowed",
        "classes_default",
        "purpose_default",
        "sections",
    }
)
_TOP_LEVEL_OPTIONAL: frozenset[str] = frozenset({"expiry_default_days"})
_SECTION_KEYS: frozenset[str] = frozenset({"element", "heading", "text"})

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_FILE_RE = re.compile(r"^v([1-9][0-9]*)\.toml$")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


class TemplateError(Exception):
    """A template is missing, unreadable or does not meet the rules, or a
    render was asked for without a value it needs."""


@dataclasses.dataclass(frozen=True)
class Section:
    element: str
    heading: str
    text: str


@dataclasses.dataclass(frozen=True)
class ConsentTemplate:
    key: str
    version: int
    title: str
    summary: str
    kind: str
    effective_on: datetime.date
    review_status: str
    review_note: str
    classes_allowed: tuple[str, ...]
    classes_default: tuple[str, ...]
    purpose_default: str
    expiry_default_days: int | None
    sections: tuple[Section, ...]
    sha256: str

    def required_elements(self) -> tuple[str, ...]:
        """The elements this template must carry: HIPAA's core set plus those
        of its kind."""
        return REQUIRED_ELEMENTS + EXTRA_ELEMENTS.get(self.kind, ())


# --- finding files ---------------------------------------------------------


def _key_dir(key: str) -> Path:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise TemplateError(f"unknown consent template {key!r}")
    path = TEMPLATES_DIR / key
    if not path.is_dir():
        raise TemplateError(f"unknown consent template {key!r}")
    return path


def _keys() -> list[str]:
    if not TEMPLATES_DIR.is_dir():
        return []
    found = [p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir() and _KEY_RE.match(p.name)]
    found = [key for key in found if _versions_in(TEMPLATES_DIR / key)]
    rank = {key: index for index, key in enumerate(PREFERRED_ORDER)}
    return sorted(found, key=lambda key: (rank.get(key, len(rank)), key))


def _versions_in(directory: Path) -> list[int]:
    numbers = []
    for path in directory.iterdir():
        match = _FILE_RE.match(path.name)
        if match and path.is_file():
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def versions(key: str) -> list[int]:
    """The version numbers on file for ``key``, oldest first."""
    numbers = _versions_in(_key_dir(key))
    if not numbers:
        raise TemplateError(f"consent template {key!r} has no versions on file")
    return numbers


# --- reading a file --------------------------------------------------------


def _expect_str(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise TemplateError(f"{where}: {name} must be a string")
    return value


def _expect_str_list(data: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TemplateError(f"{where}: {name} must be a list of strings")
    return tuple(value)


def _parse(raw: bytes, where: str) -> ConsentTemplate:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{where}: not valid UTF-8 TOML: {exc}") from exc

    problems = []
    missing = sorted(_TOP_LEVEL_REQUIRED - data.keys())
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    unknown = sorted(data.keys() - _TOP_LEVEL_REQUIRED - _TOP_LEVEL_OPTIONAL)
    if unknown:
        problems.append(f"unknown keys: {', '.join(unknown)}")
    if problems:
        raise TemplateError(f"{where}: " + "; ".join(problems))

    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise TemplateError(f"{where}: version must be an integer")
    effective_on = data["effective_on"]
    if not isinstance(effective_on, datetime.date) or isinstance(effective_on, datetime.datetime):
        raise TemplateError(f"{where}: effective_on must be a TOML date such as 2026-11-01")
    expiry_days = data.get("expiry_default_days")
    if expiry_days is not None and (isinstance(expiry_days, bool) or not isinstance(expiry_days, int)):
        raise TemplateError(f"{where}: expiry_default_days must be an integer")

    raw_sections = data["sections"]
    if not isinstance(raw_sections, list):
        raise TemplateError(f"{where}: sections must be an array of tables ([[sections]])")
    sections = []
    for index, item in enumerate(raw_sections, start=1):
        place = f"{where}: section {index}"
        if not isinstance(item, dict):
            raise TemplateError(f"{place} must be a table")
        if item.keys() != _SECTION_KEYS:
            raise TemplateError(f"{place} must have exactly the keys element, heading and text")
        sections.append(
            Section(
                element=_expect_str(item, "element", place),
                heading=_expect_str(item, "heading", place),
                text=_expect_str(item, "text", place),
            )
        )

    return ConsentTemplate(
        key=_expect_str(data, "key", where),
        version=version,
        title=_expect_str(data, "title", where),
        summary=_expect_str(data, "summary", where),
        kind=_expect_str(data, "kind", where),
        effective_on=effective_on,
        review_status=_expect_str(data, "review_status", where),
        review_note=_expect_str(data, "review_note", where),
        classes_allowed=_expect_str_list(data, "classes_allowed", where),
        classes_default=_expect_str_list(data, "classes_default", where),
        purpose_default=_expect_str(data, "purpose_default", where),
        expiry_default_days=expiry_days,
        sections=tuple(sections),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


@functools.cache
def load(key: str, version: int | None = None) -> ConsentTemplate:
    """The template ``key`` at ``version``, or its latest version when
    ``version`` is None. Raises TemplateError for an unknown key or version,
    or a file that does not validate."""
    if version is None:
        return load(key, versions(key)[-1])
    if isinstance(version, bool) or not isinstance(version, int):
        raise TemplateError(f"consent template version must be an integer, not {version!r}")
    path = _key_dir(key) / f"v{version}.toml"
    if not path.is_file():
        raise TemplateError(f"consent template {key!r} has no version {version}")
    template = _parse(path.read_bytes(), f"{key}/v{version}.toml")
    validate(template, source=path)
    return template


def available() -> list[ConsentTemplate]:
    """The latest version of every template, in chooser order: coordination,
    psychotherapy notes, Part 2, telehealth, then any others by key."""
    return [load(key) for key in _keys()]


# --- checking --------------------------------------------------------------


def _placeholders(text: str) -> tuple[list[str], list[str]]:
    """The field names used in ``text``, and any problems with its braces."""
    names: list[str] = []
    problems: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return names, [f"malformed braces ({exc})"]
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "" or not field.isidentifier():
            problems.append(f"placeholder {{{field}}} is not a plain name")
            continue
        if spec or conversion:
            problems.append(f"placeholder {{{field}}} must not carry a conversion or format spec")
        names.append(field)
    return names, problems


def validate(template: ConsentTemplate, *, source: Path | None = None) -> None:
    """Check ``template`` against the rules; raise TemplateError listing every
    problem found. ``source`` is the file it was read from; without it the
    file is expected at ``data/templates/<key>/v<version>.toml``."""
    problems: list[str] = []

    # Where the file lives must agree with what it says it is.
    if source is not None:
        if source.parent.name != template.key:
            problems.append(f"key {template.key!r} does not match its directory {source.parent.name!r}")
        if source.name != f"v{template.version}.toml":
            problems.append(f"version {template.version} does not match its file name {source.name!r}")
    elif not (TEMPLATES_DIR / template.key / f"v{template.version}.toml").is_file():
        problems.append(f"no file {template.key}/v{template.version}.toml for key {template.key!r}")
    if not _KEY_RE.match(template.key):
        problems.append(f"key {template.key!r} must be lower-case letters, digits and underscores")
    if template.version < 1:
        problems.append(f"version must be 1 or more, not {template.version}")

    if template.kind not in EXTRA_ELEMENTS:
        problems.append(f"unknown kind {template.kind!r}")
    for name in ("title", "summary", "review_status", "review_note", "purpose_default"):
        if not getattr(template, name).strip():
            problems.append(f"{name} is empty")
    if template.expiry_default_days is not None and template.expiry_default_days < 1:
        problems.append("expiry_default_days must be 1 or more when given")

    # Classes of information.
    for field in ("classes_allowed", "classes_default"):
        values: tuple[str, ...] = getattr(template, field)
        unknown = [c for c in values if c not in INFO_CLASS_KEYS]
        if unknown:
            problems.append(f"{field} has unknown classes: {', '.join(unknown)}")
        repeated = sorted({c for c in values if values.count(c) > 1})
        if repeated:
            problems.append(f"{field} repeats: {', '.join(repeated)}")
    outside = [c for c in template.classes_default if c not in template.classes_allowed]
    if outside:
        problems.append(f"classes_default not in classes_allowed: {', '.join(outside)}")
    for info_class, own_kind in CLASS_OWN_KIND.items():
        if info_class in template.classes_allowed and template.kind != own_kind:
            problems.append(f"class {info_class!r} may only be allowed by a {own_kind!r} template")
        if template.kind == own_kind and template.classes_allowed != (info_class,):
            problems.append(f"a {own_kind!r} template must allow exactly [{info_class!r}]")

    # Elements: each required one exactly once, nothing unknown.
    required = template.required_elements()
    known = set(REQUIRED_ELEMENTS) | set(OPTIONAL_ELEMENTS) | {e for extra in EXTRA_ELEMENTS.values() for e in extra}
    present = [section.element for section in template.sections]
    for element in required:
        count = present.count(element)
        if count == 0:
            problems.append(f"missing element {element!r}")
        elif count > 1:
            problems.append(f"duplicate element {element!r} ({count} sections)")
    for element in sorted(set(present) - set(required)):
        if element not in known:
            problems.append(f"unknown element {element!r}")
        elif element not in OPTIONAL_ELEMENTS:
            problems.append(f"element {element!r} does not belong in a {template.kind!r} template")
        elif present.count(element) > 1:
            problems.append(f"duplicate element {element!r} ({present.count(element)} sections)")

    # Placeholders.
    used: set[str] = set()
    for section in template.sections:
        if not section.heading.strip():
            problems.append(f"section {section.element!r} has an empty heading")
        if "{" in section.heading or "}" in section.heading:
            problems.append(f"section {section.element!r} heading must not contain braces")
        if not section.text.strip():
            problems.append(f"section {section.element!r} has empty text")
        names, brace_problems = _placeholders(section.text)
        problems.extend(f"section {section.element!r}: {p}" for p in brace_problems)
        for name in names:
            if name not in PLACEHOLDERS:
                problems.append(f"section {section.element!r}: unknown placeholder {{{name}}}")
            elif name in KIND_ONLY_PLACEHOLDERS and template.kind != KIND_ONLY_PLACEHOLDERS[name]:
                problems.append(
                    f"section {section.element!r}: placeholder {{{name}}} belongs only in a "
                    f"{KIND_ONLY_PLACEHOLDERS[name]!r} template"
                )
        if section.element == "description" and "information" not in names:
            problems.append("the description element must use {information}")
        used.update(names)
    for name in REQUIRED_PLACEHOLDERS:
        if name not in used:
            problems.append(f"required placeholder {{{name}}} is not used")
    if template.kind == "telehealth" and "cost_sharing" not in used:
        problems.append("required placeholder {cost_sharing} is not used")

    if problems:
        label = f"{template.key}/v{template.version}"
        raise TemplateError(f"consent template {label} is not valid: " + "; ".join(problems))


# --- rendering -------------------------------------------------------------


class _Fields(dict[str, str]):
    """The values for a render; asking for one that is absent is an error."""

    def __missing__(self, name: str) -> str:
        raise TemplateError(f"no value given for placeholder {{{name}}}")


def _tidy(text: str) -> str:
    """Keep blank-line paragraph breaks; join the lines inside a paragraph."""
    paragraphs = []
    for block in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").strip()):
        joined = " ".join(line.strip() for line in block.split("\n") if line.strip())
        if joined:
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def render(template: ConsentTemplate, fields: dict[str, str]) -> list[dict[str, str]]:
    """The template's sections in order as ``{"element", "heading", "text"}``
    with every placeholder filled from ``fields``. Raises TemplateError when a
    placeholder has no value."""
    values = _Fields(fields)
    rendered = []
    for section in template.sections:
        text = _tidy(section.text).format_map(values)
        rendered.append({"element": section.element, "heading": section.heading.strip(), "text": text.strip()})
    return rendered
