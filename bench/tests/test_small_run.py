"""The whole bench, tiny: every page answers 200 to the generated session, and
the audit chain the load appended to is intact. Nothing here asserts a speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.manifest import REPO


def test_a_small_run_measures_every_page_signed_in(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "BENCH_"))}
    command = [
        sys.executable,
        str(REPO / "bench" / "run.py"),
        "--patients",
        "40",
        "--seconds",
        "1",
        "--quiet-wait",
        "0",
    ]
    command += ["--warmup", "0", "--max-requests", "100", "--results-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = tmp_path.glob("*.json")
    results = json.loads(path.read_text())

    assert results["problems"] == []
    assert set(results["endpoints"]) == {
        "trivial",
        "trivial_signed_in",
        "patient_list",
        "patient_search",
        "patient_chart",
        "trivial_after",
    }
    for result in results["endpoints"].values():
        assert result["requests"] > 0
        assert result["not_200"] == 0
        # The cap is per run: requests in flight when it is hit may finish.
        assert result["requests"] <= 100 + 8
    # Every signed-in request was served as signed in, with a 200.
    statuses = results["server_log"]
    assert set(statuses["bench_trivial (signed in)"]) == {"200"}
    assert set(statuses["patients:list (signed in)"]) == {"200"}
    assert set(statuses["patients:chart (signed in)"]) == {"200"}
    assert not any(route.startswith("patients:") and "anonymous" in route for route in statuses)
    # Each list, search and chart response left its audit row, and the chain held.
    audit = results["audit"]
    assert audit["chain_ok"]
    rows = audit["rows_appended_by_load"]
    assert rows["view patient_chart"] >= results["endpoints"]["patient_chart"]["requests"]
    assert rows["search patient_list"] >= results["endpoints"]["patient_search"]["requests"]
    assert rows["list patient_list"] >= results["endpoints"]["patient_list"]["requests"]
    assert results["memory"]["server"]["peak_rss_mib"] > 0
    assert results["memory"]["generator_peak_rss_mib"] > 0
