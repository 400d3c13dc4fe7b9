"""Every WebSocket route refuses anyone without a live, fully signed-in session."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import URLPattern

from tandem.asgi import application
from tandem.routing import websocket_urlpatterns
from tandem.test import Cast, sign_in

# The pre-call check's socket is no patient's: any fully signed-in person.
SOCKETS = {"ws/live/", "ws/video/check/"}
# A video room's socket admits only that appointment's participants and the
# holder of its patient link: tandem/video/tests/test_signalling_socket.py.
# The check through the patient's link: tandem/video/tests/test_precheck.py.
VIDEO_SOCKETS = {"ws/video/<str:appointment_id>/", "ws/video/join/<str:token>/", "ws/video/join/<str:token>/check/"}


def test_every_socket_route_is_listed_here() -> None:
    routes = {str(p.pattern) for p in websocket_urlpatterns if isinstance(p, URLPattern)}
    assert routes == SOCKETS | VIDEO_SOCKETS


async def _connect(path: str, cookie: str | None) -> tuple[bool, int | None]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, "/" + path, headers=headers)
    connected, code = await communicator.connect()
    await communicator.disconnect()
    return connected, code


def _cookie(client: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", sorted(SOCKETS))
def test_sockets_refuse_strangers_and_accept_the_signed_in(path: str, cast: Cast) -> None:
    assert async_to_sync(_connect)(path, None)[0] is False
    assert async_to_sync(_connect)(path, f"{settings.SESSION_COOKIE_NAME}=forged-session-key")[0] is False
    half_signed = Client()
    half_signed.force_login(cast.therapist)  # password step only: no second factor on record
    assert async_to_sync(_connect)(path, _cookie(half_signed))[0] is False
    for who in ["therapist", "outsider", "unrelated"]:
        client = sign_in(Client(), cast.everyone()[who])
        assert async_to_sync(_connect)(path, _cookie(client))[0] is True, who
