"""The authorization templates on file, and the loader that reads them. None of
this touches the database."""

from __future__ import annotations

import dataclasses
import hashlib
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.consent import documents
from tandem.consent.documents import (
    EXTRA_ELEMENTS,
    INFO_CLASS_KEYS,
    PLACEHOLDERS,
    REQUIRED_ELEMENTS,
    ConsentTemplate,
    Section,
    TemplateError,
)

REAL_DIR = documents.TEMPLATES_DIR

KEYS = ["coordination", "psychotherapy_notes", "part2", "telehealth"]

FIELDS = {
    "patient_name": "Alex Rivera",
    "date_of_birth": "3 March 1990",
    "discloser": "Harbor Therapy Group",
    "recipient": "Northside Psychiatry",
    "information": "medications and care plan",
    "purpose": "To coordinate your treatment.",
    "expiry": "1 November 2027",
    "revocation_contact": "the privacy officer, privacy@example.test",
    "cost_sharing": "about $20 a month",
}


def placeholders_in(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.fixture(params=KEYS)
def template(request: pytest.FixtureRequest) -> ConsentTemplate:
    return documents.load(request.param)


def test_every_template_validates(template: ConsentTemplate) -> None:
    documents.validate(template)
    assert template.review_status == "draft-for-privacy-review"
    assert template.review_note.strip()
    assert template.key == template.kind


def test_each_required_element_appears_exactly_once(template: ConsentTemplate) -> None:
    elements = [section.element for section in template.sections]
    expected = REQUIRED_ELEMENTS + EXTRA_ELEMENTS[template.kind]
    assert template.required_elements() == expected
    for element in expected:
        assert elements.count(element) == 1, element
    assert elements.count("copy") == 1
    assert set(elements) == {*expected, "copy"}
    assert elements[0] == "description"
    assert elements[-1] == "signature"


def test_every_element_has_a_label(template: ConsentTemplate) -> None:
    for section in template.sections:
        assert documents.ELEMENT_LABELS[section.element]


def test_placeholders_are_all_known(template: ConsentTemplate) -> None:
    used: set[str] = set()
    for section in template.sections:
        used |= placeholders_in(section.text)
    assert used <= PLACEHOLDERS
    assert {"patient_name", "discloser", "recipient", "purpose", "expiry", "revocation_contact"} <= used
    description = next(s for s in template.sections if s.element == "description")
    assert "information" in placeholders_in(description.text)
    assert ("cost_sharing" in used) == (template.kind == "telehealth")


def test_classes_are_known_and_defaults_allowed(template: ConsentTemplate) -> None:
    assert set(template.classes_allowed) <= set(INFO_CLASS_KEYS)
    assert set(template.classes_default) <= set(template.classes_allowed)


def test_render_fills_every_placeholder(template: ConsentTemplate) -> None:
    rendered = documents.render(template, FIELDS)
    assert [r["element"] for r in rendered] == [s.element for s in template.sections]
    text = "\n".join(r["heading"] + "\n" + r["text"] for r in rendered)
    assert "{" not in text
    assert "}" not in text
    assert "Alex Rivera" in text
    assert "privacy@example.test" in text
    for item in rendered:
        assert set(item) == {"element", "heading", "text"}
        assert item["text"] == item["text"].strip()
        for paragraph in item["text"].split("\n\n"):
            assert paragraph
            assert "\n" not in paragraph


def test_render_keeps_paragraphs_and_joins_lines() -> None:
    base = documents.load("coordination")
    section = Section(element="purpose", heading=" Why ", text="\n  First line\n  goes on.\n\n  Second {purpose}\n")
    rendered = documents.render(dataclasses.replace(base, sections=(section,)), {"purpose": "here"})
    assert rendered == [{"element": "purpose", "heading": "Why", "text": "First line goes on.\n\nSecond here"}]


def test_render_with_a_missing_field_raises() -> None:
    fields = dict(FIELDS)
    del fields["recipient"]
    with pytest.raises(TemplateError, match="recipient"):
        documents.render(documents.load("coordination"), fields)


def test_validate_reports_a_missing_element() -> None:
    base = documents.load("part2")
    broken = dataclasses.replace(base, sections=tuple(s for s in base.sections if s.element != "part2_notice"))
    with pytest.raises(TemplateError, match="missing element 'part2_notice'"):
        documents.validate(broken)


def test_validate_reports_a_duplicate_element() -> None:
    base = documents.load("coordination")
    broken = dataclasses.replace(base, sections=(*base.sections, base.sections[0]))
    with pytest.raises(TemplateError, match="duplicate element 'description'"):
        documents.validate(broken)


def test_validate_reports_an_unknown_placeholder() -> None:
    base = documents.load("coordination")
    extra = Section(element="copy", heading="Copy", text="Sent to {email_address}.")
    sections = tuple(extra if s.element == "copy" else s for s in base.sections)
    with pytest.raises(TemplateError, match=r"unknown placeholder \{email_address\}"):
        documents.validate(dataclasses.replace(base, sections=sections))


def test_validate_reports_cost_sharing_outside_telehealth() -> None:
    base = documents.load("coordination")
    extra = Section(element="copy", heading="Copy", text="It costs {cost_sharing}.")
    sections = tuple(extra if s.element == "copy" else s for s in base.sections)
    with pytest.raises(TemplateError, match=r"\{cost_sharing\} belongs only in a 'telehealth' template"):
        documents.validate(dataclasses.replace(base, sections=sections))


def test_validate_reports_a_missing_required_placeholder() -> None:
    base = documents.load("coordination")
    sections = tuple(Section(s.element, s.heading, s.text.replace("{revocation_contact}", "us")) for s in base.sections)
    with pytest.raises(TemplateError, match=r"required placeholder \{revocation_contact\} is not used"):
        documents.validate(dataclasses.replace(base, sections=sections))


def test_validate_reports_bad_classes() -> None:
    base = documents.load("coordination")
    broken = dataclasses.replace(
        base, classes_allowed=(*base.classes_allowed, "genome"), classes_default=("demographics", "part2")
    )
    with pytest.raises(TemplateError) as caught:
        documents.validate(broken)
    message = str(caught.value)
    assert "classes_allowed has unknown classes: genome" in message
    assert "classes_default not in classes_allowed: part2" in message


def test_validate_refuses_psychotherapy_notes_in_another_template() -> None:
    base = documents.load("coordination")
    broken = dataclasses.replace(base, classes_allowed=(*base.classes_allowed, "psychotherapy_notes"))
    with pytest.raises(TemplateError, match="'psychotherapy_notes' may only be allowed by a 'psychotherapy_notes'"):
        documents.validate(broken)


def test_validate_lists_every_problem_at_once() -> None:
    base = documents.load("psychotherapy_notes")
    broken = dataclasses.replace(
        base,
        classes_allowed=("psychotherapy_notes", "bogus"),
        sections=tuple(s for s in base.sections if s.element not in {"not_combined", "signature"}),
    )
    with pytest.raises(TemplateError) as caught:
        documents.validate(broken)
    message = str(caught.value)
    assert "missing element 'not_combined'" in message
    assert "missing element 'signature'" in message
    assert "unknown classes: bogus" in message


def test_validate_reports_key_and_version_that_do_not_match_the_file() -> None:
    base = documents.load("coordination")
    source = documents.TEMPLATES_DIR / "coordination" / "v1.toml"
    with pytest.raises(TemplateError) as caught:
        documents.validate(dataclasses.replace(base, key="other", version=2), source=source)
    message = str(caught.value)
    assert "key 'other' does not match its directory 'coordination'" in message
    assert "version 2 does not match its file name 'v1.toml'" in message
    with pytest.raises(TemplateError, match=r"no file coordination/v7\.toml"):
        documents.validate(dataclasses.replace(base, version=7))


@pytest.mark.parametrize("key", ["nope", "../coordination", "", "Coordination"])
def test_load_unknown_key_raises(key: str) -> None:
    with pytest.raises(TemplateError):
        documents.load(key)


def test_load_unknown_version_raises() -> None:
    with pytest.raises(TemplateError, match="no version 99"):
        documents.load("coordination", 99)
    with pytest.raises(TemplateError):
        documents.versions("nope")


def test_load_latest_is_the_highest_version_and_cached() -> None:
    assert documents.versions("coordination") == [1]
    assert documents.load("coordination") is documents.load("coordination")
    assert documents.load("coordination") == documents.load("coordination", 1)


def test_sha256_is_of_the_file_bytes(template: ConsentTemplate) -> None:
    path = documents.TEMPLATES_DIR / template.key / f"v{template.version}.toml"
    assert template.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_available_order() -> None:
    assert [t.key for t in documents.available()] == KEYS
    assert documents.available()[0].kind == "coordination"


def test_psychotherapy_notes_allows_only_psychotherapy_notes() -> None:
    template = documents.load("psychotherapy_notes")
    assert template.classes_allowed == ("psychotherapy_notes",)
    not_combined = next(s for s in template.sections if s.element == "not_combined")
    assert "psychotherapy notes" in not_combined.text
    for key in KEYS:
        if key != "psychotherapy_notes":
            assert "psychotherapy_notes" not in documents.load(key).classes_allowed


def test_part2_allows_only_part2() -> None:
    template = documents.load("part2")
    assert template.classes_allowed == ("part2",)
    text = " ".join(s.text for s in template.sections).lower()
    assert "civil, criminal, administrative or legislative" in text
    assert "counseling notes" in text
    for key in KEYS:
        if key != "part2":
            assert "part2" not in documents.load(key).classes_allowed


def test_telehealth_gates_no_information_and_explains_cost() -> None:
    template = documents.load("telehealth")
    assert template.classes_allowed == ()
    assert template.classes_default == ()
    cost = next(s for s in template.sections if s.element == "cost_sharing")
    assert "{cost_sharing}" in cost.text
    assert "Medicare Part B" in cost.text


def test_info_class_keys_order() -> None:
    assert INFO_CLASS_KEYS == (
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


@pytest.fixture
def scratch_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point the loader at an empty folder, with its cache cleared either side."""
    documents.load.cache_clear()
    monkeypatch.setattr(documents, "TEMPLATES_DIR", tmp_path)
    yield tmp_path
    documents.load.cache_clear()


def test_load_refuses_a_file_whose_key_does_not_match_its_folder(scratch_dir: Path) -> None:
    raw = (REAL_DIR / "coordination" / "v1.toml").read_bytes()
    (scratch_dir / "other").mkdir()
    (scratch_dir / "other" / "v1.toml").write_bytes(raw)
    with pytest.raises(TemplateError, match="key 'coordination' does not match its directory 'other'"):
        documents.load("other")


def test_load_refuses_a_version_that_does_not_match_its_file_name(scratch_dir: Path) -> None:
    raw = (REAL_DIR / "coordination" / "v1.toml").read_bytes()
    (scratch_dir / "coordination").mkdir()
    (scratch_dir / "coordination" / "v2.toml").write_bytes(raw)
    with pytest.raises(TemplateError, match=r"version 1 does not match its file name 'v2\.toml'"):
        documents.load("coordination")


def test_load_refuses_unknown_keys_and_bad_toml(scratch_dir: Path) -> None:
    raw = (REAL_DIR / "coordination" / "v1.toml").read_text()
    (scratch_dir / "coordination").mkdir()
    (scratch_dir / "coordination" / "v1.toml").write_text('colour = "blue"\n' + raw)
    with pytest.raises(TemplateError, match="unknown keys: colour"):
        documents.load("coordination")
    (scratch_dir / "coordination" / "v2.toml").write_text("key = \n")
    with pytest.raises(TemplateError, match="not valid UTF-8 TOML"):
        documents.load("coordination", 2)


def test_load_picks_the_highest_version(scratch_dir: Path) -> None:
    raw = (REAL_DIR / "coordination" / "v1.toml").read_text()
    (scratch_dir / "coordination").mkdir()
    (scratch_dir / "coordination" / "v1.toml").write_text(raw)
    (scratch_dir / "coordination" / "v10.toml").write_text(raw.replace("version = 1\n", "version = 10\n"))
    (scratch_dir / "coordination" / "v2.toml").write_text(raw.replace("version = 1\n", "version = 2\n"))
    assert documents.versions("coordination") == [1, 2, 10]
    assert documents.load("coordination").version == 10
    assert [t.key for t in documents.available()] == ["coordination"]
