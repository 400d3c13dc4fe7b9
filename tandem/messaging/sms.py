"""Text messages: a secure link to a patient's phone.

Three backends share one small interface (``SmsBackend``):

* ``outbox``  keeps messages in memory, in ``outbox``, for tests and development;
* ``console`` writes them to standard output;
* ``twilio``  sends them through Twilio's Messages API, using only the standard library.

Code that wants to text someone calls ``send_sms``; it checks the number and the
length of the text, then hands the message to the backend chosen in settings.

Texts must hold no health information: a link to sign in, nothing more. For the
same reason an ``SmsError`` never repeats the text of the message it failed to send.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

MAX_BODY_LENGTH = 480
TWILIO_BASE_URL = "https://api.twilio.com"
TWILIO_TIMEOUT_SECONDS = 10


class SmsError(Exception):
    """A number could not be used, or a message could not be sent."""


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    sent_at: datetime.datetime
    provider_id: str


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> SmsMessage: ...


# Digits, spaces, dots, dashes and parentheses, with an optional leading "+".
_PHONE_CHARACTERS = re.compile(r"\+?[0-9 ().\-]+")


def normalize_us_number(text: str) -> str:
    """Return a US (NANP) number in E.164 form, "+15035550142".

    Accepts "(503) 555-0142", "503-555-0142", "503.555.0142", "+1 503 555 0142"
    and "15035550142". Raises SmsError for anything else.
    """
    candidate = text.strip()
    if not candidate:
        raise SmsError("Phone number is empty.")
    if any(character.isalpha() for character in candidate):
        raise SmsError("Phone number may contain only digits, spaces, dashes, dots and parentheses, not letters.")
    if not _PHONE_CHARACTERS.fullmatch(candidate):
        raise SmsError("Phone number may contain only digits, spaces, dashes, dots, parentheses and a leading '+'.")
    digits = re.sub(r"[^0-9]", "", candidate)
    if candidate.startswith("+"):
        if not digits.startswith("1"):
            raise SmsError("Only US phone numbers (country code +1) can receive texts.")
        if len(digits) != 11:
            raise SmsError(f"A US phone number has 10 digits after +1; this one has {len(digits) - 1}.")
        digits = digits[1:]
    elif len(digits) == 11:
        if not digits.startswith("1"):
            raise SmsError("An 11-digit US phone number must start with the country code 1.")
        digits = digits[1:]
    elif len(digits) != 10:
        raise SmsError(f"A US phone number has 10 digits (or 11 starting with 1); this one has {len(digits)}.")
    if digits[0] in "01":
        raise SmsError("A US area code cannot start with 0 or 1.")
    if digits[3] in "01":
        raise SmsError("A US phone number's exchange (the three digits after the area code) cannot start with 0 or 1.")
    return f"+1{digits}"


outbox: list[SmsMessage] = []
_outbox_lock = threading.Lock()


class OutboxBackend:
    """Keeps each message in the module-level ``outbox`` list, like Django's locmem mail backend."""

    def send(self, to: str, body: str) -> SmsMessage:
        with _outbox_lock:
            message = SmsMessage(to=to, body=body, sent_at=timezone.now(), provider_id=f"outbox-{len(outbox) + 1}")
            outbox.append(message)
        return message


