"""Password reset by email: a link that works once and expires."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client

from tandem.accounts.models import User
from tandem.audit.models import Action, AuditEvent
from tandem.audit.services import verify_chain
from tandem.test import PASSWORD, Cast, page_text

from .support import CODE, SIGN_IN, STEP, T0, TODAY, code_at, code_step, is_signed_in, password_step

RESET = "/accounts/password-reset/"
SENT = "/accounts/password-reset/sent/"
COMPLETE = "/accounts/password-reset/complete/"
LINK_RE = re.compile(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)")
DEAD = "This link no longer works"
NEW_PASSWORD = "a fresh and lengthy passphrase 42"


def _request_link(email: str) -> str:
    before = len(mail.outbox)
    response = Client().post(RESET, {"email": email})
    assert response.status_code == 302
    assert response["Location"] == SENT
    assert len(mail.outbox) == before + 1
    message = mail.outbox[-1]
    match = LINK_RE.search(message.body)
    assert match, message.body
    return match.group(1)


def _choose_password(client: Client, link: str, password: str = NEW_PASSWORD) -> None:
    form = client.get(link, follow=True)
    assert form.status_code == 200
    assert "Choose a new password" in form.content.decode()
    set_password_url = form.redirect_chain[-1][0]
    saved = client.post(set_password_url, {"new_password1": password, "new_password2": password})
    assert saved.status_code == 302
    assert saved["Location"] == COMPLETE


@pytest.mark.django_db
def test_a_reset_email_carries_a_link_to_choose_a_new_password(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False):
        link = _request_link("therapist@riverbend.test")
    message = mail.outbox[0]
    assert message.to == ["therapist@riverbend.test"]
    assert message.subject == "Reset your Tandem password"
    assert "It works once and expires" in message.body

    client = Client()
    with time_machine.travel(T0 + datetime.timedelta(minutes=5), tick=False):
        _choose_password(client, link)
    user = User.objects.get(pk=cast.therapist.pk)
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    assert user.password.startswith("argon2$")
    # Resetting does not sign anyone in: the second factor is still ahead.
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_the_new_password_signs_in_with_a_code_and_the_old_one_does_not(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        _choose_password(Client(), _request_link(cast.therapist.email))
        traveller.shift(STEP)
        assert password_step(Client(), cast.therapist.email, PASSWORD).status_code == 400
        client = Client()
        assert password_step(client, cast.therapist.email, NEW_PASSWORD)["Location"].startswith(CODE)
        assert code_step(client, code_at(T0 + STEP)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_the_link_works_once(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False):
        link = _request_link(cast.therapist.email)
        _choose_password(Client(), link)

        again = Client().get(link, follow=True)
        assert again.status_code == 200
        assert DEAD in again.content.decode()
        assert "new_password1" not in again.content.decode()
    assert User.objects.get(pk=cast.therapist.pk).check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_the_link_cannot_be_replayed_by_posting_to_it_directly(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False):
        link = _request_link(cast.therapist.email)
        _choose_password(Client(), link)
        attempt = Client().post(
            link, {"new_password1": "another passphrase 99", "new_password2": "another passphrase 99"}
        )
        assert attempt.status_code == 200
        assert DEAD in attempt.content.decode()
    assert User.objects.get(pk=cast.therapist.pk).check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_the_link_expires_after_password_reset_timeout(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    with time_machine.travel(T0, tick=False) as traveller:
        link = _request_link(cast.therapist.email)
        traveller.shift(datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))
        late = Client().get(link, follow=True)
        assert DEAD in late.content.decode()
    assert User.objects.get(pk=cast.therapist.pk).check_password(PASSWORD)


@pytest.mark.django_db
def test_the_link_still_works_just_before_it_expires(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        link = _request_link(cast.therapist.email)
        traveller.shift(datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT - 60))
        _choose_password(Client(), link)
    assert User.objects.get(pk=cast.therapist.pk).check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_the_timeout_is_a_setting(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_RESET_TIMEOUT = 300
    with time_machine.travel(T0, tick=False) as traveller:
        link = _request_link(cast.therapist.email)
        traveller.shift(datetime.timedelta(seconds=301))
        assert DEAD in Client().get(link, follow=True).content.decode()


@pytest.mark.django_db
def test_a_tampered_link_does_not_work(cast: Cast) -> None:
    link = _request_link(cast.therapist.email)
    uid, token = link.rstrip("/").split("/")[-2:]
    other_uid = _request_link(cast.colleague.email).rstrip("/").split("/")[-2]
    for bad in [
        f"{RESET}{uid}/{token[:-1]}x/",
        f"{RESET}{other_uid}/{token}/",
        f"{RESET}not-base64/{token}/",
    ]:
        response = Client().get(bad, follow=True)
        assert response.status_code == 200
        assert DEAD in response.content.decode(), bad


@pytest.mark.django_db
def test_an_unknown_email_gets_the_same_page_and_no_email(cast: Cast) -> None:
    known_client, unknown_client = Client(), Client()
    known = known_client.post(RESET, {"email": cast.therapist.email})
    unknown = unknown_client.post(RESET, {"email": "nobody.here@riverbend.test"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [cast.therapist.email]
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"]) == (302, SENT)
    known_page, unknown_page = known_client.get(SENT), unknown_client.get(SENT)
    assert known_page.status_code == unknown_page.status_code == 200
    assert page_text(known_page) == page_text(unknown_page)


@pytest.mark.django_db
def test_a_reset_signs_out_the_users_existing_sessions(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        elsewhere = client_for(cast.therapist)
        assert elsewhere.get(TODAY).status_code == 200
        _choose_password(Client(), _request_link(cast.therapist.email))
        response = elsewhere.get(TODAY)
        assert response.status_code == 302
        assert response["Location"].startswith(SIGN_IN)


@pytest.mark.django_db
def test_a_reset_ends_a_lockout_and_is_audited(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            password_step(Client(), cast.therapist.email, "wrong guess")
        assert password_step(Client(), cast.therapist.email, PASSWORD).status_code == 400

        _choose_password(Client(), _request_link(cast.therapist.email))
        assert password_step(Client(), cast.therapist.email, NEW_PASSWORD).status_code == 302

    event = AuditEvent.objects.filter(action=Action.PASSWORD_RESET).get()
    assert event.actor_id == cast.therapist.pk
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_weak_new_password_is_refused(cast: Cast) -> None:
    client = Client()
    link = _request_link(cast.therapist.email)
    form = client.get(link, follow=True)
    response = client.post(form.redirect_chain[-1][0], {"new_password1": "password", "new_password2": "password"})
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    assert User.objects.get(pk=cast.therapist.pk).check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action=Action.PASSWORD_RESET).exists()
