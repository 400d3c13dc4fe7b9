from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from tandem.audit import services as audit
from tandem.audit import triggers
from tandem.audit.models import Action, AuditEvent


def _add(n: int) -> list[AuditEvent]:
    return [
        audit.record(
            actor=None, action=Action.VIEW, purpose="treatment", meta=audit.SYSTEM, target_type="t", target_id=str(i)
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_it_chains_each_row_to_the_one_before() -> None:
    events = _add(3)
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert [e.seq for e in events] == [1, 2, 3]
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_verify_command_prints_ok(capsys: pytest.CaptureFixture[str]) -> None:
    _add(2)
    call_command("audit_verify")
    assert "OK: 2 audit events" in capsys.readouterr().out


@pytest.mark.django_db
def test_the_database_refuses_update_and_delete() -> None:
    event = _add(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="delete")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {triggers.TABLE} SET purpose = 'x'")
    event.refresh_from_db()
    assert event.action == Action.VIEW


@pytest.mark.django_db
def test_tampering_is_found_and_named() -> None:
    events = _add(4)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {triggers.TABLE} SET purpose = 'marketing' WHERE id = %s", [events[2].pk])
    triggers.install(connection)
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 3
    assert result.broken_id == events[2].pk
    assert "altered" in result.reason
    with pytest.raises(CommandError, match=f"seq=3 \\(id={events[2].pk}\\)"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_a_deleted_row_is_found_and_named() -> None:
    events = _add(4)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {triggers.TABLE} WHERE id = %s", [events[1].pk])
    triggers.install(connection)
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 3
    assert "missing" in result.reason
    with pytest.raises(CommandError, match="seq=3"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_a_rehashed_forgery_still_breaks_the_link_to_the_next_row() -> None:
    events = _add(3)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.purpose = "payment"
    forged.hash = audit.compute_hash(forged)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {triggers.TABLE} SET purpose = %s, hash = %s WHERE id = %s",
            [forged.purpose, forged.hash, forged.pk],
        )
    triggers.install(connection)
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_seq == 3
    assert "prev_hash" in result.reason
