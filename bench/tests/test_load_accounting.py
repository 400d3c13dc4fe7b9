"""What the load script reads back: statuses from the server log, memory from /proc."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.load import MemorySampler, tally_server_log


def _line(route: str, status: int, user_id: int | None) -> str:
    return json.dumps(
        {"logger": "tandem.request", "msg": "request", "route": route, "status": status, "user_id": user_id}
    )


def test_it_tallies_statuses_per_route_and_signed_in_state(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "\n".join(
            [
                "[2026-01-01 00:00:00 +0000] [1] [INFO] Booting worker with pid: 2",
                _line("bench_trivial", 200, None),
                _line("bench_trivial", 200, 7),
                _line("patients:list", 200, 7),
                _line("patients:list", 302, None),
                '{"logger": "django.db", "msg": "not a request"}',
                "{broken json",
            ]
        )
    )
    assert tally_server_log(log) == {
        "bench_trivial (anonymous)": {"200": 1},
        "bench_trivial (signed in)": {"200": 1},
        "patients:list (anonymous)": {"302": 1},
        "patients:list (signed in)": {"200": 1},
    }


def test_it_samples_the_resident_set_of_a_process_tree() -> None:
    sampler = MemorySampler(os.getpid())
    sampler.sample()
    report = sampler.report()
    assert report["peak_rss_mib"] > 0
    assert report["processes"][0]["role"] == "master"
    assert report["processes"][0]["peak_rss_mib"] > 0
