"""The video call bench, tiny: three runs per arm through the real server and
Chromium, in the loopback-only network namespace the script makes for itself.
Every run connects on loopback, each figure is positive, the ratio is the two
reported medians divided, and peak memory is reported. No speed is asserted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from bench.manifest import REPO, RUNS_DIR
from bench.video import FLOOR_METRICS, TANDEM_METRICS, in_loopback_namespace, spread

RUNS = 3


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("video") / "video.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "BENCH_"))}
    before = set(RUNS_DIR.glob("*-video-*")) if RUNS_DIR.exists() else set()
    command = [sys.executable, str(REPO / "bench" / "video.py"), "--runs", str(RUNS), "--quiet-wait", "0"]
    command += ["--json", str(out)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # The run directory (database, live sessions, server log) is gone.
    assert (set(RUNS_DIR.glob("*-video-*")) if RUNS_DIR.exists() else set()) == before
    return json.loads(out.read_text())


def test_every_run_of_both_arms_connected_on_loopback(report: dict[str, Any]) -> None:
    assert report["problems"] == []
    assert report["machine"]["network"].endswith("(interfaces: lo)")
    for arm in ("tandem", "floor"):
        summary = report["arms"][arm]
        assert summary["runs"] == summary["connected"] == RUNS, arm
        runs = [r for r in report["runs"] if r["arm"] == arm]
        assert len(runs) == RUNS
        for run in runs:
            assert run["connected"], run
            assert run["addresses"] and all(a.startswith("127.") or a == "::1" for a in run["addresses"]), run
    assert len(report["warmup_runs"]) == 2


def test_each_arm_reports_a_positive_median_and_its_spread(report: dict[str, Any]) -> None:
    for arm, metrics in (("tandem", TANDEM_METRICS), ("floor", FLOOR_METRICS)):
        figures = report["arms"][arm]["figures_ms"]
        both = figures["both_ms"]
        assert both["n"] == RUNS
        assert 0 < both["min"] <= both["p10"] <= both["median"] <= both["p90"] <= both["max"], both
        for key in metrics:
            if key != "admit_reaction_ms":
                assert figures[key]["median"] > 0, (arm, key)
    tandem = report["arms"]["tandem"]["figures_ms"]
    # Both sides are up only once each side is.
    assert tandem["both_ms"]["max"] >= max(tandem["prescriber_ms"]["max"], tandem["patient_ms"]["max"])
    for run in (r for r in report["runs"] if r["arm"] == "tandem"):
        assert run["both_ms"] == max(run["prescriber_ms"], run["patient_ms"])
        assert run["link_opened_to_both_ms"] > run["both_ms"]
        assert all(width > 0 for width in run["frame_width"])


def test_the_ratio_is_tandem_over_floor_from_the_reported_medians(report: dict[str, Any]) -> None:
    tandem = report["arms"]["tandem"]["figures_ms"]["both_ms"]
    floor = report["arms"]["floor"]["figures_ms"]["both_ms"]
    assert report["ratio"]["median"] == pytest.approx(tandem["median"] / floor["median"], abs=1e-3)
    assert report["ratio"]["p90"] == pytest.approx(tandem["p90"] / floor["p90"], abs=1e-3)


def test_peak_memory_is_reported(report: dict[str, Any]) -> None:
    memory = report["memory"]
    for key in ("bench_peak_rss_mib", "server_peak_rss_mib", "chromium_peak_rss_mib", "chromium_pss_with_call_up_mib"):
        assert memory[key] > 0, key
    assert memory["chromium_processes"] > 1


def test_the_spread_of_a_few_values() -> None:
    assert spread([30.0, 10.0, 20.0]) == {
        "n": 3,
        "median": 20.0,
        "p10": 12.0,
        "p25": 15.0,
        "p75": 25.0,
        "p90": 28.0,
        "min": 10.0,
        "max": 30.0,
    }
    assert spread([5.0])["median"] == spread([5.0])["p90"] == 5.0
    assert spread([]) == {"n": 0}


def test_the_namespace_check_sees_the_machines_interfaces() -> None:
    # Here (outside any namespace the bench makes) it agrees with the kernel.
    names = [name for _index, name in socket.if_nameindex()]
    assert in_loopback_namespace() == (names == ["lo"])
