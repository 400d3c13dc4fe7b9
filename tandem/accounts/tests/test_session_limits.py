"""Automatic logoff: an idle limit and an absolute limit on every session."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client

from tandem.audit.models import Action, AuditEvent
from tandem.test import Cast

from .support import SIGN_IN, T0, TODAY, full_sign_in, session_key

IDLE_OUT = "/accounts/signed-out/?reason=idle"
ABSOLUTE_OUT = "/accounts/signed-out/?reason=absolute"
STATUS = "/accounts/session/status"
KEEPALIVE = "/accounts/session/keepalive"


def minutes(n: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=n)


def _assert_signed_out(client: Client, key: str | None) -> None:
    # The next protected request goes to sign-in, and the server-side session is gone.
    follow_up = client.get(TODAY)
    assert follow_up.status_code == 302
    assert follow_up["Location"].startswith(SIGN_IN)
    assert not Session.objects.filter(session_key=key).exists()


@pytest.mark.django_db
def test_the_defaults_are_fifteen_minutes_and_twelve_hours(settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.IDLE_TIMEOUT_SECONDS == 15 * 60
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 3600


@pytest.mark.django_db
def test_fifteen_idle_minutes_sign_you_out(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        full_sign_in(client, cast.therapist.email, T0)
        key = session_key(client)
        assert client.get(TODAY).status_code == 200

        traveller.shift(minutes(15))
        response = client.get(TODAY)
        assert response.status_code == 302
        assert response["Location"] == IDLE_OUT
        _assert_signed_out(client, key)

        page = client.get(IDLE_OUT)
        assert "after a period of inactivity" in page.content.decode()
        event = AuditEvent.objects.filter(action=Action.SIGN_OUT).get()
        assert event.actor_id == cast.therapist.pk
        assert event.detail == {"reason": "idle"}


@pytest.mark.django_db
def test_just_under_fifteen_minutes_is_still_signed_in(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        traveller.shift(minutes(15) - datetime.timedelta(seconds=1))
        assert client.get(TODAY).status_code == 200


@pytest.mark.django_db
def test_activity_within_the_window_extends_it(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        # Two hours of work, a page every fourteen minutes.
        for _ in range(9):
            traveller.shift(minutes(14))
            assert client.get(TODAY).status_code == 200
        # Then fourteen quiet minutes are fine, fifteen are not.
        traveller.shift(minutes(14))
        assert client.get(TODAY).status_code == 200
        traveller.shift(minutes(15))
        assert client.get(TODAY)["Location"] == IDLE_OUT


@pytest.mark.django_db
def test_the_keepalive_post_counts_as_activity(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        traveller.shift(minutes(10))
        alive = client.post(KEEPALIVE)
        assert alive.status_code == 200
        assert alive.json() == {"signed_in": True, "seconds_left": 15 * 60}
        traveller.shift(minutes(10))
        assert client.get(TODAY).status_code == 200


@pytest.mark.django_db
def test_polling_the_session_status_is_not_activity(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        for elapsed in range(1, 15):
            traveller.shift(minutes(1))
            status = client.get(STATUS)
            assert status.status_code == 200
            assert status.json() == {"signed_in": True, "seconds_left": (15 - elapsed) * 60}
        traveller.shift(minutes(1))
        # The poll that lands after the limit is told so, as JSON.
        expired = client.get(STATUS)
        assert expired.status_code == 401
        assert expired.json() == {"signed_in": False, "reason": "idle", "redirect": IDLE_OUT}
        assert client.get(TODAY)["Location"].startswith(SIGN_IN)


@pytest.mark.django_db
def test_the_absolute_limit_signs_you_out_despite_continuous_activity(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        key = session_key(client)
        elapsed = datetime.timedelta(0)
        # Busy all day: something every ten minutes, right up to the limit.
        while elapsed + minutes(10) < datetime.timedelta(hours=12):
            traveller.shift(minutes(10))
            elapsed += minutes(10)
            assert client.post(KEEPALIVE).status_code == 200, elapsed
        assert client.get(TODAY).status_code == 200
        traveller.shift(datetime.timedelta(hours=12) - elapsed)
        response = client.get(TODAY)
        assert response.status_code == 302
        assert response["Location"] == ABSOLUTE_OUT
        _assert_signed_out(client, key)
        assert "reached its time limit" in client.get(ABSOLUTE_OUT).content.decode()
        assert AuditEvent.objects.filter(action=Action.SIGN_OUT).get().detail == {"reason": "absolute"}


@pytest.mark.django_db
def test_htmx_requests_are_told_where_to_go_with_hx_redirect(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        traveller.shift(minutes(16))
        response = client.get(TODAY, headers={"HX-Request": "true"})
        assert response.status_code == 204
        assert response["HX-Redirect"] == IDLE_OUT
        assert not response.content
        assert client.get(TODAY)["Location"].startswith(SIGN_IN)


@pytest.mark.django_db
def test_htmx_requests_get_hx_redirect_at_the_absolute_limit_too(cast: Cast, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        for _ in range(5):
            traveller.shift(minutes(10))
            assert client.post(KEEPALIVE).status_code == 200
        traveller.shift(minutes(10))
        response = client.post(KEEPALIVE, headers={"HX-Request": "true"})
        assert response.status_code == 204
        assert response["HX-Redirect"] == ABSOLUTE_OUT


@pytest.mark.django_db
def test_the_idle_limit_is_a_setting(cast: Cast, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IDLE_TIMEOUT_SECONDS = 120
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        traveller.shift(datetime.timedelta(seconds=119))
        assert client.get(TODAY).status_code == 200
        traveller.shift(datetime.timedelta(seconds=120))
        assert client.get(TODAY)["Location"] == IDLE_OUT


@pytest.mark.django_db
def test_the_absolute_limit_is_a_setting(cast: Cast, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_ABSOLUTE_SECONDS = 300
    settings.IDLE_TIMEOUT_SECONDS = 120
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        for _ in range(4):
            traveller.shift(datetime.timedelta(seconds=60))
            assert client.get(TODAY).status_code == 200
        traveller.shift(datetime.timedelta(seconds=60))
        assert client.get(TODAY)["Location"] == ABSOLUTE_OUT


@pytest.mark.django_db
def test_limits_apply_to_every_signed_in_page(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.admin)
        traveller.shift(minutes(15))
        response = client.get("/patients/")
        assert response["Location"] == IDLE_OUT
        assert client.get("/audit/")["Location"].startswith(SIGN_IN)


@pytest.mark.django_db
def test_one_idle_session_does_not_end_the_users_other_sessions(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        idle = client_for(cast.therapist)
        traveller.shift(minutes(10))
        busy = client_for(cast.therapist)
        traveller.shift(minutes(5))
        assert idle.get(TODAY)["Location"] == IDLE_OUT
        assert busy.get(TODAY).status_code == 200


@pytest.mark.django_db
def test_live_refreshes_do_not_keep_an_idle_session_alive(cast: Cast) -> None:
    """A calendar region refreshing itself after live events is not activity."""
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        full_sign_in(client, cast.therapist.email, T0)
        assert client.get(TODAY).status_code == 200
        for _ in range(4):
            traveller.shift(minutes(3.5))
            assert client.get("/calendar/", HTTP_X_TANDEM_PASSIVE="1").status_code == 200
        traveller.shift(minutes(1.5))
        assert client.get(TODAY)["Location"] == IDLE_OUT
