"""A WebSocket client for tests that talk to the ASGI server over real TCP,
without a browser: it records every frame the server sends and how the
connection ended, and waits on either with a bound.

Built on the ``websockets`` asyncio client. Everything here runs on one event
loop; nothing touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

WAIT = 10.0
T = TypeVar("T")


class LoopThread:
    """An event loop in a thread of its own, so the test's thread can block,
    touch the database, or run Hypothesis while sockets stay live on the loop.

    ``run`` hands a coroutine to the loop and waits for its result, with a bound.
    On exit every task still on the loop is cancelled and the loop closed."""

    def __enter__(self) -> LoopThread:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="socket-clients", daemon=True)
        self.thread.start()
        return self

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise AssertionError(f"still running after {timeout} s: {coroutine!r}") from None

    def __exit__(self, *exc_info: object) -> None:
        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_the_rest(), timeout=WAIT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(WAIT)
            if not self.thread.is_alive():
                self.loop.close()


class Refused(Exception):
    """The server answered the WebSocket handshake with something other than 101."""


class Peer:
    """One open socket. ``frames`` holds every data frame received, raw;
    ``messages`` the ones that decoded as JSON objects, in order."""

    def __init__(self, connection: ClientConnection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.frames: list[str | bytes] = []
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._changed = asyncio.Condition()
        self._done = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"read {name}")

    @classmethod
    async def open(cls, base: str, path: str, *, name: str, cookie: str | None = None) -> Peer:
        """Connect to ``path`` on the server at ``base`` (``http://host:port``),
        sending the same-origin ``Origin`` a browser would."""
        headers = {"Cookie": cookie} if cookie else None
        try:
            connection = await connect(
                base.replace("http://", "ws://", 1) + path,
                origin=Origin(base),
                additional_headers=headers,
                compression=None,
                max_size=None,
                ping_interval=None,
                open_timeout=WAIT,
                close_timeout=WAIT,
            )
        except Exception as exc:
            raise Refused(f"{name}: {path}: {exc!r}") from exc
        return cls(connection, name)

    async def _read(self) -> None:
        try:
            async for frame in self.connection:
                async with self._changed:
                    self.frames.append(frame)
                    try:
                        decoded = json.loads(frame)
                    except ValueError:
                        decoded = None
                    if isinstance(decoded, dict):
                        self.messages.append(decoded)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            async with self._changed:
                # 1006 when the TCP connection went without a close frame.
                self.close_code = self.connection.close_code or 1006
                self._done.set()
                self._changed.notify_all()

    @property
    def open_now(self) -> bool:
        return not self._done.is_set()

    async def send(self, frame: str | bytes | list[str], *, text: bool | None = None) -> bool:
        """Send one message (a list of strings is sent as the fragments of one
        text message); False if the connection had already closed."""
        try:
            await self.connection.send(frame, text=text)
        except ConnectionClosed:
            return False
        return True

    async def send_json(self, message: object) -> bool:
        return await self.send(json.dumps(message, separators=(",", ":")))

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = WAIT
    ) -> tuple[int, dict[str, Any]]:
        """The first message at index ``after`` or later that matches, and its index."""

        def found() -> int | None:
            for index in range(after, len(self.messages)):
                if predicate(self.messages[index]):
                    return index
            return None

        async def wait() -> tuple[int, dict[str, Any]]:
            async with self._changed:
                while (index := found()) is None:
                    if self._done.is_set():
                        raise AssertionError(
                            f"{self.name} closed ({self.close_code}) before the message came; last: {self._last()}"
                        )
                    await self._changed.wait()
                return index, self.messages[index]

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no such message within {timeout} s; last: {self._last()}") from None

    def _last(self, count: int = 3) -> str:
        """The last few messages, shortened, for an error."""
        return "; ".join(repr(m)[:200] for m in self.messages[-count:]) or "nothing"

    async def wait_until(self, condition: Callable[[Peer], bool], *, what: str, timeout: float = WAIT) -> None:
        """Wait until ``condition(self)`` holds, re-checked on every frame and at the close."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: condition(self))

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: not {what} within {timeout} s") from None

    async def wait_type(self, kind: str, *, after: int = 0, timeout: float = WAIT) -> tuple[int, dict[str, Any]]:
        return await self.wait_for(lambda m: m.get("type") == kind, after=after, timeout=timeout)

    async def round_trip(self, timeout: float = WAIT) -> None:
        """Ping and wait for the pong to it: everything sent before has been handled."""
        mark = len(self.messages)
        assert await self.send_json({"type": "ping"}), f"{self.name} closed ({self.close_code}) before the ping"
        await self.wait_type("pong", after=mark, timeout=timeout)

    async def closed(self, timeout: float = WAIT) -> int:
        """Wait for the server to end the connection; the close code."""
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} still open after {timeout} s") from None
        assert self.close_code is not None
        return self.close_code

    async def close(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.connection.close()
        await asyncio.wait_for(self._done.wait(), WAIT)
        await self._reader
