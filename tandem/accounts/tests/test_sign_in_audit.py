"""Every sign-in, failed sign-in and sign-out leaves a row in the audit chain."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client

from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import verify_chain
from tandem.test import PASSWORD, Cast

from .support import SIGN_OUT, STEP, T0, TODAY, code_at, code_step, full_sign_in, password_step, wrong_codes

UA = "Mozilla/5.0 (audit test)"
ATTEMPTED = "Tr0ub4dor&3-not-it"


def _new_events(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))


def _head() -> int:
    last = AuditEvent.objects.order_by("-seq").first()
    return last.seq if last else 0


@pytest.mark.django_db
def test_a_sign_in_is_recorded(cast: Cast) -> None:
    client = Client(HTTP_USER_AGENT=UA, REMOTE_ADDR="198.51.100.20")
    with time_machine.travel(T0, tick=False):
        full_sign_in(client, cast.therapist.email, T0)
    [event] = _new_events(0)
    assert event.action == Action.SIGN_IN
    assert event.actor_id == cast.therapist.pk
    assert event.actor_email == cast.therapist.email
    assert event.ip_address == "198.51.100.20"
    assert event.user_agent == UA
    assert event.purpose == "security"
    assert verify_chain().ok


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["therapist@riverbend.test", "nobody.here@riverbend.test"])
def test_a_wrong_password_is_recorded_without_the_password(cast: Cast, email: str) -> None:
    password_step(Client(HTTP_USER_AGENT=UA), email, ATTEMPTED)
    [event] = _new_events(0)
    assert event.action == Action.SIGN_IN_FAILED
    assert event.detail == {"step": "password"}
    assert event.ip_address == "127.0.0.1"
    # The account that was tried is named when it exists, so attacks on it can be found.
    assert event.actor_email == (cast.therapist.email if email == cast.therapist.email else "")
    stored = repr(list(AuditEvent.objects.values()))
    assert ATTEMPTED not in stored
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_wrong_code_is_recorded(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        password_step(client, cast.therapist.email)
        assert code_step(client, wrong_codes(T0, 1)[0]).status_code == 400
    [event] = _new_events(0)
    assert event.action == Action.SIGN_IN_FAILED
    assert event.actor_id == cast.therapist.pk
    assert event.detail == {"step": "second_factor"}
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_replayed_code_is_recorded_as_a_failure(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False):
        first = Client()
        full_sign_in(first, cast.therapist.email, T0)
        first.post(SIGN_OUT)
        head = _head()
        second = Client()
        password_step(second, cast.therapist.email)
        assert code_step(second, code_at(T0)).status_code == 400
    [event] = _new_events(head)
    assert event.action == Action.SIGN_IN_FAILED
    assert event.detail == {"step": "second_factor"}


@pytest.mark.django_db
def test_a_sign_in_refused_by_the_lockout_is_still_recorded(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Attempts during a lockout are exactly what a reviewer needs to see."""
    with time_machine.travel(T0, tick=False):
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            password_step(Client(), cast.therapist.email, ATTEMPTED)
        head = _head()
        assert password_step(Client(), cast.therapist.email, PASSWORD).status_code == 400
        assert password_step(Client(), "nobody.here@riverbend.test", ATTEMPTED).status_code == 400
    events = _new_events(head)
    assert [e.action for e in events] == [Action.SIGN_IN_FAILED, Action.SIGN_IN_FAILED]
    assert all(e.detail.get("step") == "password" for e in events)
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_code_refused_by_the_lockout_is_still_recorded(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    with time_machine.travel(T0, tick=False):
        password_step(client, cast.therapist.email)
        for code in wrong_codes(T0, settings.LOGIN_FAILURE_LIMIT):
            code_step(client, code)
        head = _head()
        assert code_step(client, code_at(T0)).status_code == 400
    [event] = _new_events(head)
    assert event.action == Action.SIGN_IN_FAILED
    assert event.actor_id == cast.therapist.pk
    assert event.detail.get("step") == "second_factor"


@pytest.mark.django_db
def test_signing_out_is_recorded(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        full_sign_in(client, cast.therapist.email, T0)
        head = _head()
        client.post(SIGN_OUT)
    [event] = _new_events(head)
    assert event.action == Action.SIGN_OUT
    assert event.actor_id == cast.therapist.pk
    assert event.detail == {"reason": "user"}
    assert verify_chain().ok


@pytest.mark.django_db
def test_signing_out_when_not_signed_in_records_nothing(cast: Cast) -> None:
    response = Client().post(SIGN_OUT)
    assert response.status_code == 302
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_day_of_sign_ins_and_outs_keeps_the_chain_intact(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        when = T0
        expected: list[str] = []

        def tick() -> datetime.datetime:
            traveller.shift(STEP)
            return when + STEP

        # A typo, then a sign-in, then a sign-out.
        therapist = Client()
        password_step(therapist, cast.therapist.email, "typo")
        full_sign_in(therapist, cast.therapist.email, when)
        therapist.post(SIGN_OUT)
        expected += [Action.SIGN_IN_FAILED, Action.SIGN_IN, Action.SIGN_OUT]

        # A wrong code, then the right one; then the session idles out.
        when = tick()
        prescriber = Client()
        password_step(prescriber, cast.prescriber.email)
        code_step(prescriber, wrong_codes(when, 1)[0])
        code_step(prescriber, code_at(when))
        expected += [Action.SIGN_IN_FAILED, Action.SIGN_IN]
        traveller.shift(datetime.timedelta(minutes=15))
        when += datetime.timedelta(minutes=15)
        assert prescriber.get(TODAY)["Location"] == "/accounts/signed-out/?reason=idle"
        expected += [Action.SIGN_OUT]

        # An unknown email, and an admin who signs in and out.
        password_step(Client(), "stranger@example.test", "whatever")
        expected += [Action.SIGN_IN_FAILED]
        when = tick()
        admin = Client()
        full_sign_in(admin, cast.admin.email, when)
        admin.post(SIGN_OUT)
        expected += [Action.SIGN_IN, Action.SIGN_OUT]

    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.action for e in events] == expected
    result = verify_chain()
    assert result.ok, result.describe()
    assert result.rows == len(expected)
