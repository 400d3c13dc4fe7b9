"""The validated questionnaires, read from the reviewed data files beside
this module (``instruments/*.json``), one per instrument.

Each file holds the item text (by language), response options, recall
period, how it is scored (reverse items, unscored items, subscales, the rule
for missing answers), severity bands, the positive-screen rule, critical
items, LOINC codes, a licence note and a version. A clinician reviews the
files, not the code; what the reference could not confirm is marked there.
Every file is checked when it is loaded (``check``), so a wrong band table
or a dangling item reference stops Tandem at start-up rather than scoring a
patient wrongly.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "instruments"
METHODS = {"sum", "count_at_least", "highest_level"}
MISSING_RULES = {"all_scored_items", "all_asked_items", "all_items"}


class InstrumentError(ValueError):
    """A data file that cannot be used as it stands."""


@dataclass(frozen=True)
class Item:
    id: str
    text: dict[str, str]
    options: tuple[dict[str, str], ...]
    scored: bool = True
    optional: bool = False
    reverse: bool = False
    # Asked only when another item scored at least this much (skip logic).
    ask_if: tuple[str, int] | None = None

    def points(self, choice: int) -> int:
        """The points of the option at ``choice`` (its position as shown)."""
        if not 0 <= choice < len(self.options):
            raise ValueError(f"Item {self.id} has no answer {choice}.")
        return len(self.options) - 1 - choice if self.reverse else choice

    @property
    def max_points(self) -> int:
        return len(self.options) - 1


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    label: str


@dataclass(frozen=True)
class Instrument:
    key: str
    name: str
    short_name: str
    version: str
    recall: dict[str, str]
    licence_note: str
    requires_permission: bool
    loinc_panel: str | None
    loinc_total: str | None
    loinc_verified: bool
    items: tuple[Item, ...]
    scoring: dict[str, Any]
    bands: tuple[Band, ...]
    positive: dict[str, Any]
    critical: tuple[dict[str, Any], ...]
    outcomes: dict[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(item_id)

    @property
    def method(self) -> str:
        return str(self.scoring["method"])

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.scored)

    @property
    def min_total(self) -> int:
        return 0

    @property
    def max_total(self) -> int:
        if self.method == "sum":
            return sum(i.max_points for i in self.scored_items)
        if self.method == "count_at_least":
            return len(self.scoring["thresholds"])
        return max(int(level["value"]) for level in self.scoring["levels"])

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages every part of the questionnaire is written in."""
        found = set(self.recall)
        for i in self.items:
            found &= set(i.text)
            for option in i.options:
                found &= set(option)
        return tuple(sorted(found, key=lambda code: (code != "en", code)))

    def band_for(self, total: int) -> Band | None:
        return next((b for b in self.bands if b.min <= total <= b.max), None)


def _item(raw: dict[str, Any], option_sets: dict[str, list[dict[str, str]]]) -> Item:
    options = option_sets.get(raw["options"])
    if not options:
        raise InstrumentError(f"item {raw['id']}: no option set {raw['options']!r}")
    ask_if = raw.get("ask_if")
    return Item(
        id=str(raw["id"]),
        text=dict(raw["text"]),
        options=tuple(dict(o) for o in options),
        scored=bool(raw.get("scored", True)),
        optional=bool(raw.get("optional", False)),
        reverse=bool(raw.get("reverse", False)),
        ask_if=(str(ask_if["item"]), int(ask_if["at_least"])) if ask_if else None,
    )


def parse(raw: dict[str, Any]) -> Instrument:
    try:
        option_sets = raw["option_sets"]
        loinc = raw.get("loinc") or {}
        licence = raw["licence"]
        instrument = Instrument(
            key=raw["key"],
            name=raw["name"],
            short_name=raw["short_name"],
            version=str(raw["version"]),
            recall=dict(raw["recall"]),
            licence_note=licence["note"],
            requires_permission=bool(licence["requires_permission"]),
            loinc_panel=loinc.get("panel"),
            loinc_total=loinc.get("total"),
            loinc_verified=bool(loinc.get("verified", False)),
            items=tuple(_item(i, option_sets) for i in raw["items"]),
            scoring=dict(raw["scoring"]),
            bands=tuple(Band(int(b["min"]), int(b["max"]), b["label"]) for b in raw.get("bands", [])),
            positive=dict(raw.get("positive") or {}),
            critical=tuple(raw.get("critical", [])),
            outcomes=dict(raw.get("outcomes") or {}),
            sources=tuple(raw.get("sources", [])),
        )
    except KeyError as exc:
        raise InstrumentError(f"{raw.get('key', '?')}: missing {exc}") from None
    check(instrument)
    return instrument


def _rule_items(rule: dict[str, Any]) -> list[str]:
    found = [str(rule["item"])] if "item" in rule else []
    for inner in rule.get("rules", []):
        found += _rule_items(inner)
    return found


def check(instrument: Instrument) -> None:
    """Refuse a data file whose parts do not fit together."""
    key = instrument.key
    ids = [i.id for i in instrument.items]
    if len(ids) != len(set(ids)):
        raise InstrumentError(f"{key}: item ids repeat")
    if "en" not in instrument.languages:
        raise InstrumentError(f"{key}: every text needs English")
    scoring = instrument.scoring
    if scoring.get("method") not in METHODS:
        raise InstrumentError(f"{key}: unknown scoring method {scoring.get('method')!r}")
    if scoring.get("missing") not in MISSING_RULES or not scoring.get("missing_note"):
        raise InstrumentError(f"{key}: the rule for missing answers must be named and stated")
    referenced = [str(c["item"]) for c in instrument.critical]
    referenced += [i.ask_if[0] for i in instrument.items if i.ask_if]
    referenced += _rule_items(instrument.positive)
    for members in scoring.get("subscales", {}).values():
        referenced += members
    referenced += list(scoring.get("thresholds", {}))
    for level in scoring.get("levels", []):
        referenced += [str(c["item"]) for c in level["when_any"]]
    unknown = sorted(set(referenced) - set(ids))
    if unknown:
        raise InstrumentError(f"{key}: refers to items that do not exist: {', '.join(unknown)}")
    bands = sorted(instrument.bands, key=lambda b: b.min)
    if bands:
        if list(bands) != list(instrument.bands):
            raise InstrumentError(f"{key}: bands must be listed from the lowest")
        if bands[0].min != instrument.min_total or bands[-1].max != instrument.max_total:
            raise InstrumentError(
                f"{key}: bands must cover {instrument.min_total}-{instrument.max_total}, "
                f"not {bands[0].min}-{bands[-1].max}"
            )
        for lower, upper in itertools.pairwise(bands):
            if lower.max + 1 != upper.min or lower.min > lower.max:
                raise InstrumentError(f"{key}: bands must follow one another without gaps or overlaps")


@functools.cache
def all_instruments() -> dict[str, Instrument]:
    found = {}
    for path in sorted(DATA.glob("*.json")):
        instrument = parse(json.loads(path.read_text(encoding="utf-8")))
        if instrument.key != path.stem:
            raise InstrumentError(f"{path.name}: its key is {instrument.key!r}")
        found[instrument.key] = instrument
    return found


def get(key: str) -> Instrument:
    try:
        return all_instruments()[key]
    except KeyError:
        raise InstrumentError(f"No instrument {key!r}.") from None


def available_to(organization: object) -> list[Instrument]:
    """The instruments an organization uses: all but those it switched off."""
    off = set(getattr(organization, "instruments_off", None) or [])
    return [i for key, i in all_instruments().items() if key not in off]
