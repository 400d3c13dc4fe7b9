"""Hostile or malformed input on the sign-in form: a clear 400, nothing written."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tandem.accounts.models import SignInThrottle, User
from tandem.audit.models import AuditEvent
from tandem.test import PASSWORD, Cast

from .support import SIGN_IN, is_signed_in, signed_in_session_count

LONG = 10_000
SCRIPT = "<script>alert(1)</script>"
SQL = "' OR 1=1 --"

# (description, form data, an error message the page must show)
MALFORMED = [
    ("oversized email", {"email": "a" * LONG + "@riverbend.test", "password": PASSWORD}, "at most 254 characters"),
    ("oversized password", {"email": "therapist@riverbend.test", "password": "p" * LONG}, "at most 256 characters"),
    ("oversized both", {"email": "a" * LONG, "password": "p" * LONG}, "at most 254 characters"),
    ("script as email", {"email": SCRIPT, "password": PASSWORD}, "Enter a valid email address."),
    ("script in email", {"email": f"x{SCRIPT}@riverbend.test", "password": PASSWORD}, "Enter a valid email address."),
    ("sql as email", {"email": SQL, "password": PASSWORD}, "Enter a valid email address."),
    ("sql around email", {"email": f"therapist@riverbend.test{SQL}", "password": "x"}, "Enter a valid email address."),
    ("null byte in email", {"email": "therapist@riverbend.test\x00", "password": PASSWORD}, "Null characters"),
    ("null byte in password", {"email": "therapist@riverbend.test", "password": "pw\x00"}, "Null characters"),
    ("missing email", {"password": PASSWORD}, "This field is required."),
    ("missing password", {"email": "therapist@riverbend.test"}, "This field is required."),
    ("empty values", {"email": "", "password": ""}, "This field is required."),
    ("empty body", {}, "This field is required."),
    ("email as list of junk", {"email": ["therapist@riverbend.test", SQL], "password": PASSWORD}, "valid email"),
]


def _writes_nothing(client: Client, users_before: int) -> None:
    assert User.objects.count() == users_before
    assert signed_in_session_count() == 0
    assert not SignInThrottle.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not is_signed_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "message"), [(d, m) for _, d, m in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_sign_in_input_is_a_clear_400(cast: Cast, data: dict[str, object], message: str) -> None:
    users = User.objects.count()
    client = Client()
    response = client.post(SIGN_IN, data)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert 'role="alert"' in html
    assert SCRIPT not in html
    assert "p" * 300 not in html  # a password is never echoed back
    assert client.session.get("tandem_pending_user") is None
    _writes_nothing(client, users)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"email": ["therapist@riverbend.test"], "password": [PASSWORD]},
        {"email": {"$ne": None}, "password": {"$ne": None}},
        {"email": 12345, "password": True},
        {"email": "therapist@riverbend.test", "password": PASSWORD},
    ],
    ids=["lists", "objects", "numbers", "well-formed-but-json"],
)
def test_a_json_body_is_a_clear_400(cast: Cast, body: dict[str, object]) -> None:
    """The form reads form-encoded fields only; a JSON body carries none of them."""
    users = User.objects.count()
    client = Client()
    response = client.post(SIGN_IN, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    _writes_nothing(client, users)


@pytest.mark.django_db
def test_a_file_upload_in_place_of_fields_is_a_clear_400(cast: Cast) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    users = User.objects.count()
    client = Client()
    response = client.post(
        SIGN_IN, {"email": SimpleUploadedFile("email.txt", b"therapist@riverbend.test"), "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    _writes_nothing(client, users)


@pytest.mark.django_db
@pytest.mark.parametrize("password", [SQL, SCRIPT, "' OR '1'='1", '"; DROP TABLE accounts_user; --'])
def test_payloads_as_a_password_are_just_a_wrong_password(cast: Cast, password: str) -> None:
    """A well-formed email with a hostile password is an ordinary failed sign-in:
    400, the generic message, the failure counted, and nobody signed in."""
    users = User.objects.count()
    client = Client()
    response = client.post(SIGN_IN, {"email": "therapist@riverbend.test", "password": password})
    assert response.status_code == 400
    assert "That email and password did not work" in response.content.decode()
    assert password not in response.content.decode()
    assert User.objects.count() == users
    assert signed_in_session_count() == 0
    assert not is_signed_in(client)
    assert SignInThrottle.objects.get(key="email:therapist@riverbend.test").failures == 1
    # The real password still works: nothing about the account changed.
    assert client.post(SIGN_IN, {"email": "therapist@riverbend.test", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_a_script_in_the_email_is_shown_back_escaped(cast: Cast) -> None:
    response = Client().post(SIGN_IN, {"email": SCRIPT, "password": PASSWORD})
    html = response.content.decode()
    assert response.status_code == 400
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
