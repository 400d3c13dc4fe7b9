"""A session's live WebSockets close when the session ends.

These run the real ASGI application (tandem.asgi) with channels'
WebsocketCommunicator, against the configured channel layer: in-memory by
default, Redis when TANDEM_REDIS_URL is set. Sockets read the session from the
database on another thread, so the tests need committed data (transaction=True).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import pytest
import time_machine
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from tandem.asgi import application
from tandem.home import consumers
from tandem.test import Cast

from .support import SIGN_OUT, T0, TODAY, password_step, session_key

WS = "/ws/live/"
CLOSED = {"type": "websocket.close", "code": 4401}
WAIT = 5  # seconds; generous for Redis, only reached when something is wrong


def socket_for(client: Client | None, origin: str = "http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode())]
    key = session_key(client) if client is not None else None
    if key:
        headers.append((b"cookie", f"sessionid={key}".encode()))
    return WebsocketCommunicator(application, WS, headers=headers)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def assert_refused(client: Client | None, *, origin: str = "http://testserver", code: int | None = 4401) -> None:
    """The socket is not accepted (and, where given, closed with ``code``)."""

    async def scenario() -> None:
        socket = socket_for(client, origin=origin)
        try:
            connected, close_code = await socket.connect(timeout=WAIT)
            assert not connected
            if code is not None:
                assert close_code == code
        finally:
            await socket.disconnect()

    run(scenario)


async def _expect_signed_out(socket: WebsocketCommunicator, reason: str) -> None:
    assert await socket.receive_json_from(timeout=WAIT) == {"type": "signed_out", "reason": reason}
    assert await socket.receive_output(timeout=WAIT) == CLOSED


async def _ping(socket: WebsocketCommunicator) -> None:
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=WAIT) == {"type": "pong"}


@pytest.mark.django_db(transaction=True)
def test_signing_out_closes_the_sessions_socket(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(cast.therapist)

    async def scenario() -> None:
        socket = socket_for(client)
        connected, _ = await socket.connect(timeout=WAIT)
        assert connected
        try:
            await _ping(socket)
            response = await sync_to_async(client.post)(SIGN_OUT)
            assert response.status_code == 302
            await _expect_signed_out(socket, "user")
        finally:
            await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_signing_out_leaves_the_users_other_sessions_sockets_open(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    laptop = client_for(cast.therapist)
    tablet = client_for(cast.therapist)

    async def scenario() -> None:
        laptop_socket, tablet_socket = socket_for(laptop), socket_for(tablet)
        assert (await laptop_socket.connect(timeout=WAIT))[0]
        assert (await tablet_socket.connect(timeout=WAIT))[0]
        try:
            assert (await sync_to_async(laptop.post)(SIGN_OUT)).status_code == 302
            await _expect_signed_out(laptop_socket, "user")
            assert await tablet_socket.receive_nothing(timeout=0.5)
            await _ping(tablet_socket)
        finally:
            await laptop_socket.disconnect()
            await tablet_socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_socket_for_an_idle_expired_session_is_refused(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)
        traveller.shift(datetime.timedelta(minutes=15))

        assert_refused(client)


@pytest.mark.django_db(transaction=True)
def test_the_idle_logoff_closes_an_open_socket(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)

        async def scenario() -> None:
            socket = socket_for(client)
            assert (await socket.connect(timeout=WAIT))[0]
            try:
                traveller.shift(datetime.timedelta(minutes=15))
                # Any request (another tab, the status poll) finds the session idle and ends it.
                response = await sync_to_async(client.get)(TODAY)
                assert response["Location"] == "/accounts/signed-out/?reason=idle"
                await _expect_signed_out(socket, "idle")
            finally:
                await socket.disconnect()

        run(scenario)


@pytest.mark.django_db(transaction=True)
def test_an_open_socket_closes_itself_at_the_idle_limit_without_any_request(
    cast: Cast,
    client_for,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """The socket's own watch: it sleeps until the earliest possible expiry,
    looks again (activity elsewhere may have moved it), and closes once the
    session is over. Its sleep is replaced by one the test wakes after moving
    the clock, so no real time passes."""
    with time_machine.travel(T0, tick=False) as traveller:
        client = client_for(cast.therapist)

        async def scenario() -> None:
            naps: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

            async def sleep(seconds: float) -> None:
                wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                await naps.put((seconds, wake))
                await wake

            monkeypatch.setattr(consumers, "asyncio", SimpleNamespace(sleep=sleep, create_task=asyncio.create_task))
            socket = socket_for(client)
            assert (await socket.connect(timeout=WAIT))[0]
            try:
                seconds, wake = await asyncio.wait_for(naps.get(), WAIT)
                assert seconds == 15 * 60
                # Activity ten minutes in moves the deadline to 25 minutes.
                traveller.shift(datetime.timedelta(minutes=10))
                assert (await sync_to_async(client.get)(TODAY)).status_code == 200
                traveller.shift(datetime.timedelta(minutes=5))
                wake.set_result(None)

                seconds, wake = await asyncio.wait_for(naps.get(), WAIT)
                assert seconds == 10 * 60
                await _ping(socket)  # still open
                traveller.shift(datetime.timedelta(minutes=10))
                wake.set_result(None)
                await _expect_signed_out(socket, "expired")
            finally:
                await socket.disconnect()

        run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_signed_out_sessions_old_cookie_cannot_open_a_socket(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(cast.therapist)
    old_key = session_key(client)
    assert client.post(SIGN_OUT).status_code == 302
    stale = Client()
    stale.cookies["sessionid"] = old_key

    assert_refused(stale)


@pytest.mark.django_db(transaction=True)
def test_a_half_finished_sign_in_cannot_open_a_socket(cast: Cast) -> None:
    client = Client()
    assert password_step(client, cast.therapist.email).status_code == 302
    assert session_key(client)

    assert_refused(client)


@pytest.mark.django_db(transaction=True)
def test_no_session_no_socket(cast: Cast) -> None:
    assert_refused(None)


@pytest.mark.django_db(transaction=True)
def test_a_socket_from_a_foreign_origin_is_refused(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(cast.therapist)

    assert_refused(client, origin="https://evil.example", code=None)


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_closes_the_users_open_sockets(cast: Cast, client_for) -> None:  # type: ignore[no-untyped-def]
    """A reset signs out every session of the user (their stored password hash
    no longer matches), so their sockets must close too: a reset is what
    someone does when they fear another person is in their account."""
    from django.core import mail

    elsewhere = client_for(cast.therapist)
    assert Client().post("/accounts/password-reset/", {"email": cast.therapist.email}).status_code == 302
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/accounts/password-reset/" in line)
    resetter = Client()
    form = resetter.get(link.replace("http://testserver", ""), follow=True)
    set_password_url = form.redirect_chain[-1][0]

    async def scenario() -> None:
        socket = socket_for(elsewhere)
        assert (await socket.connect(timeout=WAIT))[0]
        try:
            saved = await sync_to_async(resetter.post)(
                set_password_url,
                {
                    "new_password1": "a fresh and lengthy passphrase 42",
                    "new_password2": "a fresh and lengthy passphrase 42",
                },
            )
            assert saved.status_code == 302
            assert (await sync_to_async(elsewhere.get)(TODAY)).status_code == 302
            assert await socket.receive_json_from(timeout=WAIT) == {"type": "signed_out", "reason": "password_reset"}
            assert await socket.receive_output(timeout=WAIT) == CLOSED
        finally:
            await socket.disconnect()

    run(scenario)
