"""Sudo mode: sensitive actions need the password and a fresh code again."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tandem.accounts import services
from tandem.accounts.models import MfaDevice
from tandem.audit.models import Action, AuditEvent
from tandem.organizations.models import Membership, Role
from tandem.test import PASSWORD, Cast

from .support import STEP, T0, TODAY, code_at, full_sign_in, password_step, wrong_codes

CONFIRM = "/accounts/confirm/"


def confirm_url(next_url: str) -> str:
    return CONFIRM + "?" + urlencode({"next": next_url})


def confirm(client: Client, when: datetime.datetime, next_url: str = TODAY, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(confirm_url(next_url), {"password": password, "code": code_at(when)})


def _urls(cast: Cast) -> dict[str, str]:
    colleague = Membership.objects.get(user=cast.colleague, organization=cast.riverbend)
    org = cast.riverbend.public_id
    return {
        "members": reverse("organizations:members", args=[org]),
        "reset_mfa": reverse("organizations:member_reset_mfa", args=[org, colleague.public_id]),
        "role": reverse("organizations:member_role", args=[org, colleague.public_id]),
        "export": reverse("audit:export"),
    }


@pytest.mark.django_db
def test_resetting_a_members_mfa_needs_sudo(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    urls = _urls(cast)
    with time_machine.travel(T0, tick=False):
        admin = client_for(cast.admin)
        members_page = "http://testserver" + urls["members"]

        refused = admin.post(urls["reset_mfa"], headers={"Referer": members_page})
        assert refused.status_code == 302
        assert refused["Location"] == confirm_url(members_page)
        assert MfaDevice.objects.filter(user=cast.colleague).exists()
        assert not AuditEvent.objects.filter(action=Action.MFA_RESET).exists()

        # Without a Referer the way back is the home page.
        assert admin.post(urls["reset_mfa"])["Location"] == confirm_url(TODAY)

        page = admin.get(refused["Location"])
        assert page.status_code == 200
        assert "Confirm it's you" in page.content.decode()
        confirmed = confirm(admin, T0, members_page)
        assert confirmed.status_code == 302
        assert confirmed["Location"] == members_page

        done = admin.post(urls["reset_mfa"], headers={"Referer": members_page})
        assert done.status_code == 302
        assert done["Location"] == urls["members"]
    assert not MfaDevice.objects.filter(user=cast.colleague).exists()
    event = AuditEvent.objects.filter(action=Action.MFA_RESET).get()
    assert event.actor_id == cast.admin.pk
    assert event.target_id == str(cast.colleague.public_id)


@pytest.mark.django_db
def test_changing_a_role_needs_sudo(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    urls = _urls(cast)
    membership = Membership.objects.get(user=cast.colleague, organization=cast.riverbend)
    with time_machine.travel(T0, tick=False):
        admin = client_for(cast.admin)
        shown = admin.get(urls["role"])
        assert shown.status_code == 302
        assert shown["Location"] == confirm_url(urls["role"])
        posted = admin.post(urls["role"], {"role": Role.COORDINATOR})
        assert posted.status_code == 302
        assert posted["Location"].startswith(CONFIRM)
        membership.refresh_from_db()
        assert membership.role == Role.THERAPIST

        assert confirm(admin, T0, urls["role"])["Location"] == urls["role"]
        assert admin.get(urls["role"]).status_code == 200
        assert admin.post(urls["role"], {"role": Role.COORDINATOR}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.COORDINATOR


@pytest.mark.django_db
def test_exporting_the_audit_trail_needs_sudo(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    urls = _urls(cast)
    with time_machine.travel(T0, tick=False):
        admin = client_for(cast.admin)
        refused = admin.get(urls["export"])
        assert refused.status_code == 302
        assert refused["Location"] == confirm_url(urls["export"])
        assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()

        assert confirm(admin, T0, urls["export"])["Location"] == urls["export"]
        export = admin.get(urls["export"])
        assert export.status_code == 200
        assert export["Content-Type"] == "text/csv"
        assert b"".join(export.streaming_content).startswith(b"seq,occurred_at,actor_email")
    assert AuditEvent.objects.filter(action=Action.EXPORT).count() == 1


@pytest.mark.django_db
def test_sudo_lasts_sudo_seconds(cast: Cast, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.SUDO_SECONDS == 600
    export = _urls(cast)["export"]
    with time_machine.travel(T0, tick=False) as traveller:
        admin = client_for(cast.admin)
        assert confirm(admin, T0, export).status_code == 302
        traveller.shift(datetime.timedelta(seconds=settings.SUDO_SECONDS - 1))
        assert admin.get(export).status_code == 200
        traveller.shift(datetime.timedelta(seconds=1))
        expired = admin.get(export)
        assert expired.status_code == 302
        assert expired["Location"] == confirm_url(export)
        # Still signed in: only the sensitive action asks again.
        assert admin.get(TODAY).status_code == 200


@pytest.mark.django_db
def test_sudo_length_is_a_setting(cast: Cast, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SUDO_SECONDS = 60
    export = _urls(cast)["export"]
    with time_machine.travel(T0, tick=False) as traveller:
        admin = client_for(cast.admin)
        assert confirm(admin, T0, export).status_code == 302
        assert admin.get(export).status_code == 200
        traveller.shift(datetime.timedelta(seconds=60))
        assert admin.get(export)["Location"] == confirm_url(export)


@pytest.mark.django_db
def test_sudo_needs_the_password_and_a_fresh_code(cast: Cast) -> None:
    export = _urls(cast)["export"]
    admin = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        # A real sign-in burns this step's code.
        assert full_sign_in(admin, cast.admin.email, T0).status_code == 302
        traveller.shift(datetime.timedelta(seconds=10))

        for data in [
            {"password": "not the password", "code": code_at(T0)},
            {"password": PASSWORD, "code": code_at(T0)},  # the code used to sign in
            {"password": PASSWORD, "code": wrong_codes(T0, 1)[0]},
            {"password": PASSWORD},
            {"code": code_at(T0)},
            {},
            {"password": "p" * 10_000, "code": "1" * 10_000},
        ]:
            response = admin.post(confirm_url(export), data)
            assert response.status_code == 400, sorted(data)
            assert admin.get(export).status_code == 302, sorted(data)

        traveller.shift(STEP)
        assert confirm(admin, T0 + STEP, export)["Location"] == export
        assert admin.get(export).status_code == 200
    assert AuditEvent.objects.filter(action=Action.SUDO, actor_id=cast.admin.pk).count() == 1


@pytest.mark.django_db
def test_a_code_used_for_sudo_cannot_be_used_again(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        first = client_for(cast.admin)
        second = client_for(cast.admin)
        assert confirm(first, T0).status_code == 302
        assert confirm(second, T0).status_code == 400


@pytest.mark.django_db
def test_sudo_belongs_to_one_session(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    export = _urls(cast)["export"]
    with time_machine.travel(T0, tick=False):
        confirmed = client_for(cast.admin)
        other = client_for(cast.admin)
        assert confirm(confirmed, T0, export).status_code == 302
        assert confirmed.get(export).status_code == 200
        assert other.get(export)["Location"] == confirm_url(export)


@pytest.mark.django_db
def test_sudo_does_not_survive_sign_out(cast: Cast) -> None:
    export = _urls(cast)["export"]
    admin = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        full_sign_in(admin, cast.admin.email, T0)
        traveller.shift(STEP)
        assert confirm(admin, T0 + STEP, export).status_code == 302
        admin.post("/accounts/sign-out/")
        traveller.shift(STEP)
        full_sign_in(admin, cast.admin.email, T0 + 2 * STEP)
        assert admin.get(export)["Location"] == confirm_url(export)


@pytest.mark.django_db
def test_wrong_confirmations_count_toward_the_lockout(cast: Cast, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        admin = client_for(cast.admin)
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            assert confirm(admin, T0, password="guess").status_code == 400
        locked = confirm(admin, T0)
        assert locked.status_code == 400
        assert services.GENERIC_SIGN_IN_ERROR in locked.content.decode()
        assert password_step(Client(), cast.admin.email).status_code == 400


@pytest.mark.django_db
def test_the_confirm_page_only_sends_you_back_within_the_site(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        admin = client_for(cast.admin)
        response = confirm(admin, T0, "https://evil.example/steal")
        assert response.status_code == 302
        assert response["Location"] == TODAY


@pytest.mark.django_db
def test_the_confirm_page_needs_a_signed_in_user(cast: Cast) -> None:
    response = Client().post(CONFIRM, {"password": PASSWORD, "code": code_at(T0)})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")
