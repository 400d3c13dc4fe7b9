"""Health of the parts a running Tandem depends on."""

from __future__ import annotations

import asyncio
import datetime
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tandem.operations.models import WorkerHeartbeat


def database_status() -> dict[str, object]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


async def _layer_round_trip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


def channel_layer_status() -> dict[str, object]:
    backend = str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1]
    try:
        async_to_sync(_layer_round_trip)()
    except Exception as exc:
        return {"ok": False, "backend": backend, "error": type(exc).__name__}
    return {"ok": True, "backend": backend}


def worker_status(now: datetime.datetime | None = None) -> dict[str, object]:
    now = now or timezone.now()
    latest = WorkerHeartbeat.objects.order_by("-beat_at").first()
    if latest is None:
        return {"ok": False, "error": "no worker has reported"}
    age = (now - latest.beat_at).total_seconds()
    return {"ok": age <= settings.WORKER_HEARTBEAT_STALE_SECONDS, "last_beat_seconds_ago": int(age)}
