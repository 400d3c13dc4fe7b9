"""The whole bench, tiny: every page answers 200 to the generated sessions (the
therapist's and the partner prescriber's), the audit chain the load appended
to is intact, and every read across the consent gate left a disclosure row.
Nothing here asserts a speed."""

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
        "registry",
        "medications",
        "prescriber_list",
        "prescriber_chart",
        "prescriber_record",
        "trivial_after",
    }
    endpoints = results["endpoints"]
    assert {key: r["session"] for key, r in endpoints.items() if key.startswith("prescriber")} == {
        "prescriber_list": "prescriber",
        "prescriber_chart": "prescriber",
        "prescriber_record": "prescriber",
    }
    for key, result in endpoints.items():
        assert isinstance(result["ratio_to_trivial"], float), key
        assert result["requests"] > 0
        assert result["not_200"] == 0
        # The cap is per run: requests in flight when it is hit may finish.
        assert result["requests"] <= 100 + 8
    # Every signed-in request was served as signed in, with a 200.
    statuses = results["server_log"]
    assert set(statuses["bench_trivial (signed in)"]) == {"200"}
    assert set(statuses["patients:list (signed in)"]) == {"200"}
    assert set(statuses["patients:chart (signed in)"]) == {"200"}
    assert set(statuses["records:document (signed in)"]) == {"200"}
    assert not any(route.startswith("patients:") and "anonymous" in route for route in statuses)
    # Each list, search and chart response left its audit row, and the chain held.
    audit = results["audit"]
    assert audit["chain_ok"]
    rows = audit["rows_appended_by_load"]
    requests = {key: r["requests"] for key, r in endpoints.items()}
    assert rows["view patient_chart"] >= requests["patient_chart"] + requests["prescriber_chart"]
    assert rows["search patient_list"] >= requests["patient_search"]
    assert rows["list patient_list"] >= requests["patient_list"] + requests["prescriber_list"]
    assert rows["view document"] >= requests["prescriber_record"]
    # Every prescriber page showed Riverbend information under the authorization
    # (the list at least one patient's demographics), so each wrote at least one
    # disclosure row; the therapist's chart shows Northstar's records the same way.
    disclosed = audit["disclosures_added_by_load"]
    to_northstar = disclosed["Riverbend Counseling → Northstar Psychiatry (authorization, view)"]
    assert to_northstar >= requests["prescriber_list"] + requests["prescriber_chart"] + requests["prescriber_record"]
    to_riverbend = disclosed["Northstar Psychiatry → Riverbend Counseling (authorization, view)"]
    assert to_riverbend >= requests["patient_chart"]
    assert set(disclosed) == {
        "Riverbend Counseling → Northstar Psychiatry (authorization, view)",
        "Northstar Psychiatry → Riverbend Counseling (authorization, view)",
    }
    memory = results["memory"]["server"]
    assert memory["peak_rss_mib"] > 0
    assert [p["role"] for p in memory["processes"]].count("worker") == 2
    assert all(p["peak_rss_mib"] > 0 for p in memory["processes"])
    assert results["memory"]["generator_peak_rss_mib"] > 0
    assert results["config"]["chart_documents"]["prescriber"] < results["config"]["chart_documents"]["therapist"]
