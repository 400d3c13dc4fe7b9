"""Writing to and checking the audit trail.

``record`` is the only way a row is added. It takes the chain lock, reads the
current head, and appends a row whose hash covers its own contents and the
hash of the row before it, all inside the caller's transaction, so an action
and its audit row commit or roll back together.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from tandem.audit.models import Action, AuditEvent

if TYPE_CHECKING:
    from tandem.accounts.models import User

GENESIS_HASH = "0" * 64
# An arbitrary constant naming the chain's PostgreSQL advisory lock.
_CHAIN_LOCK_KEY = 7_346_221_001


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind Tandem's one reverse proxy (TANDEM_BEHIND_PROXY)
    it is the hop the proxy appended last to X-Forwarded-For; earlier hops are
    whatever the client claimed."""
    remote = request.META.get("REMOTE_ADDR") or None
    if not settings.BEHIND_PROXY:
        return remote
    hops = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    if not hops:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-1]))
    except ValueError:
        return remote


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None
    user_agent: str

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> RequestMeta:
        if request is None:
            return cls(ip_address=None, user_agent="")
        return cls(
            ip_address=client_ip(request),
            user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:256],
        )


SYSTEM = RequestMeta(ip_address=None, user_agent="")


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    occurred: datetime = event.occurred_at
    fields = {
        "seq": event.seq,
        "occurred_at": occurred.astimezone(_dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "action": event.action,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "purpose": event.purpose,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical(fields)).hexdigest()


def _lock_chain() -> None:
    # SQLite needs nothing here: Tandem opens every SQLite transaction
    # IMMEDIATE, so this transaction already holds the only write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def record(
    *,
    actor: User | None,
    action: Action | str,
    purpose: str,
    meta: RequestMeta,
    patient_id: uuid.UUID | None = None,
    target_type: str = "",
    target_id: str | uuid.UUID = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. ``detail`` must never hold health information."""
    with transaction.atomic():
        _lock_chain()
        head = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        event = AuditEvent(
            seq=(head["seq"] + 1) if head else 1,
            occurred_at=timezone.now(),
            actor_id=actor.pk if actor is not None else None,
            actor_email=actor.email if actor is not None else "",
            action=str(action),
            patient_id=patient_id,
            target_type=target_type,
            target_id=str(target_id),
            purpose=purpose,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            detail=detail or {},
            prev_hash=head["hash"] if head else GENESIS_HASH,
        )
        # Hash what the database will hand back: plain JSON, not Python objects.
        event.detail = json.loads(json.dumps(event.detail, default=str))
        event.hash = compute_hash(event)
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"OK: {self.rows} audit events, chain intact"
        return f"BROKEN at row seq={self.broken_seq} (id={self.broken_id}): {self.reason}"


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)


def verify_chain() -> VerifyResult:
    """Walk the chain from the first row; report the first row that breaks it."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    rows = 0
    for event in _events():
        rows += 1
        if event.seq != expected_seq:
            return VerifyResult(
                ok=False,
                rows=rows,
                broken_seq=event.seq,
                broken_id=event.pk,
                reason=f"expected seq {expected_seq}: rows {expected_seq}..{event.seq - 1} are missing",
            )
        if event.prev_hash != expected_prev:
            return VerifyResult(
                ok=False,
                rows=rows,
                broken_seq=event.seq,
                broken_id=event.pk,
                reason="prev_hash does not match the hash of the row before it",
            )
        if compute_hash(event) != event.hash:
            return VerifyResult(
                ok=False,
                rows=rows,
                broken_seq=event.seq,
                broken_id=event.pk,
                reason="the row's contents do not match its stored hash (it was altered)",
            )
        expected_prev = event.hash
        expected_seq += 1
    return VerifyResult(ok=True, rows=rows)
