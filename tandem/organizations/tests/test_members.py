from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.audit.models import Action, AuditEvent
from tandem.organizations.models import Membership, Role
from tandem.test import Cast, sign_in


@pytest.fixture
def admin(cast: Cast) -> Client:
    return sign_in(Client(), cast.admin, sudo=True)


@pytest.mark.django_db(transaction=True)
def test_inviting_a_member_queues_an_email_the_worker_sends(cast: Cast, admin: Client) -> None:
    response = admin.post(
        reverse("organizations:member_invite", args=[cast.riverbend.public_id]),
        {
            "full_name": "Imani Fairbanks",
            "email": "Imani@Riverbend.test",
            "credentials": "LMFT",
            "role": "therapist",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="imani@riverbend.test")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == Role.THERAPIST
    assert mail.outbox == []
    call_command("worker", "--once")
    assert len(mail.outbox) == 1
    assert "/accounts/password-reset/" in mail.outbox[0].body
    assert mail.outbox[0].to == ["imani@riverbend.test"]


@pytest.mark.django_db
def test_an_invite_with_a_role_of_another_kind_is_refused(cast: Cast, admin: Client) -> None:
    response = admin.post(
        reverse("organizations:member_invite", args=[cast.riverbend.public_id]),
        {
            "full_name": "Imani Fairbanks",
            "email": "imani@riverbend.test",
            "role": "prescriber",
        },
    )
    assert response.status_code == 400
    assert not User.objects.filter(email="imani@riverbend.test").exists()


@pytest.mark.django_db
def test_bad_invite_input_writes_nothing(cast: Cast, admin: Client) -> None:
    users = User.objects.count()
    for data in [
        {"full_name": "<script>x</script>", "email": "a@b.test", "role": "therapist"},
        {"full_name": "A" * 400, "email": "a@b.test", "role": "therapist"},
        {"full_name": "Ok Name", "email": "not-an-email", "role": "therapist"},
        {"full_name": "Ok Name", "email": "a@b.test", "role": "superuser"},
    ]:
        response = admin.post(reverse("organizations:member_invite", args=[cast.riverbend.public_id]), data)
        assert response.status_code == 400, data
    assert User.objects.count() == users


@pytest.mark.django_db
def test_changing_a_role_is_audited(cast: Cast, admin: Client) -> None:
    membership = Membership.objects.get(user=cast.colleague)
    url = reverse("organizations:member_role", args=[cast.riverbend.public_id, membership.public_id])
    assert admin.post(url, {"role": "coordinator"}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.COORDINATOR
    event = AuditEvent.objects.filter(action=Action.ROLE_CHANGE).get()
    assert event.detail == {"from": "therapist", "to": "coordinator"}


@pytest.mark.django_db
def test_the_last_admin_cannot_step_down(cast: Cast, admin: Client) -> None:
    membership = Membership.objects.get(user=cast.admin)
    url = reverse("organizations:member_role", args=[cast.riverbend.public_id, membership.public_id])
    response = admin.post(url, {"role": "therapist"})
    assert response.status_code == 400
    assert "at least one active admin" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.PRACTICE_ADMIN


@pytest.mark.django_db
def test_a_deactivated_member_loses_access(cast: Cast, admin: Client) -> None:
    membership = Membership.objects.get(user=cast.colleague)
    colleague = sign_in(Client(), cast.colleague)
    chart = reverse("patients:chart", args=[cast.patient.public_id])
    assert colleague.get(chart).status_code == 200
    url = reverse("organizations:member_active", args=[cast.riverbend.public_id, membership.public_id])
    assert admin.post(url, {"active": "0"}).status_code == 302
    assert colleague.get(chart).status_code == 404


@pytest.mark.django_db
def test_an_admin_cannot_touch_another_organizations_members(cast: Cast) -> None:
    group_admin = sign_in(Client(), cast.group_admin, sudo=True)
    membership = Membership.objects.get(user=cast.therapist)
    for url in [
        reverse("organizations:member_role", args=[cast.riverbend.public_id, membership.public_id]),
        reverse("organizations:member_role", args=[cast.northstar.public_id, membership.public_id]),
    ]:
        assert group_admin.post(url, {"role": "coordinator"}).status_code == 404
    membership.refresh_from_db()
    assert membership.role == Role.THERAPIST


@pytest.mark.django_db
def test_resetting_a_members_authenticator_signs_them_out_everywhere(cast: Cast, admin: Client) -> None:
    from tandem.accounts.models import MfaDevice

    therapist = sign_in(Client(), cast.therapist)
    assert therapist.get(reverse("home:today")).status_code == 200
    membership = Membership.objects.get(user=cast.therapist)
    url = reverse("organizations:member_reset_mfa", args=[cast.riverbend.public_id, membership.public_id])
    assert admin.post(url).status_code == 302
    assert not MfaDevice.objects.filter(user=cast.therapist).exists()
    response = therapist.get(reverse("home:today"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:sign_in"))
    assert admin.get(reverse("home:today")).status_code == 200
