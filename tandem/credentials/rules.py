"""The reviewed rule and drug files, loaded once into typed objects."""

from __future__ import annotations

import datetime
import functools
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class DatedRule:
    name: str
    effective_from: datetime.date
    effective_to: datetime.date | None
    source: str
    verified: bool

    def in_effect(self, day: datetime.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True)
class BuprenorphineRule(DatedRule):
    """The special telemedicine rule for OUD treatment by Schedule III-V drugs."""

    schedules: frozenset[str]

    def covers(self, drug: Drug, day: datetime.date) -> bool:
        return drug.oud and drug.schedule in self.schedules and self.in_effect(day)


@dataclass(frozen=True)
class TelemedicineRule(DatedRule):
    video_schedules: frozenset[str]
    audio_only_schedules_for_oud: frozenset[str]


SCHEDULES = frozenset({"", "II", "III", "IV", "V"})


@dataclass(frozen=True)
class Drug:
    name: str
    drug_class: str
    rxcui: str
    schedule: str  # "" when not controlled
    oud: bool
    verified: bool
    # Dispensed for its use here only by an opioid treatment program: never prescribed to a pharmacy.
    otp_only: bool = False
    # Catalog detail for the med list. The dose range is the usual adult total daily dose in
    # `dose_unit`; `dose_verified` stays false until a pharmacist has reviewed it.
    display: str = ""
    brands: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    strengths: tuple[str, ...] = ()
    dose_unit: str = "mg"
    usual_daily_min: float | None = None
    usual_daily_max: float | None = None
    dose_verified: bool = False
    dose_note: str = ""
    monitoring: str = ""  # a class key in medications/data/monitoring.toml, "" for none

    @property
    def controlled(self) -> bool:
        return bool(self.schedule)


@dataclass(frozen=True)
class Rules:
    version: str
    drugs_version: str
    dea_telemedicine: TelemedicineRule
    buprenorphine: BuprenorphineRule
    medicare_in_person: DatedRule
    psypact: DatedRule
    psypact_members: frozenset[str]
    counseling_compact: DatedRule
    np_full_practice: frozenset[str]
    np_restricted: frozenset[str]
    state_csr_required: frozenset[str]
    state_time_zones: dict[str, zoneinfo.ZoneInfo]
    drugs: dict[str, Drug]

    @property
    def full_version(self) -> str:
        return f"rules {self.version} / drugs {self.drugs_version}"

    def zone(self, state: str) -> zoneinfo.ZoneInfo:
        return self.state_time_zones[state]


def _date(value: Any) -> datetime.date | None:
    if value is None:
        return None
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def _dated(raw: dict[str, Any]) -> dict[str, Any]:
    start = _date(raw["effective_from"])
    assert start is not None
    return {
        "name": raw["name"],
        "effective_from": start,
        "effective_to": _date(raw.get("effective_to")),
        "source": raw["source"],
        "verified": bool(raw["verified"]),
    }


def parse(rules_raw: dict[str, Any], drugs_raw: dict[str, Any]) -> Rules:
    tele = rules_raw["dea_telemedicine_flexibilities"]
    np = rules_raw["np_practice_authority"]
    return Rules(
        version=rules_raw["version"],
        drugs_version=drugs_raw["version"],
        dea_telemedicine=TelemedicineRule(
            **_dated(tele),
            video_schedules=frozenset(tele["video_schedules"]),
            audio_only_schedules_for_oud=frozenset(tele["audio_only_schedules_for_oud"]),
        ),
        buprenorphine=BuprenorphineRule(
            **_dated(rules_raw["buprenorphine_telemedicine"]),
            schedules=frozenset(rules_raw["buprenorphine_telemedicine"]["schedules"]),
        ),
        medicare_in_person=DatedRule(**_dated(rules_raw["medicare_in_person"])),
        psypact=DatedRule(**_dated(rules_raw["psypact"])),
        psypact_members=frozenset(rules_raw["psypact"]["members"]),
        counseling_compact=DatedRule(**_dated(rules_raw["counseling_compact"])),
        np_full_practice=frozenset(np["full"]),
        np_restricted=frozenset(np["restricted"]),
        state_csr_required=frozenset(rules_raw["state_controlled_substance_registration"]["required_in"]),
        state_time_zones={state: zoneinfo.ZoneInfo(name) for state, name in rules_raw["state_time_zones"].items()},
        drugs=_drugs(drugs_raw["drug"]),
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _drug(d: dict[str, Any]) -> Drug:
    drug = Drug(
        name=d["name"],
        drug_class=d["drug_class"],
        rxcui=d["rxcui"],
        schedule=d["schedule"],
        oud=bool(d.get("oud", False)),
        verified=bool(d["verified"]),
        otp_only=bool(d.get("otp_only", False)),
        display=d.get("display") or d["name"].capitalize(),
        brands=tuple(d.get("brands", ())),
        forms=tuple(d.get("forms", ())),
        strengths=tuple(d.get("strengths", ())),
        dose_unit=d.get("dose_unit", "mg"),
        usual_daily_min=_number(d.get("usual_daily_min")),
        usual_daily_max=_number(d.get("usual_daily_max")),
        dose_verified=bool(d.get("dose_verified", False)),
        dose_note=d.get("dose_note", ""),
        monitoring=d.get("monitoring", ""),
    )
    if drug.schedule not in SCHEDULES:
        raise ValueError(f"Drug {drug.name!r}: schedule {drug.schedule!r} is not one of {sorted(SCHEDULES)}.")
    low, high = drug.usual_daily_min, drug.usual_daily_max
    if low is not None and high is not None and low > high:
        raise ValueError(f"Drug {drug.name!r}: usual_daily_min {low} is above usual_daily_max {high}.")
    return drug


def _drugs(raw: list[dict[str, Any]]) -> dict[str, Drug]:
    drugs: dict[str, Drug] = {}
    for entry in raw:
        drug = _drug(entry)
        key = drug.name.strip().lower()
        if key in drugs:
            raise ValueError(f"Drug {drug.name!r} is listed twice.")
        drugs[key] = drug
    return drugs


@functools.cache
def current() -> Rules:
    with (DATA / "rules.toml").open("rb") as rules_file, (DATA / "drugs.toml").open("rb") as drugs_file:
        return parse(tomllib.load(rules_file), tomllib.load(drugs_file))