class ConsoleBackend:
    """Writes each message to standard output. For development only: the text is printed in full."""

    def send(self, to: str, body: str) -> SmsMessage:
        sys.stdout.write(f"SMS to {to}: {body}\n")
        sys.stdout.flush()
        return SmsMessage(to=to, body=body, sent_at=timezone.now(), provider_id="console")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would replay the credentials to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class TwilioBackend:
    """Sends through Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, base_url: str = TWILIO_BASE_URL) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in {"http", "https"}:
            raise ImproperlyConfigured(
                f"The Twilio base URL must start with https:// (or http:// for a test server), not {scheme!r}."
            )
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.base_url = base_url.rstrip("/")
        self._opener = urllib.request.build_opener(_NoRedirects())

    def __repr__(self) -> str:
        # Never show the auth token.
        return (
            f"TwilioBackend(account_sid={self.account_sid!r}, from_number={self.from_number!r}, "
            f"base_url={self.base_url!r})"
        )

    @property
    def url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid, safe='')}/Messages.json"

    def send(self, to: str, body: str) -> SmsMessage:
        data = urllib.parse.urlencode({"To": to, "From": self.from_number, "Body": body}).encode()
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode("ascii")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with self._opener.open(request, timeout=TWILIO_TIMEOUT_SECONDS) as response:
                status = response.status
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = _provider_detail(_read_error(exc), body)
            raise SmsError(f"Twilio refused the message: HTTP {exc.code}{detail}.") from None
        except urllib.error.URLError as exc:
            raise SmsError(f"Could not reach Twilio: {_reason(exc.reason)}.") from None
        except (OSError, HTTPException) as exc:
            raise SmsError(f"Could not reach Twilio: {_reason(exc)}.") from None
        if not 200 <= status < 300:
            raise SmsError(f"Twilio did not accept the message: HTTP {status}{_provider_detail(payload, body)}.")
        try:
            document = json.loads(payload)
        except ValueError:
            raise SmsError(f"Twilio answered HTTP {status} with a response that is not JSON.") from None
        sid = document.get("sid") if isinstance(document, dict) else None
        if not isinstance(sid, str) or not sid:
            raise SmsError(f"Twilio answered HTTP {status} without a message sid.")
        return SmsMessage(to=to, body=body, sent_at=timezone.now(), provider_id=sid)


def _read_error(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read()
    except (AttributeError, OSError, HTTPException, ValueError):
        return b""
    finally:
        with contextlib.suppress(AttributeError, OSError):
            exc.close()


def _reason(reason: object) -> str:
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
    return str(reason)


def _provider_detail(payload: bytes, body: str) -> str:
    """The provider's error code and message, if its answer holds them, without the text of the SMS."""
    try:
        document = json.loads(payload)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    parts = []
    code = document.get("code")
    if isinstance(code, int | str) and not isinstance(code, bool) and str(code):
        parts.append(f"error {code}")
    message = document.get("message")
    if isinstance(message, str) and message:
        if body.strip() and body in message:
            message = message.replace(body, "[message text withheld]")
        parts.append(message)
    return f" ({': '.join(parts)})" if parts else ""


def _setting(name: str, default: str) -> str:
    value = getattr(settings, name, default)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"{name} must be a string.")
    return value.strip()


def get_backend() -> SmsBackend:
    """The backend named by settings.SMS_BACKEND: "outbox" (the default), "console" or "twilio"."""
    name = _setting("SMS_BACKEND", "outbox").lower()
    if name == "outbox":
        return OutboxBackend()
    if name == "console":
        return ConsoleBackend()
    if name == "twilio":
        values = {
            "SMS_TWILIO_ACCOUNT_SID": _setting("SMS_TWILIO_ACCOUNT_SID", ""),
            "SMS_TWILIO_AUTH_TOKEN": _setting("SMS_TWILIO_AUTH_TOKEN", ""),
            "SMS_FROM_NUMBER": _setting("SMS_FROM_NUMBER", ""),
            "SMS_TWILIO_BASE_URL": _setting("SMS_TWILIO_BASE_URL", TWILIO_BASE_URL),
        }
        missing = [setting for setting, value in values.items() if not value]
        if missing:
            raise ImproperlyConfigured(f"SMS_BACKEND is 'twilio' but these settings are empty: {', '.join(missing)}.")
        return TwilioBackend(
            account_sid=values["SMS_TWILIO_ACCOUNT_SID"],
            auth_token=values["SMS_TWILIO_AUTH_TOKEN"],
            from_number=values["SMS_FROM_NUMBER"],
            base_url=values["SMS_TWILIO_BASE_URL"],
        )
    raise ImproperlyConfigured(f"SMS_BACKEND must be 'outbox', 'console' or 'twilio', not {name!r}.")


def send_sms(to: str, body: str) -> SmsMessage:
    """Text ``body`` to the US number ``to`` through the configured backend.

    Raises SmsError if the number is not a valid US number, the text is empty or
    longer than 480 characters, or the backend could not send it.
    """
    number = normalize_us_number(to)
    if not body.strip():
        raise SmsError("The message text is empty.")
    if len(body) > MAX_BODY_LENGTH:
        raise SmsError(f"The message text is {len(body)} characters; at most {MAX_BODY_LENGTH} may be sent.")
    return get_backend().send(number, body)
