"""DSM-5-TR diagnostic criteria as checklists, read from the reviewed data
file ``data/criteria.json``, and the engine that says whether a set of
ticked criteria reaches a disorder's threshold.

A criteria set lists its criteria (id, paraphrased text, the DSM letter
group) and its requirements. Every criterion is phrased so that "met" counts
toward the diagnosis, exclusions included ("There has never been a manic
episode."), so ticking one more box can never undo a reached threshold.

Requirements are written in a small rule language. Every rule has a
``label`` and a ``kind``, and may have an ``id`` (nested rules use it to
name themselves for presentations):

``{"kind": "all", "of": [ids]}``
    every listed criterion is met (duration, impairment, exclusions).
``{"kind": "at_least", "n": N, "of": [ids], ...}``
    at least N of the listed criteria are met. Optional parts:
    ``"including": {"of": [ids], "note": "..."}`` -- at least one of these
    (a subset of ``of``) must be among them;
    ``"if_met": [{"criterion": id, "n": M, "note": "..."}]`` -- N drops to M
    when that criterion is met (M must be lower than N);
    ``"under_age": [{"under": AGE, "n": M}]`` -- N is M for people younger
    than AGE (the lowest matching AGE wins). N itself is the adult threshold,
    used when no age is given.
``{"kind": "either", "rules": [rules]}``
    at least one of the nested rules is met ("and/or").

A set may also list ``presentations``: ``{"name", "met": [rule ids],
"unmet": [rule ids]}``. When the threshold is reached, the first presentation
whose named rules are met and unmet as listed is reported (ADHD's
combined / predominantly inattentive / predominantly hyperactive/impulsive).

Everything is checked when the file is loaded (``parse``): unknown fields or
rule kinds, duplicate ids, references to criteria or rules that do not
exist, thresholds larger than their lists, and criteria no requirement uses.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

DATA = Path(__file__).resolve().parent / "data" / "criteria.json"
ID_FORMAT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")

Kind = Literal["all", "at_least", "either"]
KINDS: tuple[Kind, ...] = ("all", "at_least", "either")
_COMMON_FIELDS = {"label", "kind", "id"}
_KIND_FIELDS: dict[str, set[str]] = {
    "all": {"of"},
    "at_least": {"of", "n", "including", "if_met", "under_age"},
    "either": {"rules"},
}
_SET_FIELDS = {"key", "name", "version", "source", "verified", "criteria", "requirements", "presentations"}


class CriteriaError(ValueError):
    """A criteria file that cannot be used as it stands, or a bad request to evaluate one."""


@dataclass(frozen=True)
class Criterion:
    id: str
    text: str
    group: str


@dataclass(frozen=True)
class LowerIfMet:
    """In an ``at_least`` rule: only ``n`` are needed when ``criterion`` is met."""

    criterion: str
    n: int
    note: str


@dataclass(frozen=True)
class AgeThreshold:
    """In an ``at_least`` rule: ``n`` are needed for people younger than ``under``."""

    under: int
    n: int


@dataclass(frozen=True)
class Requirement:
    """One rule of a criteria set; see the module docstring for the kinds."""

    label: str
    kind: Kind
    of: tuple[str, ...] = ()
    n: int = 0
    including: tuple[str, ...] = ()
    including_note: str = ""
    if_met: tuple[LowerIfMet, ...] = ()
    under_age: tuple[AgeThreshold, ...] = ()
    rules: tuple[Requirement, ...] = ()
    id: str = ""

    def walk(self) -> Iterator[Requirement]:
        """This rule and every rule nested in it."""
        yield self
        for rule in self.rules:
            yield from rule.walk()

    def criterion_ids(self) -> Iterator[str]:
        """Every criterion id this rule and its nested rules refer to."""
        for rule in self.walk():
            yield from rule.of
            yield from rule.including
            yield from (lower.criterion for lower in rule.if_met)

    def threshold(self, met: frozenset[str], age: int | None) -> tuple[int, str]:
        """How many of ``of`` an ``at_least`` rule needs, and a short note on why."""
        needed, notes = self.n, []
        if self.under_age:
            younger = [a for a in self.under_age if age is not None and age < a.under]
            if age is None:
                notes.append("adult threshold, no age given")
            elif younger:
                rule = min(younger, key=lambda a: a.under)
                needed = rule.n
                notes.append(f"under {rule.under}")
            else:
                notes.append(f"age {max(a.under for a in self.under_age)} or older")
        applying = [lower for lower in self.if_met if lower.criterion in met and lower.n < needed]
        if applying:
            lowest = min(applying, key=lambda lower: lower.n)
            needed = lowest.n
            notes.append(lowest.note)
        else:
            notes += [f"{lower.n} {lower.note}" for lower in self.if_met if lower.n < needed]
        return needed, "; ".join(notes)


@dataclass(frozen=True)
class Presentation:
    """A specifier chosen from which nested rules (by id) are met and unmet."""

    name: str
    met: tuple[str, ...]
    unmet: tuple[str, ...]


@dataclass(frozen=True)
class CriteriaSet:
    key: str
    name: str
    version: str
    source: str
    verified: bool
    criteria: tuple[Criterion, ...]
    requirements: tuple[Requirement, ...]
    presentations: tuple[Presentation, ...] = ()

    def criterion(self, id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == id:
                return criterion
        raise CriteriaError(f"{self.key}: no criterion {id!r}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria)


@dataclass(frozen=True)
class RequirementResult:
    label: str
    met: bool
    count: int
    needed: int
    explanation: str


@dataclass(frozen=True)
class Evaluation:
    set_key: str
    reached: bool
    results: tuple[RequirementResult, ...]
    met: tuple[str, ...]
    presentation: str

    @property
    def unmet(self) -> tuple[RequirementResult, ...]:
        return tuple(r for r in self.results if not r.met)

    @property
    def summary(self) -> str:
        if not self.reached:
            return "Threshold not reached: " + "; ".join(r.label for r in self.unmet) + "."
        total = len(self.results)
        text = f"Threshold reached: all {total} requirements met" if total > 1 else "Threshold reached: requirement met"
        return text + (f"; {self.presentation} presentation." if self.presentation else ".")


# Loading and checking


def _field(raw: dict[str, Any], name: str, where: str) -> Any:
    if name not in raw:
        raise CriteriaError(f"{where}: missing {name!r}")
    return raw[name]


def _text(raw: dict[str, Any], name: str, where: str) -> str:
    value = _field(raw, name, where)
    if not isinstance(value, str) or not value.strip():
        raise CriteriaError(f"{where}: {name!r} must be a non-empty string")
    return str(value)


def _count(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CriteriaError(f"{where}: {name!r} must be a whole number of at least 1")
    return int(value)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CriteriaError(f"{where}: expected an object")
    return cast(dict[str, Any], value)


def _list(value: Any, name: str, where: str, *, empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not empty):
        raise CriteriaError(f"{where}: {name!r} must be a {'' if empty else 'non-empty '}list")
    return value


def _ids(value: Any, name: str, where: str) -> tuple[str, ...]:
    ids = _list(value, name, where)
    if not all(isinstance(i, str) for i in ids):
        raise CriteriaError(f"{where}: {name!r} must list criterion ids")
    if len(set(ids)) != len(ids):
        raise CriteriaError(f"{where}: {name!r} repeats an id")
    return tuple(ids)


def _no_extra(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise CriteriaError(f"{where}: unknown field(s) {', '.join(extra)}")


def _requirement(raw_value: Any, where: str) -> Requirement:
    raw = _object(raw_value, where)
    label = _text(raw, "label", where)
    where = f"{where} {label!r}"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise CriteriaError(f"{where}: unknown rule kind {kind!r} (expected one of {', '.join(KINDS)})")
    _no_extra(raw, _COMMON_FIELDS | _KIND_FIELDS[kind], where)
    rule_id = raw.get("id", "")
    if not isinstance(rule_id, str) or (rule_id and not ID_FORMAT.match(rule_id)):
        raise CriteriaError(f"{where}: bad rule id {rule_id!r}")
    kind = cast(Kind, kind)
    if kind == "all":
        return Requirement(label=label, kind=kind, of=_ids(_field(raw, "of", where), "of", where), id=rule_id)
    if kind == "either":
        rules = tuple(
            _requirement(r, f"{where} rule {i + 1}")
            for i, r in enumerate(_list(_field(raw, "rules", where), "rules", where))
        )
        if len(rules) < 2:
            raise CriteriaError(f"{where}: 'either' needs at least two rules")
        return Requirement(label=label, kind=kind, rules=rules, id=rule_id)
    of = _ids(_field(raw, "of", where), "of", where)
    n = _count(_field(raw, "n", where), "n", where)
    if n > len(of):
        raise CriteriaError(f"{where}: needs {n} but lists only {len(of)}")
    including: tuple[str, ...] = ()
    note = ""
    if "including" in raw:
        inc = _object(raw["including"], f"{where} including")
        _no_extra(inc, {"of", "note"}, f"{where} including")
        including = _ids(_field(inc, "of", f"{where} including"), "of", f"{where} including")
        note = _text(inc, "note", f"{where} including")
        if not set(including) <= set(of):
            raise CriteriaError(f"{where}: 'including' must be a subset of 'of'")
    lowers = []
    for i, item in enumerate(_list(raw.get("if_met", []), "if_met", where, empty=True)):
        at = f"{where} if_met {i + 1}"
        lower = _object(item, at)
        _no_extra(lower, {"criterion", "n", "note"}, at)
        m = _count(_field(lower, "n", at), "n", at)
        if m >= n:
            raise CriteriaError(f"{at}: a met criterion may only lower the threshold ({m} is not below {n})")
        lowers.append(LowerIfMet(criterion=_text(lower, "criterion", at), n=m, note=_text(lower, "note", at)))
    ages = []
    for i, item in enumerate(_list(raw.get("under_age", []), "under_age", where, empty=True)):
        at = f"{where} under_age {i + 1}"
        age_rule = _object(item, at)
        _no_extra(age_rule, {"under", "n"}, at)
        m = _count(_field(age_rule, "n", at), "n", at)
        if m > len(of):
            raise CriteriaError(f"{at}: needs {m} but lists only {len(of)}")
        ages.append(AgeThreshold(under=_count(_field(age_rule, "under", at), "under", at), n=m))
    if len({a.under for a in ages}) != len(ages):
        raise CriteriaError(f"{where}: 'under_age' repeats an age")
    return Requirement(
        label=label,
        kind=kind,
        of=of,
        n=n,
        including=including,
        including_note=note,
        if_met=tuple(lowers),
        under_age=tuple(ages),
        id=rule_id,
    )


def _presentation(raw_value: Any, where: str) -> Presentation:
    raw = _object(raw_value, where)
    _no_extra(raw, {"name", "met", "unmet"}, where)
    name = _text(raw, "name", where)
    met = _list(raw.get("met", []), "met", where, empty=True)
    unmet = _list(raw.get("unmet", []), "unmet", where, empty=True)
    if not all(isinstance(i, str) for i in met + unmet):
        raise CriteriaError(f"{where}: 'met' and 'unmet' must list rule ids")
    return Presentation(name=name, met=tuple(met), unmet=tuple(unmet))


def _set(raw_value: Any, where: str) -> CriteriaSet:
    raw = _object(raw_value, where)
    key = _text(raw, "key", where)
    where = f"criteria set {key!r}"
    _no_extra(raw, _SET_FIELDS, where)
    verified = _field(raw, "verified", where)
    if not isinstance(verified, bool):
        raise CriteriaError(f"{where}: 'verified' must be true or false")
    criteria = []
    for i, item in enumerate(_list(_field(raw, "criteria", where), "criteria", where)):
        at = f"{where} criterion {i + 1}"
        entry = _object(item, at)
        _no_extra(entry, {"id", "text", "group"}, at)
        criterion = Criterion(id=_text(entry, "id", at), text=_text(entry, "text", at), group=_text(entry, "group", at))
        if not ID_FORMAT.match(criterion.id):
            raise CriteriaError(f"{at}: bad criterion id {criterion.id!r}")
        criteria.append(criterion)
    requirements = tuple(
        _requirement(r, f"{where} requirement {i + 1}")
        for i, r in enumerate(_list(_field(raw, "requirements", where), "requirements", where))
    )
    presentations = tuple(
        _presentation(p, f"{where} presentation {i + 1}")
        for i, p in enumerate(_list(raw.get("presentations", []), "presentations", where, empty=True))
    )
    criteria_set = CriteriaSet(
        key=key,
        name=_text(raw, "name", where),
        version=_text(raw, "version", where),
        source=_text(raw, "source", where),
        verified=verified,
        criteria=tuple(criteria),
        requirements=requirements,
        presentations=presentations,
    )
    check(criteria_set)
    return criteria_set


def check(criteria_set: CriteriaSet) -> None:
    """Refuse a criteria set whose parts do not fit together."""
    where = f"criteria set {criteria_set.key!r}"
    ids = criteria_set.ids
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CriteriaError(f"{where}: duplicate criterion id(s) {', '.join(repeated)}")
    used = {i for r in criteria_set.requirements for i in r.criterion_ids()}
    unknown = sorted(used - set(ids))
    if unknown:
        raise CriteriaError(f"{where}: requirements name unknown criteria {', '.join(unknown)}")
    unused = [i for i in ids if i not in used]
    if unused:
        raise CriteriaError(f"{where}: no requirement uses criteria {', '.join(unused)}")
    rule_ids = [rule.id for r in criteria_set.requirements for rule in r.walk() if rule.id]
    if len(set(rule_ids)) != len(rule_ids):
        raise CriteriaError(f"{where}: rule ids repeat")
    names = [p.name for p in criteria_set.presentations]
    if len(set(names)) != len(names):
        raise CriteriaError(f"{where}: presentation names repeat")
    for presentation in criteria_set.presentations:
        missing = sorted(set(presentation.met + presentation.unmet) - set(rule_ids))
        if missing:
            raise CriteriaError(f"{where}: presentation {presentation.name!r} names unknown rules {', '.join(missing)}")
        if not presentation.met:
            raise CriteriaError(f"{where}: presentation {presentation.name!r} names no met rule")


def parse(raw: dict[str, Any]) -> dict[str, CriteriaSet]:
    """Build and check every criteria set in a decoded ``criteria.json``, keyed and ordered as in the file."""
    top = _object(raw, "criteria file")
    sets: dict[str, CriteriaSet] = {}
    for i, item in enumerate(_list(_field(top, "sets", "criteria file"), "sets", "criteria file")):
        criteria_set = _set(item, f"criteria set {i + 1}")
        if criteria_set.key in sets:
            raise CriteriaError(f"criteria set {criteria_set.key!r} appears twice")
        sets[criteria_set.key] = criteria_set
    return sets


@functools.cache
def all_sets() -> dict[str, CriteriaSet]:
    """Every criteria set in ``data/criteria.json``, checked, keyed and ordered as in the file."""
    with DATA.open(encoding="utf-8") as fh:
        return parse(json.load(fh))


def get(key: str) -> CriteriaSet:
    try:
        return all_sets()[key]
    except KeyError:
        raise CriteriaError(f"no criteria set {key!r}") from None


# Evaluation


def _result(rule: Requirement, met: frozenset[str], age: int | None, outcomes: dict[str, bool]) -> RequirementResult:
    """Evaluate one rule; record the outcome of every rule with an id in ``outcomes``."""
    if rule.kind == "either":
        parts = [_result(r, met, age, outcomes) for r in rule.rules]
        count = sum(p.met for p in parts)
        explanation = "At least one needed. " + " ".join(f"{p.label}: {p.explanation}." for p in parts)
        result = RequirementResult(rule.label, count >= 1, count, 1, explanation)
    elif rule.kind == "all":
        count = sum(i in met for i in rule.of)
        total = len(rule.of)
        if total == 1:
            explanation = "met" if count else "not met"
        else:
            explanation = f"{count} of {total} met" + ("" if count == total else f"; needs all {total}")
        result = RequirementResult(rule.label, count == total, count, total, explanation)
    else:
        count = sum(i in met for i in rule.of)
        needed, note = rule.threshold(met, age)
        explanation = f"{count} of {len(rule.of)} met; needs {needed}" + (f" ({note})" if note else "")
        ok = count >= needed
        if rule.including:
            explanation += f", including {rule.including_note}"
            if not any(i in met for i in rule.including):
                ok = False
                explanation += " (none met)"
        result = RequirementResult(rule.label, ok, count, needed, explanation)
    if rule.id:
        outcomes[rule.id] = result.met
    return result


def evaluate(criteria_set: CriteriaSet, met: Iterable[str], *, age: int | None = None) -> Evaluation:
    """Check the criteria ticked as met against every requirement of ``criteria_set``.

    ``age`` (in whole years) selects age-dependent thresholds; without it the adult thresholds apply.
    """
    if isinstance(met, str):
        raise CriteriaError("met must be a collection of criterion ids, not a single string")
    chosen = frozenset(met)
    unknown = sorted(repr(i) for i in chosen - set(criteria_set.ids))
    if unknown:
        raise CriteriaError(f"{criteria_set.key}: unknown criteria {', '.join(unknown)}")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise CriteriaError(f"age must be a whole number of years, not {age!r}")
    outcomes: dict[str, bool] = {}
    results = tuple(_result(r, chosen, age, outcomes) for r in criteria_set.requirements)
    reached = all(r.met for r in results)
    presentation = ""
    if reached:
        presentation = next(
            (
                p.name
                for p in criteria_set.presentations
                if all(outcomes[i] for i in p.met) and not any(outcomes[i] for i in p.unmet)
            ),
            "",
        )
    return Evaluation(
        set_key=criteria_set.key,
        reached=reached,
        results=results,
        met=tuple(i for i in criteria_set.ids if i in chosen),
        presentation=presentation,
    )
