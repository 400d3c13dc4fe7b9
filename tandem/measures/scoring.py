"""Scoring a response to an instrument, exactly as its data file says.

Answers are the position of the option chosen for each item (0 for the first
shown). Points come from the item: the position, or for a reverse-scored item
the position counted from the other end. An incomplete response (by the
instrument's stated rule for missing answers) gets no total, band or screen
result: it is never scored as if complete. Critical answers are read from
whatever was answered, complete or not, because a patient who stops after
answering item 9 still needs someone to call them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem.measures.instruments import Instrument, Item


@dataclass(frozen=True)
class Critical:
    item: str
    label: str


@dataclass(frozen=True)
class Result:
    complete: bool
    missing: tuple[str, ...]
    total: int | None
    band: str | None
    positive: bool | None
    critical: tuple[Critical, ...]
    subscales: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    baseline: int
    latest: int
    change: int
    # The drop as a share of the baseline; None when the baseline is 0.
    drop: float | None
    response: bool
    remission: bool | None


def asked(instrument: Instrument, item: Item, answers: Mapping[str, int]) -> bool:
    """Whether the item applies, given the answers so far (skip logic)."""
    if item.ask_if is None:
        return True
    source, at_least = item.ask_if
    choice = answers.get(source)
    return choice is not None and instrument.item(source).points(choice) >= at_least


def clean(instrument: Instrument, answers: Mapping[str, object]) -> dict[str, int]:
    """The answers as item id to choice, refusing unknown items and choices
    outside an item's options; answers to items that do not apply are dropped."""
    known = {i.id: i for i in instrument.items}
    out: dict[str, int] = {}
    for item_id, choice in answers.items():
        item = known.get(str(item_id))
        if item is None:
            raise ValueError(f"{instrument.short_name} has no item {item_id}.")
        if isinstance(choice, bool) or not isinstance(choice, int):
            raise ValueError(f"Item {item_id}: an answer is the number of an option.")
        item.points(choice)  # raises for a choice out of range
        out[item.id] = choice
    return {k: v for k, v in out.items() if asked(instrument, known[k], out)}


def _missing(instrument: Instrument, answers: Mapping[str, int]) -> tuple[str, ...]:
    rule = instrument.scoring["missing"]
    needed = []
    for item in instrument.items:
        if not asked(instrument, item, answers) or item.optional:
            continue
        if rule == "all_scored_items" and not item.scored:
            continue
        needed.append(item.id)
    return tuple(i for i in needed if i not in answers)


def _holds(instrument: Instrument, condition: Mapping[str, Any], answers: Mapping[str, int]) -> bool:
    item_id = str(condition["item"])
    choice = answers.get(item_id)
    return choice is not None and instrument.item(item_id).points(choice) >= int(condition["at_least"])


def _total(instrument: Instrument, answers: Mapping[str, int]) -> int:
    method = instrument.method
    if method == "sum":
        return sum(i.points(answers[i.id]) for i in instrument.scored_items if i.id in answers)
    if method == "count_at_least":
        thresholds = instrument.scoring["thresholds"]
        return sum(
            1
            for item_id, at_least in thresholds.items()
            if instrument.item(item_id).points(answers[item_id]) >= at_least
        )
    for level in instrument.scoring["levels"]:  # highest first
        if any(_holds(instrument, c, answers) for c in level["when_any"]):
            return int(level["value"])
    return 0


def _positive(
    instrument: Instrument, rule: Mapping[str, Any], total: int, answers: Mapping[str, int], context: Mapping[str, str]
) -> bool:
    kind = rule.get("type")
    if kind == "total_at_least":
        return total >= int(rule["value"])
    if kind == "total_at_least_by_sex":
        sex = context.get("sex_at_birth", "")
        return total >= int(rule.get(sex, rule["default"]))
    if kind == "item_at_least":
        return _holds(instrument, {"item": rule["item"], "at_least": rule["value"]}, answers)
    if kind == "all_of":
        return all(_positive(instrument, inner, total, answers, context) for inner in rule["rules"])
    raise ValueError(f"{instrument.key}: unknown positive-screen rule {kind!r}")


def score(instrument: Instrument, answers: Mapping[str, object], context: Mapping[str, str] | None = None) -> Result:
    """Score one response. ``context`` carries what some rules need about the
    patient (``sex_at_birth`` for AUDIT-C's cut-offs)."""
    given = clean(instrument, answers)
    critical = tuple(Critical(str(c["item"]), c["label"]) for c in instrument.critical if _holds(instrument, c, given))
    missing = _missing(instrument, given)
    if missing:
        return Result(False, missing, None, None, None, critical)
    total = _total(instrument, given)
    band = instrument.band_for(total)
    positive = _positive(instrument, instrument.positive, total, given, context or {}) if instrument.positive else None
    subscales = {
        name: sum(instrument.item(i).points(given[i]) for i in members)
        for name, members in instrument.scoring.get("subscales", {}).items()
    }
    return Result(True, (), total, band.label if band else None, positive, critical, subscales)


def change(instrument: Instrument, baseline: int, latest: int) -> Change:
    """Change from baseline, with response (a drop of at least half, where
    the instrument defines it) and remission (below its threshold)."""
    outcomes = instrument.outcomes
    drop = (baseline - latest) / baseline if baseline > 0 else None
    needed = outcomes.get("response_drop")
    response = drop is not None and needed is not None and drop >= float(needed)
    below = outcomes.get("remission_below")
    remission = latest < int(below) if below is not None else None
    return Change(baseline, latest, latest - baseline, drop, response, remission)
