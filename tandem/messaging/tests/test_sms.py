"""The SMS adapter: numbers, the local backends, and the Twilio backend against a
real HTTP server on 127.0.0.1. Nothing here reaches beyond the loopback address."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ImproperlyConfigured

from tandem.messaging import sms
from tandem.messaging.sms import (
    ConsoleBackend,
    OutboxBackend,
    SmsError,
    SmsMessage,
    TwilioBackend,
    get_backend,
    normalize_us_number,
    send_sms,
)

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "test-auth-token"
FROM = "+15035550100"
BODY = "Your Tandem link: https://tandem.example/s/abc123"


@pytest.fixture(autouse=True)
def empty_outbox() -> Iterator[None]:
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy in the environment must not carry a loopback request elsewhere."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


# --- numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "(503) 555-0142",
        "503-555-0142",
        "503.555.0142",
        "5035550142",
        "+1 503 555 0142",
        "+1 (503) 555-0142",
        "+15035550142",
        "15035550142",
        "1-503-555-0142",
        "  503 555 0142  ",
    ],
)
def test_us_numbers_normalize_to_e164(text: str) -> None:
    assert normalize_us_number(text) == "+15035550142"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("503-555-014", "10 digits"),
        ("503-555-01422", "must start with the country code 1"),
        ("1503555014", "area code"),
        ("503555014", "10 digits"),
        ("1-503-555-01422", "10 digits"),
        ("+1 503 555 014", "10 digits"),
        ("+44 20 7946 0958", "country code +1"),
        ("+503 555 0142", "country code +1"),
        ("503-555-CALL", "letters"),
        ("1-800-FLOWERS", "letters"),
        ("(003) 555-0142", "area code"),
        ("(103) 555-0142", "area code"),
        ("+1 103 555 0142", "area code"),
        ("503-055-0142", "exchange"),
        ("503/555/0142", "only digits"),
        ("503-555-0142 ext 7", "letters"),
        ("503+555+0142", "only digits"),
        ("٥٠٣٥٥٥٠١٤٢", "only digits"),
    ],
)
def test_other_numbers_are_refused_with_a_reason(text: str, complaint: str) -> None:
    with pytest.raises(SmsError, match=re.escape(complaint)):
        normalize_us_number(text)


# --- send_sms and the local backends ---------------------------------------


def test_default_backend_is_the_outbox(settings) -> None:  # type: ignore[no-untyped-def]
    del settings.SMS_BACKEND  # in case the lead has set one by now
    assert isinstance(get_backend(), OutboxBackend)


def test_outbox_captures_messages_in_order(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "outbox"
    first = send_sms("(503) 555-0142", BODY)
    second = send_sms("971-555-0199", "Second")

    assert sms.outbox == [first, second]
    assert first.to == "+15035550142"
    assert first.body == BODY
    assert first.provider_id == "outbox-1"
    assert second.to == "+19715550199"
    assert second.provider_id == "outbox-2"
    assert first.sent_at.tzinfo is not None
    assert isinstance(first, SmsMessage)


def test_console_prints_the_message(settings, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "console"
    message = send_sms("503-555-0142", BODY)

    assert capsys.readouterr().out == f"SMS to +15035550142: {BODY}\n"
    assert message.to == "+15035550142"
    assert message.body == BODY
    assert sms.outbox == []
    assert isinstance(ConsoleBackend().send("+15035550142", "x"), SmsMessage)


def test_a_body_of_480_characters_is_sent(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "outbox"
    send_sms("503-555-0142", "x" * 480)
    assert len(sms.outbox) == 1


def test_a_body_over_480_characters_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "outbox"
    with pytest.raises(SmsError, match="481 characters"):
        send_sms("503-555-0142", "x" * 481)
    assert sms.outbox == []


def test_an_empty_body_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "outbox"
    with pytest.raises(SmsError, match="empty"):
        send_sms("503-555-0142", "  ")
    assert sms.outbox == []


def test_a_bad_number_is_refused_before_sending(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "outbox"
    with pytest.raises(SmsError):
        send_sms("555-0142", BODY)
    assert sms.outbox == []


def test_an_unknown_backend_is_misconfigured(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        get_backend()


# --- configuration of the Twilio backend ------------------------------------


def configure_twilio(settings, base_url: str = "https://api.twilio.com") -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "twilio"
    settings.SMS_TWILIO_ACCOUNT_SID = SID
    settings.SMS_TWILIO_AUTH_TOKEN = TOKEN
    settings.SMS_FROM_NUMBER = FROM
    settings.SMS_TWILIO_BASE_URL = base_url


@pytest.mark.parametrize("missing", ["SMS_TWILIO_ACCOUNT_SID", "SMS_TWILIO_AUTH_TOKEN", "SMS_FROM_NUMBER"])
def test_twilio_without_a_setting_is_misconfigured(settings, missing: str) -> None:  # type: ignore[no-untyped-def]
    configure_twilio(settings)
    delattr(settings, missing)
    with pytest.raises(ImproperlyConfigured, match=missing):
        get_backend()


def test_twilio_with_an_empty_setting_is_misconfigured(settings) -> None:  # type: ignore[no-untyped-def]
    configure_twilio(settings)
    settings.SMS_TWILIO_AUTH_TOKEN = ""
    with pytest.raises(ImproperlyConfigured, match="SMS_TWILIO_AUTH_TOKEN"):
        get_backend()


def test_twilio_send_sms_is_misconfigured_too(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "twilio"
    for name in ("SMS_TWILIO_ACCOUNT_SID", "SMS_TWILIO_AUTH_TOKEN", "SMS_FROM_NUMBER"):
        if hasattr(settings, name):
            delattr(settings, name)
    with pytest.raises(ImproperlyConfigured):
        send_sms("503-555-0142", BODY)


def test_twilio_configured_builds_the_backend(settings) -> None:  # type: ignore[no-untyped-def]
    configure_twilio(settings)
    del settings.SMS_TWILIO_BASE_URL
    backend = get_backend()
    assert isinstance(backend, TwilioBackend)
    assert backend.url == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert TOKEN not in repr(backend)


def test_twilio_base_url_must_be_http(settings) -> None:  # type: ignore[no-untyped-def]
    configure_twilio(settings, base_url="file:///etc")
    with pytest.raises(ImproperlyConfigured, match="https://"):
        get_backend()


# --- the Twilio backend against a real server on loopback -------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeTwilio:
    url: str
    status: int = 201
    response: dict[str, object] = field(default_factory=lambda: {"sid": "SM0123456789abcdef", "status": "queued"})
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    state = FakeTwilio(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.requests.append(
                Recorded(
                    method=self.command,
                    path=self.path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
            )
            payload = json.dumps(state.response).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in state.extra_headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _answer
        do_GET = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    state.url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_twilio_posts_the_message_and_returns_the_sid(settings, fake_twilio: FakeTwilio) -> None:  # type: ignore[no-untyped-def]
    configure_twilio(settings, base_url=fake_twilio.url)

    message = send_sms("(503) 555-0142", BODY)

    assert message.provider_id == "SM0123456789abcdef"
    assert message.to == "+15035550142"
    assert message.body == BODY
    assert message.sent_at.tzinfo is not None
    assert sms.outbox == []

    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode(), strict_parsing=True) == {
        "To": ["+15035550142"],
        "From": [FROM],
        "Body": [BODY],
    }


def test_twilio_form_encodes_awkward_text(fake_twilio: FakeTwilio) -> None:
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=fake_twilio.url + "/")
    body = "Café & co: a=1+2 ? 100% ✓"
    backend.send("+15035550142", body)
    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert parse_qs(request.body.decode())["Body"] == [body]


def test_twilio_error_reports_status_and_provider_message_without_the_text(fake_twilio: FakeTwilio) -> None:
    fake_twilio.status = 400
    fake_twilio.response = {"code": 21211, "message": "The 'To' number is not valid."}
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=fake_twilio.url)

    with pytest.raises(SmsError) as raised:
        backend.send("+15035550142", BODY)

    text = str(raised.value)
    assert "400" in text
    assert "21211" in text
    assert "The 'To' number is not valid." in text
    assert BODY not in text
    assert "abc123" not in text
    assert TOKEN not in text
    assert len(fake_twilio.requests) == 1


def test_twilio_error_withholds_the_text_if_the_provider_echoes_it(fake_twilio: FakeTwilio) -> None:
    fake_twilio.status = 400
    fake_twilio.response = {"code": 30003, "message": f"Could not deliver '{BODY}'."}
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=fake_twilio.url)

    with pytest.raises(SmsError) as raised:
        backend.send("+15035550142", BODY)

    assert BODY not in str(raised.value)
    assert "30003" in str(raised.value)


def test_twilio_server_error_without_json_reports_the_status(fake_twilio: FakeTwilio) -> None:
    fake_twilio.status = 503
    fake_twilio.response = {}
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=fake_twilio.url)

    with pytest.raises(SmsError, match="HTTP 503") as raised:
        backend.send("+15035550142", BODY)
    assert BODY not in str(raised.value)


def test_twilio_success_without_a_sid_is_an_error(fake_twilio: FakeTwilio) -> None:
    fake_twilio.response = {"status": "queued"}
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=fake_twilio.url)
    with pytest.raises(SmsError, match="sid"):
        backend.send("+15035550142", BODY)


def test_twilio_redirects_are_not_followed(fake_twilio: FakeTwilio) -> None:
    """Following a redirect would send the credentials to wherever it points."""
    fake_twilio.status = 307
    fake_twilio.extra_headers = {"Location": fake_twilio.url + "/elsewhere"}
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=fake_twilio.url)

    with pytest.raises(SmsError, match="HTTP 307"):
        backend.send("+15035550142", BODY)
    assert len(fake_twilio.requests) == 1


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_twilio_connection_refused_is_an_sms_error() -> None:
    backend = TwilioBackend(SID, TOKEN, FROM, base_url=f"http://127.0.0.1:{closed_port()}")

    with pytest.raises(SmsError, match="Could not reach Twilio") as raised:
        backend.send("+15035550142", BODY)
    assert BODY not in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_twilio_connection_refused_through_send_sms(settings) -> None:  # type: ignore[no-untyped-def]
    configure_twilio(settings, base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(SmsError, match="Could not reach Twilio"):
        send_sms("503-555-0142", BODY)
