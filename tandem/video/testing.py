"""coturn on loopback for tests: the TURN credential test and the browser
suite's relayed call start it the same way. Without coturn a test fails in CI
fails with how to install it: `make test` installs it first, so it is never
skipped."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT = 5.0


def _coturn_program(name: str) -> str:
    """The path of one of coturn's programs; missing, the test fails and says how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"The TURN test needs Debian's coturn ({name} is not on PATH): run `make test-deps`.")
    return path


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port on 127.0.0.1")


@dataclass
class Coturn:
    port: int
    secret: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return needle in self.log_text()


def _coturn_command(turnserver: str, port: int, secret: str, tmp: Path) -> list[str]:
    return [
        turnserver,
        "-n",  # no configuration file: only these flags
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        "--no-rfc5780",  # no second listener on port + 1
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        "--realm=tandem.test",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--allow-loopback-peers",  # the relays and peers are all on 127.0.0.1
        "--log-file=stdout",
        "--simple-log",
        "--verbose",  # one line per request, with its username: what the tests read
        f"--pidfile={tmp / 'turnserver.pid'}",
        f"--userdb={tmp / 'turndb'}",
    ]


@contextlib.contextmanager
def running_coturn(tmp_path: Path) -> Iterator[Coturn]:
    """coturn on 127.0.0.1 with a fresh shared secret, stopped afterwards."""
    turnserver = _coturn_program("turnserver")
    tmp = tmp_path / "coturn"
    tmp.mkdir()
    server = Coturn(port=free_port(), secret=secrets.token_urlsafe(24), log=tmp / "turnserver.log")
    with server.log.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            _coturn_command(turnserver, server.port, server.secret, tmp),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"turnserver exited with {process.returncode}:\n{server.log_text()}")
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"turnserver did not listen on 127.0.0.1:{server.port}:\n{server.log_text()}")
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
