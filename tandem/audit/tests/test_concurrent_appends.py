"""The chain stays one line when many requests append at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tandem.audit import services as audit
from tandem.audit.models import Action, AuditEvent


def _append_many(count: int, errors: list[BaseException]) -> None:
    try:
        for i in range(count):
            audit.record(actor=None, action=Action.VIEW, purpose="treatment", meta=audit.SYSTEM, target_id=str(i))
    except BaseException as exc:  # collected and asserted on in the test thread
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_parallel_appends_form_one_unbroken_chain() -> None:
    if connection.vendor == "sqlite":
        # SQLite has one writer at a time; Tandem makes every transaction take
        # the write lock up front, which is what keeps the chain's
        # read-then-append atomic across processes.
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        _append_many(20, errors := [])
        assert not errors
    else:
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_append_many, args=(15, errors)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert AuditEvent.objects.count() == 90
    result = audit.verify_chain()
    assert result.ok, result.describe()
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
