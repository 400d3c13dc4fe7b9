"""The catalog of common outpatient psychiatric diagnoses, read from the
reviewed data file ``data/diagnoses.json``: ICD-10-CM codes with their
DSM-5-TR names, grouped by DSM chapter.

Each entry may name the criteria checklist (``criteria.json``) that supports
it. ``verified: false`` marks a code a reviewer has not yet checked against
the current CMS ICD-10-CM release. The file is checked when it is loaded
(``parse``): code format, unique codes, known checklists.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tandem.plans import criteria

DATA = Path(__file__).resolve().parent / "data" / "diagnoses.json"
CODE_FORMAT = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_FIELDS = {"code", "name", "group", "criteria", "verified"}


class DiagnosisCatalogError(ValueError):
    """A diagnosis catalog that cannot be used as it stands."""


@dataclass(frozen=True)
class CatalogDiagnosis:
    code: str
    name: str
    group: str
    criteria: str | None
    verified: bool

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"


def _text(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DiagnosisCatalogError(f"{where}: {name!r} must be a non-empty string")
    return value


def _diagnosis(raw_value: Any, where: str, criteria_keys: set[str]) -> CatalogDiagnosis:
    if not isinstance(raw_value, dict):
        raise DiagnosisCatalogError(f"{where}: expected an object")
    raw = cast(dict[str, Any], raw_value)
    missing = sorted(_FIELDS - set(raw))
    extra = sorted(set(raw) - _FIELDS)
    if missing or extra:
        raise DiagnosisCatalogError(f"{where}: missing {missing}, unknown {extra}")
    code = _text(raw, "code", where)
    where = f"diagnosis {code!r}"
    if not CODE_FORMAT.match(code):
        raise DiagnosisCatalogError(f"{where}: not an ICD-10-CM code")
    key = raw["criteria"]
    if key is not None and key not in criteria_keys:
        raise DiagnosisCatalogError(f"{where}: no criteria set {key!r}")
    if not isinstance(raw["verified"], bool):
        raise DiagnosisCatalogError(f"{where}: 'verified' must be true or false")
    return CatalogDiagnosis(
        code=code,
        name=_text(raw, "name", where),
        group=_text(raw, "group", where),
        criteria=key,
        verified=raw["verified"],
    )


def parse(raw: dict[str, Any]) -> dict[str, CatalogDiagnosis]:
    """Build and check the catalog from a decoded ``diagnoses.json``, keyed by code and ordered as in the file."""
    if not isinstance(raw, dict):
        raise DiagnosisCatalogError("diagnosis catalog: expected an object")
    for name in ("version", "source"):
        _text(raw, name, "diagnosis catalog")
    entries = raw.get("diagnoses")
    if not isinstance(entries, list) or not entries:
        raise DiagnosisCatalogError("diagnosis catalog: 'diagnoses' must be a non-empty list")
    keys = set(criteria.all_sets())
    found: dict[str, CatalogDiagnosis] = {}
    for i, entry in enumerate(entries):
        diagnosis = _diagnosis(entry, f"diagnosis {i + 1}", keys)
        if diagnosis.code in found:
            raise DiagnosisCatalogError(f"diagnosis {diagnosis.code!r} appears twice")
        found[diagnosis.code] = diagnosis
    return found


@functools.cache
def catalog() -> dict[str, CatalogDiagnosis]:
    """Every diagnosis in ``data/diagnoses.json``, checked, keyed by code and ordered as in the file."""
    with DATA.open(encoding="utf-8") as fh:
        return parse(json.load(fh))


def normalize(code: str) -> str:
    """A code as the catalog spells it: upper case, no spaces, with the dot after the third character."""
    code = "".join(code.split()).upper()
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    return code


def lookup(code: str) -> CatalogDiagnosis | None:
    """The catalog entry for ``code``, ignoring case, spaces and a missing dot ("f33 1", "F331"), or None."""
    return catalog().get(normalize(code))


def choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a Django select: groups in the order they first appear, codes in file order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for diagnosis in catalog().values():
        groups.setdefault(diagnosis.group, []).append((diagnosis.code, diagnosis.label))
    return list(groups.items())
