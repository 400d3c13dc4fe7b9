"""Someone invited who never chose a password can still ask for a reset link."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tandem.accounts.models import User
from tandem.audit.models import Action, AuditEvent
from tandem.test import Cast, sign_in


@pytest.mark.django_db
def test_an_invited_person_without_a_password_gets_a_link(cast: Cast) -> None:
    invited = User.objects.create_user("newcomer@riverbend.test", None, full_name="Ada Newcomer")
    assert not invited.has_usable_password()
    response = Client().post("/accounts/password-reset/", {"email": "Newcomer@Riverbend.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["newcomer@riverbend.test"]


@pytest.mark.django_db
def test_a_deactivated_person_gets_no_link(cast: Cast) -> None:
    User.objects.filter(pk=cast.colleague.pk).update(is_active=False)
    response = Client().post("/accounts/password-reset/", {"email": cast.colleague.email})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_failed_confirmation_is_audited(cast: Cast) -> None:
    client = sign_in(Client(), cast.admin)
    response = client.post("/accounts/confirm/", {"password": "wrong password", "code": "000000"})
    assert response.status_code == 400
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert event.action == Action.SIGN_IN_FAILED
    assert event.actor_id == cast.admin.pk
    assert event.detail == {"step": "sudo"}
