"""Sign-in throttling: a lockout after repeated failures, and answers that do
not tell a known email from an unknown one."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
import time_machine
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.http import HttpResponse
from django.test import Client

from tandem.accounts import services
from tandem.accounts.models import SignInThrottle
from tandem.test import PASSWORD, Cast, page_text

from .support import CODE, T0, code_at, code_step, is_signed_in, password_step

KNOWN = "therapist@riverbend.test"
UNKNOWN = "nobody.here@riverbend.test"
WRONG = "not the right password"


def _fail(client: Client, email: str, times: int) -> None:
    for _ in range(times):
        response = password_step(client, email, WRONG)
        assert response.status_code == 400


def _comparable(response: HttpResponse, email: str) -> tuple[int, str, dict[str, str], list[str]]:
    """Status, body, headers and cookie names, with the typed email and CSRF tokens blanked."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in {"set-cookie", "content-length"}}
    return response.status_code, page_text(response, replace={email: "EMAIL"}), headers, sorted(response.cookies)


@pytest.mark.django_db
def test_the_account_locks_after_the_failure_limit_and_opens_after_the_lockout(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.LOGIN_FAILURE_LIMIT == 5
    assert settings.LOGIN_LOCKOUT_SECONDS == 900
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        _fail(client, KNOWN, settings.LOGIN_FAILURE_LIMIT)

        locked = password_step(client, KNOWN, PASSWORD)
        assert locked.status_code == 400
        assert services.GENERIC_SIGN_IN_ERROR in locked.content.decode()
        assert not is_signed_in(client)

        traveller.shift(datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS - 1))
        assert password_step(client, KNOWN, PASSWORD).status_code == 400

        traveller.shift(datetime.timedelta(seconds=1))
        opened = password_step(client, KNOWN, PASSWORD)
        assert opened.status_code == 302
        assert opened["Location"].startswith(CODE)
        now = T0 + datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        assert code_step(client, code_at(now)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_one_failure_short_of_the_limit_does_not_lock(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    with time_machine.travel(T0, tick=False):
        _fail(client, KNOWN, settings.LOGIN_FAILURE_LIMIT - 1)
        assert password_step(client, KNOWN, PASSWORD).status_code == 302
        assert code_step(client, code_at(T0)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_a_successful_sign_in_resets_the_count(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        first = Client()
        _fail(first, KNOWN, settings.LOGIN_FAILURE_LIMIT - 1)
        assert password_step(first, KNOWN, PASSWORD).status_code == 302
        assert code_step(first, code_at(T0)).status_code == 302

        second = Client()
        _fail(second, KNOWN, settings.LOGIN_FAILURE_LIMIT - 1)
        assert password_step(second, KNOWN, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_failures_older_than_the_lockout_window_are_forgotten(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        _fail(client, KNOWN, settings.LOGIN_FAILURE_LIMIT - 1)
        traveller.shift(datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1))
        _fail(client, KNOWN, 1)
        assert password_step(client, KNOWN, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_limits_are_settings(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_SECONDS = 60
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        _fail(client, KNOWN, 2)
        assert password_step(client, KNOWN, PASSWORD).status_code == 400
        traveller.shift(datetime.timedelta(seconds=60))
        assert password_step(client, KNOWN, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lock_is_per_account(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        _fail(Client(), KNOWN, settings.LOGIN_FAILURE_LIMIT)
        assert password_step(Client(), KNOWN, PASSWORD).status_code == 400
        assert password_step(Client(), cast.colleague.email, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_spraying_many_emails_from_one_address_pauses_that_address(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    with time_machine.travel(T0, tick=False):
        # Each email stays under its own limit; the address does not.
        ip_limit = settings.LOGIN_FAILURE_LIMIT * 4
        for i in range(ip_limit):
            assert password_step(attacker, f"guess{i}@riverbend.test", WRONG).status_code == 400
        assert password_step(attacker, cast.colleague.email, PASSWORD).status_code == 400
        # Someone at another address is not affected.
        assert password_step(Client(REMOTE_ADDR="198.51.100.4"), cast.colleague.email, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(cast: Cast) -> None:
    known = password_step(Client(REMOTE_ADDR="192.0.2.1"), KNOWN, WRONG)
    unknown = password_step(Client(REMOTE_ADDR="192.0.2.2"), UNKNOWN, WRONG)
    assert known.status_code == 400
    assert services.GENERIC_SIGN_IN_ERROR in known.content.decode()
    assert _comparable(known, KNOWN) == _comparable(unknown, UNKNOWN)


@pytest.mark.django_db
def test_a_locked_unknown_email_answers_like_a_locked_known_one(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        _fail(Client(REMOTE_ADDR="192.0.2.1"), KNOWN, settings.LOGIN_FAILURE_LIMIT)
        _fail(Client(REMOTE_ADDR="192.0.2.2"), UNKNOWN, settings.LOGIN_FAILURE_LIMIT)
        # Unknown addresses are counted and locked just like real ones.
        assert SignInThrottle.objects.get(key=f"email:{UNKNOWN}").locked_until is not None

        right_but_locked = password_step(Client(REMOTE_ADDR="192.0.2.3"), KNOWN, PASSWORD)
        wrong_and_locked = password_step(Client(REMOTE_ADDR="192.0.2.4"), KNOWN, WRONG)
        unknown_locked = password_step(Client(REMOTE_ADDR="192.0.2.5"), UNKNOWN, PASSWORD)
        unknown_fresh = password_step(Client(REMOTE_ADDR="192.0.2.6"), "never.tried@riverbend.test", WRONG)

    expected = _comparable(right_but_locked, KNOWN)
    assert expected[0] == 400
    assert _comparable(wrong_and_locked, KNOWN) == expected
    assert _comparable(unknown_locked, UNKNOWN) == expected
    assert _comparable(unknown_fresh, "never.tried@riverbend.test") == expected


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count argon2 computations: every encode and every verify costs one."""
    calls: Counter[str] = Counter()
    encode, verify = Argon2PasswordHasher.encode, Argon2PasswordHasher.verify

    def counted_encode(self, password, salt):  # type: ignore[no-untyped-def]
        calls["argon2"] += 1
        return encode(self, password, salt)

    def counted_verify(self, password, encoded):  # type: ignore[no-untyped-def]
        calls["argon2"] += 1
        return verify(self, password, encoded)

    monkeypatch.setattr(Argon2PasswordHasher, "encode", counted_encode)
    monkeypatch.setattr(Argon2PasswordHasher, "verify", counted_verify)
    return calls


def _argon2_work(calls: Counter[str], client: Client, email: str, password: str) -> int:
    before = calls["argon2"]
    password_step(client, email, password)
    return calls["argon2"] - before


@pytest.mark.django_db
def test_an_unknown_email_spends_the_same_hashing_work_as_a_known_one(
    cast: Cast,
    settings,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Response time must not reveal whether an email has an account
    (docs/security.md: "an unknown email spends the same hashing time")."""
    calls = _count_hashing(monkeypatch)
    with time_machine.travel(T0, tick=False):
        # Warm up any one-off hash the code keeps for later calls.
        password_step(Client(REMOTE_ADDR="192.0.2.99"), "warm.up@riverbend.test", WRONG)

        known = _argon2_work(calls, Client(REMOTE_ADDR="192.0.2.1"), KNOWN, WRONG)
        unknown = _argon2_work(calls, Client(REMOTE_ADDR="192.0.2.2"), UNKNOWN, WRONG)
        assert known >= 1
        assert unknown == known

        # And the same once both are locked.
        _fail(Client(REMOTE_ADDR="192.0.2.3"), KNOWN, settings.LOGIN_FAILURE_LIMIT)
        _fail(Client(REMOTE_ADDR="192.0.2.4"), UNKNOWN, settings.LOGIN_FAILURE_LIMIT)
        known_locked = _argon2_work(calls, Client(REMOTE_ADDR="192.0.2.5"), KNOWN, PASSWORD)
        unknown_locked = _argon2_work(calls, Client(REMOTE_ADDR="192.0.2.6"), UNKNOWN, PASSWORD)
        assert known_locked == unknown_locked == known
