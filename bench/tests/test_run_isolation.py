"""A bench run uses its own settings and database, never one it was handed by accident."""

from __future__ import annotations

import pytest

from bench import database
from bench.manifest import parse_overrides, tandem_env


def test_it_refuses_a_postgres_database_not_named_for_the_bench() -> None:
    with pytest.raises(SystemExit, match="contains 'bench'"):
        database.postgres_name("postgres://postgres@127.0.0.1:5432/tandem")


def test_it_accepts_a_bench_database() -> None:
    assert database.postgres_name("postgres://postgres@127.0.0.1:5432/tandem_bench") == "tandem_bench"


def test_it_refuses_other_engines() -> None:
    with pytest.raises(SystemExit):
        database.vendor("mysql://root@localhost/tandem_bench")


def test_it_drops_inherited_tandem_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("BENCH_TRIVIAL_ONLY", "1")
    env = tandem_env(database_url="sqlite:////tmp/x.sqlite3", secret_key="k" * 60, data_dir="/tmp")
    assert "TANDEM_REDIS_URL" not in env
    assert "BENCH_TRIVIAL_ONLY" not in env
    assert env["TANDEM_DEBUG"] == "false"
    assert env["DJANGO_SETTINGS_MODULE"] == "bench.settings"


def test_overrides_are_applied_on_purpose_only() -> None:
    env = tandem_env(
        database_url="sqlite:////tmp/x.sqlite3",
        secret_key="k" * 60,
        data_dir="/tmp",
        overrides=parse_overrides(["TANDEM_DB_CONN_MAX_AGE=60"]),
    )
    assert env["TANDEM_DB_CONN_MAX_AGE"] == "60"
    with pytest.raises(SystemExit):
        parse_overrides(["PATH=/tmp"])
    with pytest.raises(SystemExit):
        parse_overrides(["TANDEM_DEBUG"])
