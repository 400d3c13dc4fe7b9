"""The pre-call check's WebSocket: can this browser reach Tandem's signalling?

The check page opens it, sends a few ``{"type": "ping"}`` frames and times the
``{"type": "pong"}`` answers. It is the same server, path prefix and proxy
route as a visit's signalling socket, so a network that lets this through
lets the call's signalling through too.

It is not a join: no room is entered, no attendance or presence is kept and
nothing is audited, because nothing about a patient or a visit is touched or
shown. It is open to the people who may open the check page: a signed-in
clinician (``/ws/video/check/``) and the holder of a usable patient link
(``/ws/video/join/<token>/check/``, after the date-of-birth step when the
link asks for it). Anyone else is refused with 4403. Frames go through the
same validation and rate limit as the room's; only pings are answered, and
any other message closes the socket as malformed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.sessions.backends.db import SessionStore
from django.http import Http404

from tandem.access import policy
from tandem.accounts.services import session_state
from tandem.accounts.sessions import session_group
from tandem.video import services, signalling

CLOSE_REFUSED = 4403
CLOSE_SESSION_ENDED = 4401


class CheckConsumer(AsyncWebsocketConsumer):
    session_key: str | None = None

    async def connect(self) -> None:
        try:
            self.session_key = await self._admit()
        except (Http404, services.RoomRefused):
            await self.close(code=CLOSE_REFUSED)
            return
        self.limiter = signalling.RateLimiter()
        if self.session_key:
            # A clinician's check stops when their session ends, as their room does.
            await self.channel_layer.group_add(session_group(self.session_key), self.channel_name)
        await self.accept()

    @database_sync_to_async
    def _admit(self) -> str | None:
        """Raise when this socket is not for this person; the session key to
        watch for a clinician, None for a patient link."""
        token = self.scope["url_route"]["kwargs"].get("token")
        session = self.scope.get("session")
        if token is not None:
            link = policy.patient_link_for(token)
            services.check_patient_link(link)
            if link.needs_date_of_birth and (session is None or session.get("video_link_ok") != str(link.public_id)):
                raise services.RoomRefused("Confirm your date of birth first.")
            return None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or session is None or not session.session_key:
            raise Http404("Not found")
        store = SessionStore(session_key=session.session_key).load()
        if not store or str(store.get("_auth_user_id")) != str(user.pk) or session_state(store).expired:
            raise Http404("Not found")
        return str(session.session_key)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"")
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode(errors="replace"))
        if not self.limiter.allow(time.monotonic(), size):
            await self.close(code=signalling.CLOSE_FLOODING)
            return
        try:
            message = signalling.parse(raw)
        except signalling.SignalError as exc:
            await self.close(code=exc.code)
            return
        if message.type != "ping":
            # Valid in a room, but this socket relays nothing.
            await self.close(code=signalling.CLOSE_MALFORMED)
            return
        await self.send(text_data=json.dumps({"type": "pong"}, separators=(",", ":")))

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_SESSION_ENDED)

    async def disconnect(self, code: int) -> None:
        if self.session_key:
            await self.channel_layer.group_discard(session_group(self.session_key), self.channel_name)
