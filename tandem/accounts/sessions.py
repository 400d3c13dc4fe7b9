"""Ending sessions, and telling a session's open WebSockets to close."""

from __future__ import annotations

import hashlib

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import logout
from django.http import HttpRequest

from tandem.accounts.models import User
from tandem.audit import services as audit
from tandem.audit.models import Action


def session_group(session_key: str) -> str:
    """The channel-layer group every socket of one session joins."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def user_group(user_id: int) -> str:
    """The channel-layer group every socket of one user joins, whatever the session."""
    return f"user.{user_id}"


def close_session_sockets(session_key: str | None, reason: str) -> None:
    if not session_key:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.ended", "reason": reason})


def close_user_sockets(user_id: int, reason: str) -> None:
    """Close every open socket of every session of one user, for when all of
    their sessions end at once (a password reset)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(user_group(user_id), {"type": "session.ended", "reason": reason})


def end_session(request: HttpRequest, *, reason: str) -> None:
    """Sign out, record why, and close the session's sockets."""
    user = request.user if request.user.is_authenticated else None
    session_key = request.session.session_key
    if isinstance(user, User):
        audit.record(
            actor=user,
            action=Action.SIGN_OUT,
            purpose="security",
            meta=audit.RequestMeta.from_request(request),
            detail={"reason": reason},
        )
    logout(request)
    close_session_sockets(session_key, reason)
