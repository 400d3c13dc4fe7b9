"""Signing in: email and password first, then a TOTP code; signing out."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.contrib.sessions.models import Session
from django.test import Client

from tandem.accounts import services
from tandem.accounts.models import User
from tandem.test import PASSWORD, Cast

from .support import (
    CODE,
    SIGN_IN,
    SIGN_OUT,
    T0,
    TODAY,
    code_at,
    code_step,
    full_sign_in,
    is_signed_in,
    password_step,
    session_key,
)


@pytest.mark.django_db
def test_passwords_are_stored_as_argon2_hashes() -> None:
    user = User.objects.create_user("new.person@riverbend.test", "a long and unusual passphrase", full_name="New")
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert "a long and unusual passphrase" not in user.password
    assert check_password("a long and unusual passphrase", user.password)
    assert not check_password("a long and unusual passphras", user.password)


@pytest.mark.django_db
def test_the_cast_passwords_are_argon2_too(cast: Cast) -> None:
    assert cast.therapist.password.startswith("argon2$argon2id$")


@pytest.mark.django_db
def test_password_then_code_signs_in(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        first = password_step(client, "therapist@riverbend.test")
        assert first.status_code == 302
        assert first["Location"] == CODE + "?next=%2Ftoday%2F"
        # The password alone is not a sign-in.
        assert client.get(TODAY)["Location"].startswith(SIGN_IN)

        second = code_step(client, code_at(T0))
        assert second.status_code == 302
        assert second["Location"] == TODAY
        page = client.get(TODAY)
        assert page.status_code == 200
        assert page.wsgi_request.user == cast.therapist


@pytest.mark.django_db
def test_email_is_matched_without_regard_to_case_or_spaces(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        response = password_step(client, "  Therapist@Riverbend.TEST ")
        assert response.status_code == 302
        assert code_step(client, code_at(T0)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_the_session_key_rotates_at_the_password_step_and_again_at_sign_in(cast: Cast) -> None:
    client = Client()
    # A session that exists before sign-in, as one planted by an attacker would.
    planted = client.session
    planted["seen_sign_in_page"] = True
    planted.save()
    before = session_key(client)
    assert before

    with time_machine.travel(T0, tick=False):
        assert password_step(client, cast.therapist.email).status_code == 302
        pending = session_key(client)
        assert code_step(client, code_at(T0)).status_code == 302
        after = session_key(client)

    assert pending and after
    assert len({before, pending, after}) == 3
    assert not Session.objects.filter(session_key__in=[before, pending]).exists()
    assert Session.objects.get(session_key=after).get_decoded()["_auth_user_id"] == str(cast.therapist.pk)

    # Whoever still holds the old key holds nothing.
    attacker = Client()
    attacker.cookies["sessionid"] = before
    with time_machine.travel(T0 + datetime.timedelta(seconds=5), tick=False):
        assert attacker.get(TODAY)["Location"].startswith(SIGN_IN)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/patients/", "/patients/"),
        ("https://evil.example/phish", TODAY),
        ("//evil.example/phish", TODAY),
        ("javascript:alert(1)", TODAY),
    ],
)
def test_next_is_followed_only_within_the_site(cast: Cast, target: str, expected: str) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        first = client.post(
            SIGN_IN + "?" + urlencode({"next": target}), {"email": cast.therapist.email, "password": PASSWORD}
        )
        assert first.status_code == 302
        second = client.post(first["Location"], {"code": code_at(T0)})
    assert second.status_code == 302
    assert second["Location"] == expected


@pytest.mark.django_db
def test_an_unfinished_sign_in_expires_after_five_minutes(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        assert password_step(client, cast.therapist.email).status_code == 302
        traveller.shift(datetime.timedelta(seconds=services.PENDING_SECONDS + 1))
        late = T0 + datetime.timedelta(seconds=services.PENDING_SECONDS + 1)
        response = code_step(client, code_at(late))
        assert response.status_code == 302
        assert response["Location"] == SIGN_IN
        assert not is_signed_in(client)


@pytest.mark.django_db
def test_the_code_page_without_a_password_step_sends_you_to_sign_in(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        response = code_step(client, code_at(T0))
    assert response.status_code == 302
    assert response["Location"] == SIGN_IN
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_an_inactive_user_gets_the_generic_answer(cast: Cast) -> None:
    User.objects.filter(pk=cast.colleague.pk).update(is_active=False)
    client = Client()
    response = password_step(client, cast.colleague.email)
    assert response.status_code == 400
    assert services.GENERIC_SIGN_IN_ERROR in response.content.decode()
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_a_signed_in_user_visiting_sign_in_goes_to_today(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(cast.therapist)
    response = client.get(SIGN_IN)
    assert response.status_code == 302
    assert response["Location"] == TODAY


@pytest.mark.django_db
def test_sign_out_needs_a_post_and_then_ends_the_session(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert full_sign_in(client, cast.therapist.email, T0).status_code == 302
        key = session_key(client)

        assert client.get(SIGN_OUT).status_code == 405
        assert is_signed_in(client)

        response = client.post(SIGN_OUT)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/signed-out/?reason=user"
        assert not is_signed_in(client)
        assert not Session.objects.filter(session_key=key).exists()
        page = client.get(response["Location"])
        assert page.status_code == 200
        assert "You are signed out." in page.content.decode()
