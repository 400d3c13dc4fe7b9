"""What the video sockets share: who may open one, how a frame is read, and
how a socket closes.

Both the room's signalling socket and the pre-call check's socket take the
same people (a clinician with a live session, or the holder of a usable
patient link past its date-of-birth step), read frames under the same size
and rate limits, and stop handling anything once they close.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.sessions.backends.db import SessionStore
from django.http import Http404

from tandem.access import policy
from tandem.accounts.services import session_state
from tandem.video import services, signalling
from tandem.video.models import PatientLink

CLOSE_REFUSED = 4403
CLOSE_SESSION_ENDED = 4401


def patient_link(scope: dict[str, Any], token: str) -> PatientLink:
    """The usable link behind ``token``, past its date-of-birth step when it
    has one; raises ``Http404`` or ``services.RoomRefused`` otherwise."""
    link = policy.patient_link_for(token)
    services.check_patient_link(link)
    session = scope.get("session")
    if link.needs_date_of_birth and (session is None or session.get("video_link_ok") != str(link.public_id)):
        raise services.RoomRefused("Confirm your date of birth first.")
    return link


def clinician_session(scope: dict[str, Any]) -> str:
    """The session key of the signed-in user on this socket, whose session
    must still be live; raises ``Http404`` for anyone else."""
    user = scope.get("user")
    session = scope.get("session")
    if user is None or not user.is_authenticated or session is None or not session.session_key:
        raise Http404("Not found")
    store = SessionStore(session_key=session.session_key).load()
    if not store or str(store.get("_auth_user_id")) != str(user.pk) or session_state(store).expired:
        raise Http404("Not found")
    return str(session.session_key)


class VideoSocket(AsyncWebsocketConsumer):
    """A socket that, once closing (by us, or by the client going away),
    handles and sends nothing more: frames the client had already sent are
    dropped, and only the disconnect runs, so cleanup always happens."""

    closing = False
    limiter: signalling.RateLimiter

    async def dispatch(self, message: dict[str, Any]) -> None:
        if self.closing and message.get("type") != "websocket.disconnect":
            return
        await super().dispatch(message)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.closing:
            return
        self.closing = True
        # Should the client already be gone, its disconnect still follows.
        with contextlib.suppress(OSError, RuntimeError):
            await super().close(code=code, reason=reason)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if self.closing:
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except (OSError, RuntimeError):
            # The connection dropped under us and the server raised rather
            # than sending: stop here and let the disconnect clean up.
            self.closing = True

    async def read(self, text_data: str | None, bytes_data: bytes | None) -> signalling.Message | None:
        """The frame as a valid message, or None after closing the socket for
        flooding or for a malformed or oversized frame."""
        raw = text_data if text_data is not None else (bytes_data or b"")
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode(errors="replace"))
        if not self.limiter.allow(time.monotonic(), size):
            await self.close(code=signalling.CLOSE_FLOODING)
            return None
        try:
            return signalling.parse(raw)
        except signalling.SignalError as exc:
            await self.close(code=exc.code)
            return None

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_SESSION_ENDED)
