"""The live socket each signed-in page opens, bound to the HTTP session.

It closes when the session ends for any reason: sign-out, the idle limit or
the absolute limit. Later capabilities push their live events through it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.sessions.backends.db import SessionStore

from tandem.accounts.services import session_state
from tandem.accounts.sessions import session_group, user_group

CLOSE_SESSION_ENDED = 4401


class SessionBoundConsumer(AsyncJsonWebsocketConsumer):
    session_key: str | None = None
    _watch: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        if user is None or not user.is_authenticated or session is None or not session.session_key:
            await self.close(code=CLOSE_SESSION_ENDED)
            return
        self.session_key = session.session_key
        seconds_left = await self._seconds_left()
        if seconds_left <= 0:
            await self.close(code=CLOSE_SESSION_ENDED)
            return
        await self.channel_layer.group_add(session_group(self.session_key), self.channel_name)
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.accept()
        self._watch = asyncio.create_task(self._watch_session(seconds_left))

    @database_sync_to_async
    def _seconds_left(self) -> int:
        if not self.session_key:
            return 0
        store = SessionStore(session_key=self.session_key)
        data = store.load()
        if not data or str(data.get("_auth_user_id")) != str(self.scope["user"].pk):
            return 0
        state = session_state(data)
        return 0 if state.expired else state.seconds_left

    async def _watch_session(self, seconds_left: int) -> None:
        # Sleep until the earliest moment the session could expire, then look
        # again: activity in other tabs may have pushed the deadline back.
        while True:
            await asyncio.sleep(max(1, seconds_left))
            seconds_left = await self._seconds_left()
            if seconds_left <= 0:
                await self.send_json({"type": "signed_out", "reason": "expired"})
                await self.close(code=CLOSE_SESSION_ENDED)
                return

    async def disconnect(self, code: int) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.session_key:
            await self.channel_layer.group_discard(session_group(self.session_key), self.channel_name)
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            await self.channel_layer.group_discard(user_group(user.pk), self.channel_name)

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "signed_out", "reason": event.get("reason", "")})
        await self.close(code=CLOSE_SESSION_ENDED)


class LiveConsumer(SessionBoundConsumer):
    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "event", "event": event.get("event", {})})
