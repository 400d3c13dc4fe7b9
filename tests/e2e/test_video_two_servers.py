"""Two app servers sharing Redis, one participant on each, in one call.

Production runs several app server processes behind a load balancer, so the
two people in a room are often connected to different processes. Their
signalling meets in the Redis channel layer. Here two ``tandem serve``
processes run against the test database and a Redis started for the test
inside the loopback-only namespace (the machine's own Redis, on its network,
is out of reach from in here, which is the point): the prescriber's page is
served by one, the patient's by the other, and each decodes the other's video.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from e2e_harness import BrowserProblems, SignIn, assert_receiving_video, new_context, new_page, video_visit
from playwright.sync_api import Browser, expect

from tandem.audit.services import SYSTEM
from tandem.test import build_cast
from tandem.video.services import issue_patient_link
from tandem.video.testing import free_port

START_SECONDS = 20


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listened on 127.0.0.1:{port}:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of the test's own on 127.0.0.1, with nothing saved to disk."""
    program = shutil.which("redis-server")
    if program is None:
        pytest.fail("This test needs Debian's redis-server: run `make test-deps`.")
    port = free_port()
    log = tmp_path / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [program, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        _wait_for_port(port, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@pytest.fixture
def two_servers(asgi_live_server: str, redis_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two ``tandem serve`` processes on the test database, sharing ``redis_url``."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        pytest.fail("The browser suite runs on its SQLite test database.")
    env = {
        **os.environ,
        "TANDEM_DATABASE_URL": f"sqlite:///{database['NAME']}",
        "TANDEM_REDIS_URL": redis_url,
        "TANDEM_REDIS_PREFIX": "tandem-two-servers",
    }
    servers: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"server-{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "tandem.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append((process, port, log))
        for process, port, log in servers:
            _wait_for_port(port, process, log)
        yield [f"http://127.0.0.1:{port}" for _process, port, _log in servers]

    finally:
        for process, _port, _log in servers:
            _stop(process)


def test_participants_on_two_app_servers_meet_through_redis(
    two_servers: list[str],
    redis_url: str,
    browser: Browser,
    browser_problems: BrowserProblems,
    sign_in: SignIn,
    tmp_path: Path,
) -> None:
    cast = build_cast()
    visit = video_visit(cast.northstar, cast.patient, [cast.prescriber])
    _link, token = issue_patient_link(actor=cast.prescriber, appointment=visit, meta=SYSTEM)
    server_a, server_b = two_servers
    contexts = [new_context(browser, url, browser_problems, stub_live_socket=False) for url in two_servers]
    prescriber, patient = (new_page(context, browser_problems) for context in contexts)
    try:
        sign_in(prescriber, cast.prescriber)
        prescriber.goto(f"{server_a}/appointments/{visit.public_id}/video/")
        patient.goto(f"{server_b}/video/join/{token}/")
        # The patient is waiting on server B; the prescriber on server A sees it.
        admit = prescriber.get_by_role("button", name=re.compile(r"^Let .+ in$"))
        expect(admit).to_be_visible()
        # The room's group lives in the shared Redis, holding both sockets.
        shared = redis.Redis.from_url(redis_url)
        groups = shared.keys("tandem-two-servers:group:video.room.*")
        assert len(groups) == 1 and shared.zcard(groups[0]) == 2, groups
        admit.click()
        for page in (prescriber, patient):
            assert_receiving_video(page)
        expect(patient.locator("#room-status")).to_have_text("Connected")
        assert prescriber.url.startswith(server_a) and patient.url.startswith(server_b)
        # Server B logged the patient's socket, with the link's token blanked.
        log_b = (tmp_path / "server-b.log").read_text(errors="replace")
        assert "/ws/video/join/[token]/?device=[key]" in log_b
        assert token not in log_b and token not in (tmp_path / "server-a.log").read_text(errors="replace")
    finally:
        for context in contexts:
            context.close()
