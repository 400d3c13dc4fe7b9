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

from channels.db import database_sync_to_async
from django.http import Http404

from tandem.accounts.sessions import session_group
from tandem.video import services, signalling
from tandem.video.sockets import CLOSE_REFUSED, VideoSocket, clinician_session, patient_link


class CheckConsumer(VideoSocket):
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
        if token is not None:
            patient_link(self.scope, token)
            return None
        return clinician_session(self.scope)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = await self.read(text_data, bytes_data)
        if message is None:
            return
        if message.type != "ping":
            # Valid in a room, but this socket relays nothing.
            await self.close(code=signalling.CLOSE_MALFORMED)
            return
        await self.send(text_data=json.dumps({"type": "pong"}, separators=(",", ":")))

    async def disconnect(self, code: int) -> None:
        if self.session_key:
            await self.channel_layer.group_discard(session_group(self.session_key), self.channel_name)
