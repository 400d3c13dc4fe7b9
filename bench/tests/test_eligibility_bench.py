"""The eligibility bench, tiny: it runs, reports every measure against the baseline. No speed is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.manifest import REPO


def test_a_small_eligibility_run_reports_ratios(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "BENCH_"))}
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "eligibility.py"),
            "--clinicians",
            "20",
            "--seconds",
            "0.2",
            "--results-dir",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = tmp_path.glob("*-eligibility-sqlite-20.json")
    report = json.loads(path.read_text())
    names = [r["name"] for r in report["results"]]
    assert names[0].startswith("baseline")
    assert report["results"][0]["ratio_to_baseline"] == 1.0
    assert all(r["operations"] > 0 and r["per_second"] > 0 for r in report["results"])
    assert report["coverage_grid"]["cells"] == 20 * 56
    assert report["peak_rss_mib"] > 0
