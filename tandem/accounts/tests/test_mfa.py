"""The second factor: enrollment with an inline QR code, single-use codes, recovery codes."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.test import Client

from tandem.accounts import services
from tandem.accounts.models import MfaDevice, RecoveryCode, User
from tandem.test import TOTP_SECRET, Cast

from .support import (
    CODE,
    ENROLL,
    SIGN_IN,
    SIGN_OUT,
    STEP,
    T0,
    TODAY,
    code_at,
    code_step,
    is_signed_in,
    password_step,
    wrong_codes,
)

NEW_EMAIL = "jordan.new@riverbend.test"
NEW_PASSWORD = "a brand new and long passphrase"
CODES_RE = re.compile(r"<li><code>([^<]+)</code></li>")
SECRET_RE = re.compile(r'<code aria-label="Setup key">([A-Z2-7]+)</code>')


@pytest.fixture
def newcomer(db: None) -> User:
    return User.objects.create_user(NEW_EMAIL, NEW_PASSWORD, full_name="Jordan New")


def _start_enrollment(client: Client) -> str:
    """Password step for the newcomer; returns the setup key the page shows."""
    first = password_step(client, NEW_EMAIL, NEW_PASSWORD)
    assert first.status_code == 302
    assert first["Location"].startswith(ENROLL)
    page = client.get(first["Location"])
    assert page.status_code == 200
    match = SECRET_RE.search(page.content.decode())
    assert match
    return match.group(1)


def _enroll(client: Client, when: datetime.datetime) -> tuple[str, list[str]]:
    secret = _start_enrollment(client)
    done = client.post(ENROLL, {"code": code_at(when, secret)})
    assert done.status_code == 200
    return secret, CODES_RE.findall(done.content.decode())


@pytest.mark.django_db
def test_enrollment_shows_the_qr_code_as_inline_svg(newcomer: User) -> None:
    client = Client()
    first = password_step(client, NEW_EMAIL, NEW_PASSWORD)
    assert first.status_code == 302
    assert first["Location"].startswith(ENROLL)
    page = client.get(first["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    qr = html[html.index('<div class="qr">') :]
    qr = qr[: qr.index("</div>")]
    assert qr.startswith('<div class="qr"><svg')
    assert "</svg>" in qr
    assert "<img" not in html
    # No image request, no third-party QR service: nothing about the key leaves the page.
    assert "http" not in qr.replace("http://www.w3.org/2000/svg", "")
    # The key is shown as text too, and stays the same across reloads.
    secret = SECRET_RE.search(html)
    assert secret
    again = SECRET_RE.search(client.get(ENROLL).content.decode())
    assert again
    assert again.group(1) == secret.group(1)
    assert len(secret.group(1)) >= 32  # 160 bits
    # Shown, not yet saved.
    assert not MfaDevice.objects.filter(user=newcomer).exists()
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_enrollment_confirms_with_a_code_and_shows_ten_recovery_codes_once(newcomer: User) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        secret = _start_enrollment(client)

        wrong = client.post(ENROLL, {"code": code_at(T0 - 10 * STEP, secret)})
        assert wrong.status_code == 400
        assert "That code did not match" in wrong.content.decode()
        assert not MfaDevice.objects.filter(user=newcomer).exists()
        assert not RecoveryCode.objects.filter(user=newcomer).exists()
        assert not is_signed_in(client)

        done = client.post(ENROLL, {"code": code_at(T0, secret)})
        assert done.status_code == 200
        codes = CODES_RE.findall(done.content.decode())
        assert len(codes) == services.RECOVERY_CODE_COUNT == 10
        assert len(set(codes)) == 10
        assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)

        assert MfaDevice.objects.get(user=newcomer).secret == secret
        assert is_signed_in(client)

        # Stored only as hashes.
        stored = list(RecoveryCode.objects.filter(user=newcomer).values_list("code_hash", flat=True))
        assert len(stored) == 10
        for code in codes:
            assert not any(code in h or code.replace("-", "") in h for h in stored)

        # Never shown again.
        later = client.get(ENROLL, follow=True)
        security = client.get("/accounts/security/")
        for html in (later.content.decode(), security.content.decode()):
            assert not any(code in html for code in codes)
        assert "10 unused recovery codes" in security.content.decode()


@pytest.mark.django_db
def test_enrollment_refuses_malformed_codes(newcomer: User) -> None:
    client = Client()
    _start_enrollment(client)
    for bad in ["", "12345", "1234567", "abcdef", "1" * 10_000, "<script>alert(1)</script>"]:
        response = client.post(ENROLL, {"code": bad})
        assert response.status_code == 400, bad[:40]
        assert "<script>alert(1)</script>" not in response.content.decode()
    assert not MfaDevice.objects.filter(user=newcomer).exists()
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_the_code_that_confirmed_enrollment_cannot_sign_in_again(newcomer: User) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        first = Client()
        secret, _ = _enroll(first, T0)
        first.post(SIGN_OUT)

        traveller.shift(datetime.timedelta(seconds=10))  # same 30-second step
        second = Client()
        assert password_step(second, NEW_EMAIL, NEW_PASSWORD)["Location"].startswith(CODE)
        assert code_step(second, code_at(T0, secret)).status_code == 400
        assert not is_signed_in(second)

        traveller.shift(STEP)
        assert code_step(second, code_at(T0 + STEP, secret)).status_code == 302
        assert is_signed_in(second)


@pytest.mark.django_db
def test_an_enrolled_user_cannot_replace_the_authenticator_with_only_a_password(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert password_step(client, cast.therapist.email).status_code == 302
        page = client.get(ENROLL)
        assert page.status_code == 302
        assert page["Location"] == CODE
        attackers_secret = services.new_totp_secret()
        swap = client.post(ENROLL, {"code": code_at(T0, attackers_secret)})
        assert swap.status_code == 302
        assert swap["Location"] == CODE
    assert MfaDevice.objects.get(user=cast.therapist).secret == TOTP_SECRET
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_an_unenrolled_user_cannot_skip_to_the_code_page(newcomer: User) -> None:
    client = Client()
    assert password_step(client, NEW_EMAIL, NEW_PASSWORD).status_code == 302
    response = code_step(client, "000000")
    assert response.status_code == 302
    assert response["Location"] == ENROLL
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_a_recovery_code_signs_in_exactly_once(newcomer: User) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        enrolling = Client()
        _, codes = _enroll(enrolling, T0)
        enrolling.post(SIGN_OUT)

        traveller.shift(STEP)
        first = Client()
        assert password_step(first, NEW_EMAIL, NEW_PASSWORD).status_code == 302
        assert code_step(first, codes[0]).status_code == 302
        assert is_signed_in(first)
        first.post(SIGN_OUT)

        second = Client()
        assert password_step(second, NEW_EMAIL, NEW_PASSWORD).status_code == 302
        refused = code_step(second, codes[0])
        assert refused.status_code == 400
        assert "each works once" in refused.content.decode()
        assert not is_signed_in(second)

        # Another, untouched code still works, typed loosely.
        loose = "  " + codes[1].upper().replace("-", " ") + " "
        assert code_step(second, loose).status_code == 302
        assert is_signed_in(second)

    assert RecoveryCode.objects.filter(user=newcomer, used_at__isnull=False).count() == 2
    assert RecoveryCode.objects.filter(user=newcomer, used_at__isnull=True).count() == 8


@pytest.mark.django_db
def test_recovery_codes_of_another_user_do_not_work(cast: Cast) -> None:
    others = services.issue_recovery_codes(user=cast.colleague)
    client = Client()
    assert password_step(client, cast.therapist.email).status_code == 302
    assert code_step(client, others[0]).status_code == 400
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_a_code_is_refused_when_replayed_at_a_later_sign_in(cast: Cast) -> None:
    code = code_at(T0)
    with time_machine.travel(T0, tick=False) as traveller:
        first = Client()
        assert password_step(first, cast.therapist.email).status_code == 302
        assert code_step(first, code).status_code == 302
        assert is_signed_in(first)
        assert first.post(SIGN_OUT).status_code == 302

        # A second sign-in within the same 30-second step, with the same code:
        # as an onlooker who read it over the shoulder would try.
        traveller.shift(datetime.timedelta(seconds=20))
        second = Client()
        assert password_step(second, cast.therapist.email).status_code == 302
        replay = code_step(second, code)
        assert replay.status_code == 400
        assert not is_signed_in(second)

        # The next step's code is fresh, so it works.
        traveller.shift(datetime.timedelta(seconds=10))
        assert code_step(second, code_at(T0 + STEP)).status_code == 302
        assert is_signed_in(second)


@pytest.mark.django_db
def test_codes_from_a_step_already_used_or_earlier_are_refused(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        # Clock drift: the next step's code is accepted now, and burns that step.
        client = Client()
        assert password_step(client, cast.therapist.email).status_code == 302
        assert code_step(client, code_at(T0 + STEP)).status_code == 302
        client.post(SIGN_OUT)

        client = Client()
        assert password_step(client, cast.therapist.email).status_code == 302
        # The current step is inside the drift window, but earlier than a used one.
        assert code_step(client, code_at(T0)).status_code == 400
        assert code_step(client, code_at(T0 - STEP)).status_code == 400
        traveller.shift(STEP)
        # Now current, but already used.
        assert code_step(client, code_at(T0 + STEP)).status_code == 400
        assert not is_signed_in(client)
        traveller.shift(STEP)
        assert code_step(client, code_at(T0 + 2 * STEP)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_only_one_step_of_clock_drift_is_allowed(cast: Cast) -> None:
    with time_machine.travel(T0, tick=False):
        client = Client()
        assert password_step(client, cast.therapist.email).status_code == 302
        assert code_step(client, code_at(T0 - 2 * STEP)).status_code == 400
        assert code_step(client, code_at(T0 + 2 * STEP)).status_code == 400
        assert not is_signed_in(client)
        assert code_step(client, code_at(T0 - STEP)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_the_code_step_refuses_malformed_input(cast: Cast) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert password_step(client, cast.therapist.email).status_code == 302
        for bad in ["abcdef", "12 34", "9" * 10_000, "<script>alert(1)</script>", "' OR 1=1 --"]:
            response = code_step(client, bad)
            assert response.status_code == 400, bad[:40]
            assert "<script>alert(1)</script>" not in response.content.decode()
        assert not is_signed_in(client)
        # Still pending: the right code completes the sign-in.
        assert code_step(client, code_at(T0)).status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_an_empty_code_post_is_a_400(cast: Cast) -> None:
    client = Client()
    assert password_step(client, cast.therapist.email).status_code == 302
    response = client.post(CODE, {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_guessing_codes_is_throttled_like_passwords(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        assert password_step(client, cast.therapist.email).status_code == 302
        for guess in wrong_codes(T0, settings.LOGIN_FAILURE_LIMIT):
            assert code_step(client, guess).status_code == 400
        # Now even the right code is refused, with the generic answer.
        refused = code_step(client, code_at(T0))
        assert refused.status_code == 400
        assert services.GENERIC_SIGN_IN_ERROR in refused.content.decode()
        assert not is_signed_in(client)
        # And the password step too.
        other = Client()
        assert password_step(other, cast.therapist.email).status_code == 400

        traveller.shift(datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS))
        later = T0 + datetime.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        assert password_step(other, cast.therapist.email)["Location"].startswith(CODE)
        assert code_step(other, code_at(later)).status_code == 302
        assert is_signed_in(other)


@pytest.mark.django_db
def test_the_password_step_is_needed_before_any_code(cast: Cast) -> None:
    client = Client()
    response = client.post(CODE, {"code": code_at(T0)})
    assert response["Location"] == SIGN_IN
    response = client.post(ENROLL, {"code": "123456"})
    assert response["Location"] == SIGN_IN
    assert client.get(TODAY)["Location"].startswith(SIGN_IN)
