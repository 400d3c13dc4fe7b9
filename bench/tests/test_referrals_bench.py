"""The referral access simulation, tiny: it runs, reports both arms and their
ratios from the figures it reports, and every booking Tandem's arm made was
with a prescriber the eligibility engine allows and who is enrolled with the
patient's payer. The script's own shortcut through the calendar (open slots
cached per day, searches starting at a frontier) is checked against a plain
``find_slots`` over the whole window. No speed is asserted."""

from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
import sys
from typing import Any

import pytest

from bench.manifest import REPO
from bench.referrals import EVALUATION_MINUTES, VISIT, Calendar
from tandem.scheduling.slots import Hours, Interval, find_slots

UTC = datetime.UTC


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    results = tmp_path_factory.mktemp("referrals")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "BENCH_"))}
    # Over capacity and with a short window on purpose, so queues form and
    # Tandem's window has to grow.
    command = [sys.executable, str(REPO / "bench" / "referrals.py"), "--days", "42", "--prescribers", "3"]
    command += ["--practices", "3", "--utilisation", "1.2", "--search-days", "7", "--seed", "5"]
    command += ["--results-dir", str(results)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = results.glob("*-referrals-3rx-3pr-42d-seed5.json")
    return json.loads(path.read_text())


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_both_arms_report_median_and_p90(report: dict[str, Any]) -> None:
    referrals = report["scenario"]["referrals"]
    assert referrals > 0 and report["scenario"]["capacity_evaluations"] > 0
    for name in ("baseline", "tandem"):
        arm = report["arms"][name]
        assert arm["n"] > 0, name
        assert _number(arm["median_days"]) and _number(arm["p90_days"]), arm
        assert arm["p90_days"] >= arm["median_days"] >= 0, arm
        assert sum(arm["bookings_per_prescriber"].values()) == arm["n"]
    # The baseline books everyone; Tandem books everyone it finds a prescriber for.
    assert report["arms"]["baseline"]["n"] == referrals
    assert report["arms"]["tandem"]["n"] + report["arms"]["tandem"]["unmatched"] == referrals


def test_the_ratios_are_tandem_over_baseline(report: dict[str, Any]) -> None:
    base, tandem = report["arms"]["baseline"], report["arms"]["tandem"]
    assert report["ratios"]["median"] == pytest.approx(tandem["median_days"] / base["median_days"], abs=1e-4)
    assert report["ratios"]["p90"] == pytest.approx(tandem["p90_days"] / base["p90_days"], abs=1e-4)


def test_it_reports_time_and_memory(report: dict[str, Any]) -> None:
    assert report["peak_rss_mib"] > 0
    assert report["arms"]["baseline"]["seconds"] >= 0 and report["arms"]["tandem"]["seconds"] >= 0
    tandem = report["arms"]["tandem"]
    assert tandem["rank_calls"] == tandem["n"] + tandem["window_extensions"]
    assert tandem["referrals_needing_a_longer_window"] > 0  # the path that grows the window ran


def test_every_tandem_booking_was_eligible_and_enrolled(report: dict[str, Any]) -> None:
    # Recounted by the script with eligibility.decide and the enrollment facts,
    # apart from matching; as of the moment each match was made.
    assert report["audit"]["tandem_ineligible_bookings"] == 0


def test_the_calendar_shortcut_finds_what_find_slots_finds() -> None:
    rng = random.Random(3)
    zone = "America/Denver"  # the window crosses the clock change of 2027-03-14
    hours = [
        Hours(0, datetime.time(9), datetime.time(12)),
        Hours(2, datetime.time(13), datetime.time(16)),
        Hours(4, datetime.time(17), datetime.time(20)),
    ]
    away = [Interval(datetime.datetime(2027, 3, 22, 6, tzinfo=UTC), datetime.datetime(2027, 3, 29, 6, tzinfo=UTC))]
    calendar = Calendar(hours, zone, away)
    at = datetime.datetime(2027, 3, 1, 15, tzinfo=UTC)
    for _ in range(120):
        at += datetime.timedelta(hours=rng.choice([1, 5, 13, 30]))
        end = at + datetime.timedelta(days=rng.choice([7, 21, 40]))
        plain = find_slots(
            hours=hours,
            zone=zone,
            busy=[Interval(s, s + VISIT) for s in calendar.booked],
            time_off=away,
            minutes=EVALUATION_MINUTES,
            step=EVALUATION_MINUTES,
            window_start=at,
            window_end=end,
        )
        assert calendar.open_slots(at, end) == plain
        if plain:
            calendar.book(rng.choice(plain[:4]))
        first = find_slots(
            hours=hours,
            zone=zone,
            busy=[Interval(s, s + VISIT) for s in calendar.booked],
            time_off=away,
            minutes=EVALUATION_MINUTES,
            step=EVALUATION_MINUTES,
            window_start=at,
            window_end=at + datetime.timedelta(days=120),
            limit=1,
        )
        assert calendar.first_open(at) == first[0]
