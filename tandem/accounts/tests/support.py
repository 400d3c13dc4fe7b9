"""Helpers shared by the accounts behaviour tests.

Codes are computed here with pyotp directly, not through
``tandem.accounts.services``, so the tests check the app against an
independent authenticator.
"""

from __future__ import annotations

import datetime

import pyotp
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.test import Client

from tandem.test import PASSWORD, TOTP_SECRET

# A moment five seconds into a 30-second TOTP step (15:00:00 UTC is a step boundary).
T0 = datetime.datetime(2026, 3, 2, 15, 0, 5, tzinfo=datetime.UTC)
STEP = datetime.timedelta(seconds=30)

SIGN_IN = "/accounts/sign-in/"
CODE = "/accounts/sign-in/code/"
ENROLL = "/accounts/sign-in/enroll/"
SIGN_OUT = "/accounts/sign-out/"
TODAY = "/today/"


class _Authenticator(pyotp.TOTP):
    # pyotp 2.10+ refuses secrets under 112 bits; the cast's well-known
    # 80-bit key is what an authenticator app would hold.
    min_secret_length_bits = 80


def code_at(when: datetime.datetime, secret: str = TOTP_SECRET) -> str:
    """The six digits an authenticator app shows at ``when``."""
    return _Authenticator(secret, interval=30).at(when)


def wrong_codes(when: datetime.datetime, count: int, secret: str = TOTP_SECRET) -> list[str]:
    """Six-digit codes that match no step the app would accept at ``when``."""
    valid = {code_at(when + k * STEP, secret) for k in (-1, 0, 1)}
    return [c for c in (f"{n:06d}" for n in range(count + 3)) if c not in valid][:count]


def password_step(client: Client, email: str, password: str = PASSWORD, **extra: str) -> HttpResponse:
    return client.post(SIGN_IN, {"email": email, "password": password, **extra})


def code_step(client: Client, code: str) -> HttpResponse:
    return client.post(CODE, {"code": code})


def full_sign_in(client: Client, email: str, when: datetime.datetime, password: str = PASSWORD) -> HttpResponse:
    first = password_step(client, email, password)
    assert first.status_code == 302, first.content
    assert first["Location"].startswith(CODE)
    return code_step(client, code_at(when))


def session_key(client: Client) -> str | None:
    cookie = client.cookies.get("sessionid")
    return cookie.value if cookie is not None and cookie.value else None


def is_signed_in(client: Client) -> bool:
    """Signed in as far as the app is concerned: a protected page renders."""
    response = client.get(TODAY)
    return response.status_code == 200


def signed_in_session_count() -> int:
    return sum(1 for s in Session.objects.all() if "_auth_user_id" in s.get_decoded())
