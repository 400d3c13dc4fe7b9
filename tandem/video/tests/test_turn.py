"""TURN credentials and the ICE server list: the arithmetic on its own, then
against a real coturn on loopback, which must accept what we mint and refuse
an expired credential or one signed with another secret.

The coturn test starts Debian's ``turnserver`` with nothing but 127.0.0.1 to
listen, relay and send to, and drives it with ``turnutils_uclient``. Without
coturn the test fails and says how to install it; it is never skipped.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from tandem.video import turn
from tandem.video.testing import Coturn, _coturn_program, running_coturn

SECRET = "correct horse battery staple"
USER_REF = "3f1c9a2e-7b4d-4e8a-9c1f-0a2b3c4d5e6f"
NOW = datetime.datetime(2025, 3, 1, 9, 30, tzinfo=datetime.UTC)  # 1740821400


def _expected(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


# -- The scheme ------------------------------------------------------------------


def test_known_answer() -> None:
    minted = turn.credentials(USER_REF, NOW, secret=SECRET, ttl=1200)

    assert minted.username == "1740822600:" + USER_REF
    assert minted.credential == _expected(SECRET, minted.username)
    # The same value from `openssl dgst -sha1 -hmac SECRET -binary | base64`.
    assert minted.credential == "utGA+GMpO4j2VNAV4tOpowsh4sY="


def test_bytes_secret_gives_the_same_credential() -> None:
    as_text = turn.credentials(USER_REF, NOW, secret=SECRET, ttl=1200)
    as_bytes = turn.credentials(USER_REF, NOW, secret=SECRET.encode(), ttl=1200)
    assert as_text == as_bytes


def test_expiry_is_now_plus_ttl() -> None:
    minted = turn.credentials(USER_REF, NOW, secret=SECRET, ttl=3600)

    assert minted.expires_at == NOW + datetime.timedelta(hours=1)
    assert minted.username.split(":", 1) == [str(int(minted.expires_at.timestamp())), USER_REF]


def test_fractions_of_a_second_are_dropped() -> None:
    minted = turn.credentials(USER_REF, NOW + datetime.timedelta(milliseconds=999), secret=SECRET, ttl=60)
    assert minted.username == f"{1740821400 + 60}:{USER_REF}"


def test_secret_and_ttl_come_from_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TURN_SECRET = SECRET
    settings.TURN_TTL_SECONDS = 7200

    minted = turn.credentials(USER_REF, NOW)

    assert minted.expires_at == NOW + datetime.timedelta(hours=2)
    assert minted.credential == _expected(SECRET, minted.username)


def test_now_defaults_to_the_current_time() -> None:
    before = timezone.now()
    minted = turn.credentials(USER_REF, secret=SECRET, ttl=300)
    after = timezone.now()

    assert before + datetime.timedelta(seconds=299) <= minted.expires_at <= after + datetime.timedelta(seconds=300)


@pytest.mark.parametrize(
    "user_ref",
    [
        "3f1c9a2e:7b4d-4e8a",  # coturn's separator
        "1740822600:" + USER_REF,  # a username passed back in
        "jane.doe@example.org",
        "Jane Doe 1970",
        "short",
        "",
        "x" * 65,
        "caf\u00e9-0123456789",
    ],
)
def test_refuses_a_user_ref_unfit_for_a_username(user_ref: str) -> None:
    with pytest.raises(ValueError, match="opaque id"):
        turn.credentials(user_ref, NOW, secret=SECRET, ttl=60)


def test_refuses_a_naive_now_a_missing_secret_and_a_bad_ttl(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="timezone-aware"):
        turn.credentials(USER_REF, datetime.datetime(2025, 3, 1, 9, 30), secret=SECRET, ttl=60)
    settings.TURN_SECRET = ""
    with pytest.raises(ImproperlyConfigured):
        turn.credentials(USER_REF, NOW, ttl=60)
    for ttl in (0, -60):
        with pytest.raises(ValueError, match="ttl"):
            turn.credentials(USER_REF, NOW, secret=SECRET, ttl=ttl)


# -- The RTCIceServer list ------------------------------------------------------------


def test_ice_servers_empty_when_nothing_is_configured(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STUN_URLS = []
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""

    assert turn.ice_servers(USER_REF, NOW) == []


def test_ice_servers_stun_only(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STUN_URLS = ["stun:turn.example.org:3478"]
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""

    assert turn.ice_servers(USER_REF, NOW) == [{"urls": ["stun:turn.example.org:3478"]}]


def test_ice_servers_with_turn(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STUN_URLS = ["stun:turn.example.org:3478"]
    settings.TURN_URLS = [
        "turn:turn.example.org:3478?transport=udp",
        "turns:turn.example.org:5349?transport=tcp",
    ]
    settings.TURN_SECRET = SECRET
    settings.TURN_TTL_SECONDS = 1200

    stun, relay = turn.ice_servers(USER_REF, NOW)

    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert relay == {
        "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
        "username": "1740822600:" + USER_REF,
        "credential": "utGA+GMpO4j2VNAV4tOpowsh4sY=",
    }


def test_ice_servers_turn_without_stun(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STUN_URLS = []
    settings.TURN_URLS = ["turn:turn.example.org:3478"]
    settings.TURN_SECRET = SECRET

    [relay] = turn.ice_servers(USER_REF, NOW)

    assert relay["urls"] == ["turn:turn.example.org:3478"]
    assert set(relay) == {"urls", "username", "credential"}


def test_ice_servers_refuses_a_colon_even_without_turn(settings) -> None:  # type: ignore[no-untyped-def]
    settings.STUN_URLS = []
    settings.TURN_URLS = []
    with pytest.raises(ValueError):
        turn.ice_servers("a:b-0123456789", NOW)


# -- Against coturn ---------------------------------------------------------------------

START_TIMEOUT = 5.0
CLIENT_TIMEOUT = 8.0


def test_missing_coturn_fails_never_skips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for ci in ("true", ""):
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match=r"turnserver is not on PATH.*make test-deps"):
            _coturn_program("turnserver")


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    _coturn_program("turnutils_uclient")
    with running_coturn(tmp_path) as server:
        yield server


def _allocate(server: Coturn, minted: turn.TurnCredentials) -> tuple[int, str]:
    """Two relay allocations that send a few packets to each other (``-y``),
    over UDP on loopback. Returns the exit code and the client's output."""
    uclient = _coturn_program("turnutils_uclient")
    command = [uclient, "-y", "-c", "-n", "2", "-e", "127.0.0.1", "-p", str(server.port)]
    command += ["-u", minted.username, "-w", minted.credential, "127.0.0.1"]
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"turnutils_uclient did not finish in {CLIENT_TIMEOUT} s: {exc.stdout!r}")
    return done.returncode, done.stdout + done.stderr


def test_coturn_accepts_our_credentials_and_refuses_stale_or_forged_ones(coturn: Coturn) -> None:
    good = turn.credentials(USER_REF, secret=coturn.secret, ttl=300)
    code, output = _allocate(coturn, good)
    assert code == 0, f"allocation refused:\n{output}\n--- turnserver ---\n{coturn.log_text()}"
    assert "Cannot complete Allocation" not in output
    received = [int(n) for n in re.findall(r"tot_recv_msgs=(\d+)", output)]
    assert received, output
    assert received[-1] > 0, output

    expired = turn.credentials(USER_REF, timezone.now() - datetime.timedelta(days=1), secret=coturn.secret, ttl=300)
    forged = turn.credentials("0123456789-forged", secret="not-" + coturn.secret, ttl=300)
    for minted in (expired, forged):
        code, output = _allocate(coturn, minted)
        assert code != 0, f"{minted.username} was accepted:\n{output}"
        assert "Cannot complete Allocation" in output
        # coturn refused it for its credentials (a 401), not for anything else.
        assert coturn.wait_for_log(f"Cannot find credentials of user <{minted.username}>"), coturn.log_text()
