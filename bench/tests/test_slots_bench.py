"""The slot search bench, tiny: it runs, reports every measure against the
baseline, and every slot it reports is open in the database it built. The
database is read with ``sqlite3`` and ``zoneinfo`` alone, not with the code
under measure. No speed is asserted."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest

from bench.manifest import REPO

UTC = datetime.UTC
CLINICIANS = 5


def _instant(text: str) -> datetime.datetime:
    """A DateTimeField as Django stores it in SQLite: naive UTC text."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], sqlite3.Connection]]:
    tmp = tmp_path_factory.mktemp("slots")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "BENCH_"))}
    command = [sys.executable, str(REPO / "bench" / "slots.py"), "--clinicians", str(CLINICIANS), "--seconds", "0.1"]
    command += ["--searches", "1", "--sample", str(CLINICIANS), "--quiet-wait", "0", "--keep"]
    command += ["--run-dir", str(tmp / "run"), "--results-dir", str(tmp / "results")]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = (tmp / "results").glob(f"*-slots-sqlite-{CLINICIANS}.json")
    database = sqlite3.connect(tmp / "run" / "bench.sqlite3")
    yield json.loads(path.read_text()), database
    database.close()


def test_it_reports_every_measure_against_the_baseline(run: tuple[dict[str, Any], sqlite3.Connection]) -> None:
    report, _ = run
    keys = [r["key"] for r in report["results"]]
    assert keys == [
        "baseline",
        "open_slots_7d",
        "open_slots_28d",
        "search",
        "what_if_narrow",
        "what_if_batched",
        "baseline_again",
    ]
    for row in report["results"]:
        assert row["calls"] > 0 and row["per_second"] > 0, row
        assert row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"] * 0.999, row
        assert row["ratio_to_baseline"] > 0
    by_key = {r["key"]: r for r in report["results"]}
    assert by_key["baseline"]["queries_per_call"] == 1
    assert by_key["open_slots_7d"]["queries_per_call"] == 4
    # One statement for the clinicians, then four per clinician; four in all when batched.
    assert by_key["search"]["queries_per_call"] == 1 + 4 * CLINICIANS
    assert by_key["search"]["queries_per_clinician"] == pytest.approx((1 + 4 * CLINICIANS) / CLINICIANS, abs=0.01)
    assert by_key["what_if_batched"]["queries_per_call"] == 5
    assert report["search"]["what_ifs_found_the_same_slots"] == {"what_if_narrow": True, "what_if_batched": True}
    assert report["search"]["breakdown"]["same_slots"]
    assert report["peak_rss_mib"] > 0 and report["search"]["tracemalloc_peak_mib"] > 0
    data = report["data"]
    assert data["clinicians_crossing_dst"] > 0 and len(data["zones"]) > 1
    assert 0.5 < data["booked_share_of_hours"]["mean"] < 0.9
    assert set(report["new_patient_cap_check"]) == {"7d", "14d", "28d"}


def test_the_window_crosses_a_clock_change(run: tuple[dict[str, Any], sqlite3.Connection]) -> None:
    report, _ = run
    start = datetime.datetime.fromisoformat(report["window"]["start"])
    change = datetime.date.fromisoformat(report["window"]["dst_change"])
    assert start.date() < change < (start + datetime.timedelta(days=report["window"]["search_days"])).date()
    new_york = zoneinfo.ZoneInfo("America/New_York")
    before = datetime.datetime.combine(change - datetime.timedelta(days=1), datetime.time(12), tzinfo=new_york)
    assert before.utcoffset() != (before + datetime.timedelta(days=1)).utcoffset()


def _is_open(database: sqlite3.Connection, clinician: int, start: datetime.datetime, minutes: int) -> list[str]:
    """Why this slot is not open, from the rows themselves (empty: it is open)."""
    end = start + datetime.timedelta(minutes=minutes)
    problems = []
    hours = database.execute(
        'SELECT weekday, start, "end", timezone, valid_from, valid_until FROM scheduling_weeklyhours'
        " WHERE clinician_id = ?",
        (clinician,),
    ).fetchall()
    [zone] = {row[3] for row in hours}
    tz = zoneinfo.ZoneInfo(zone)
    local, local_end = start.astimezone(tz), end.astimezone(tz)
    day = local.date()
    inside = any(
        weekday == day.weekday()
        and datetime.date.fromisoformat(since) <= day
        and (until is None or day <= datetime.date.fromisoformat(until))
        and local_end.date() == day
        and datetime.time.fromisoformat(opens) <= local.time()
        and local_end.time() <= datetime.time.fromisoformat(closes)
        for weekday, opens, closes, _, since, until in hours
    )
    if not inside:
        problems.append("outside hours")
    rules = database.execute(
        "SELECT buffer_minutes, max_per_day FROM scheduling_schedulingrules WHERE clinician_id = ?", (clinician,)
    ).fetchone() or (10, 8)  # the model's defaults
    pad = datetime.timedelta(minutes=rules[0])
    held = [
        (_instant(a), _instant(b))
        for a, b in database.execute(
            "SELECT starts_at, ends_at FROM scheduling_participant WHERE user_id = ? AND holds", (clinician,)
        )
    ]
    if any(a < end and start < b for a, b in held):
        problems.append("overlaps a held appointment")
    elif any(a < end + pad and start - pad < b for a, b in held):
        problems.append("inside another appointment's buffer")
    if sum(a.astimezone(tz).date() == day for a, _ in held) >= rules[1]:
        problems.append("the day is full")
    away = database.execute("SELECT starts_at, ends_at FROM scheduling_timeoff WHERE clinician_id = ?", (clinician,))
    if any(_instant(a) < end and start < _instant(b) for a, b in away):
        problems.append("during time off")
    return problems


def test_every_reported_slot_is_open(run: tuple[dict[str, Any], sqlite3.Connection]) -> None:
    report, database = run
    minutes = report["window"]["appointment_type"]["minutes"]
    start = datetime.datetime.fromisoformat(report["window"]["start"])
    checked = 0
    for pk, found in report["samples"]["28d"].items():
        for text in found:
            slot = datetime.datetime.fromisoformat(text)
            assert start <= slot <= start + datetime.timedelta(days=28, minutes=-minutes)
            assert _is_open(database, int(pk), slot, minutes) == [], (pk, text)
            checked += 1
    for row in report["search"]["first_slots"]:
        slot = datetime.datetime.fromisoformat(row["starts_at"])
        assert _is_open(database, row["clinician"], slot, minutes) == [], row
    assert checked > 0
    # Slots fall on both sides of the clock change.
    change = datetime.date.fromisoformat(report["window"]["dst_change"])
    days = {datetime.datetime.fromisoformat(t).date() for found in report["samples"]["28d"].values() for t in found}
    assert min(days) < change < max(days)


def test_the_search_returns_the_earliest_slots_of_all_clinicians(
    run: tuple[dict[str, Any], sqlite3.Connection],
) -> None:
    report, _ = run
    window = report["window"]
    every_clinician = report["samples"][f"{window['search_days']}d"]
    assert len(every_clinician) == CLINICIANS
    every = sorted(
        (datetime.datetime.fromisoformat(t), int(pk)) for pk, found in every_clinician.items() for t in found
    )
    got = [(datetime.datetime.fromisoformat(r["starts_at"]), r["clinician"]) for r in report["search"]["first_slots"]]
    assert got == every[: window["search_first"]]
    assert got, "the tiny world should have some open slot in two weeks"
