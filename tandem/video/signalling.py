"""Validation of the WebRTC signalling messages a browser sends over the video WebSocket.

The tracker's rule is that signalling is validated: known types only, a size
limit and a rate limit, and a malformed or flooding client is disconnected.
This module is that rule as pure code, with no Django and no I/O, so the
consumer only has to do::

    try:
        if not limiter.allow(now, len(raw_bytes)):
            raise SignalError(CLOSE_FLOODING, "too many messages")
        message = parse(raw)
    except SignalError as error:
        await self.close(code=error.code, reason=error.reason)

Every message is a flat JSON object with a ``type`` from a closed set, and
each type has a declarative schema (field name to validator). Unknown
fields, wrong types, out-of-range numbers and oversized strings are refused
rather than dropped, because a client that sends them is either broken or
probing, and either way should not keep a connection into a clinical call.

Reasons never echo what the client sent: a close reason is at most 123 bytes
on the wire, and reflecting attacker-chosen text into logs gains nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# A Chrome offer for audio + camera + screen share (three m-lines, BUNDLE, the
# usual codec list with rtcp-fb and extmap lines, no simulcast) is 5-8 KB; with
# simulcast and a long codec list it reaches about 10 KB, and JSON escaping of
# the CRLF line ends adds a couple of hundred bytes more. 16 KiB leaves over
# half again of headroom for that worst case while capping what one frame can
# cost us to parse, keep, and fan out to up to three other peers in the mesh.
MAX_MESSAGE_BYTES: Final = 16 * 1024

# WebSocket close codes the consumer uses (4000-4999 are for applications;
# the last three digits mirror the HTTP status with the same meaning).
CLOSE_MALFORMED: Final = 4400
CLOSE_TOO_LARGE: Final = 4413
CLOSE_FLOODING: Final = 4429

# Field bounds. The SDP bound leaves room inside MAX_MESSAGE_BYTES for the
# envelope ("type", "to", "restart"); the byte check still has the last word.
MAX_SDP_CHARS: Final = MAX_MESSAGE_BYTES - 1024
# An ICE candidate line is 80-200 characters (an mDNS host name or an IPv6
# address with raddr/rport and the network-cost extension at the long end).
MAX_CANDIDATE_CHARS: Final = 512
# A media id is "0", "1", ... from Chrome and Firefox, or "audio"/"video" from
# older stacks; 32 is generous.
MAX_MID_CHARS: Final = 32
# sdpMLineIndex counts m-lines: audio, camera and screen share make three, so
# sixteen is far beyond anything a 2-4 person call negotiates.
MAX_MLINE_INDEX: Final = 15
MAX_RTT_MS: Final = 60_000
MAX_DIMENSION: Final = 8192
MAX_FPS: Final = 240

# Signalling messages are flat objects, so anything deeper than a little
# nesting is refused before json.loads can recurse into it.
MAX_JSON_DEPTH: Final = 3

# Participant ids are short opaque tokens handed out by the server.
_PARTICIPANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Control characters, DEL, and lone surrogates (which json.loads produces
# from "\ud800" escapes and which cannot be encoded back to UTF-8).
_SDP_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
# The tokens that matter for nesting depth: an escape pair (so an escaped
# quote does not end a string), a quote, and the four brackets.
_DEPTH_TOKEN = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


class SignalError(Exception):
    """A message the consumer must answer by closing with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code} {self.reason}"


def _malformed(reason: str) -> SignalError:
    return SignalError(CLOSE_MALFORMED, reason)


@dataclass(frozen=True)
class Message:
    """A validated message: its type and its fields (everything but ``type``).

    Optional fields the client left out are absent from ``fields``.
    """

    type: str
    fields: Mapping[str, object]


# -- Validators --------------------------------------------------------------
#
# A validator takes the field name (for the error reason; always a schema
# name, never client text) and the decoded value, and returns the value to
# keep or raises SignalError.

Validator = Callable[[str, object], object]


@dataclass(frozen=True)
class Field:
    check: Validator
    required: bool = True


def _participant_id(name: str, value: object) -> object:
    if not isinstance(value, str) or _PARTICIPANT_ID.fullmatch(value) is None:
        raise _malformed(f"{name}: not a participant id")
    return value


def _boolean(name: str, value: object) -> object:
    if not isinstance(value, bool):
        raise _malformed(f"{name}: must be true or false")
    return value


def _sdp(name: str, value: object) -> object:
    if not isinstance(value, str):
        raise _malformed(f"{name}: must be a string")
    if not value or len(value) > MAX_SDP_CHARS:
        raise _malformed(f"{name}: empty or too long")
    # RFC 8866: every session description starts with the version line.
    if not value.startswith("v=") or _SDP_FORBIDDEN.search(value):
        raise _malformed(f"{name}: not a session description")
    return value


def _candidate(name: str, value: object) -> object:
    if not isinstance(value, str):
        raise _malformed(f"{name}: must be a string")
    if len(value) > MAX_CANDIDATE_CHARS:
        raise _malformed(f"{name}: too long")
    # The empty string is the end-of-candidates marker.
    if value and (not value.startswith("candidate:") or _PRINTABLE_ASCII.fullmatch(value) is None):
        raise _malformed(f"{name}: not an ICE candidate")
    return value


def _mid(name: str, value: object) -> object:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_MID_CHARS
        or _PRINTABLE_ASCII.fullmatch(value) is None
    ):
        raise _malformed(f"{name}: not a media id")
    return value


def _integer(low: int, high: int, *, nullable: bool = False) -> Validator:
    def check(name: str, value: object) -> object:
        if value is None and nullable:
            return None
        # bool is an int subclass; true is not 1 here.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _malformed(f"{name}: must be an integer")
        if not low <= value <= high:
            raise _malformed(f"{name}: out of range")
        return value

    return check


def _number(low: float, high: float) -> Validator:
    def check(name: str, value: object) -> object:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _malformed(f"{name}: must be a number")
        # json.loads turns 1e400 into inf even with NaN/Infinity refused.
        if not math.isfinite(value) or not low <= value <= high:
            raise _malformed(f"{name}: out of range")
        return value

    return check


# -- Schemas -----------------------------------------------------------------

_TO = Field(_participant_id)
_PARTICIPANT = Field(_participant_id)
_SESSION_DESCRIPTION: Mapping[str, Field] = {
    "to": _TO,
    "sdp": Field(_sdp),
    "restart": Field(_boolean, required=False),  # an ICE restart renegotiation
}

SCHEMAS: Final[Mapping[str, Mapping[str, Field]]] = MappingProxyType(
    {
        "offer": _SESSION_DESCRIPTION,
        "answer": _SESSION_DESCRIPTION,
        "candidate": {
            "to": _TO,
            "candidate": Field(_candidate),
            "sdpMid": Field(_mid),
            "sdpMLineIndex": Field(_integer(0, MAX_MLINE_INDEX, nullable=True)),
        },
        # Mute, camera off and screen share state, broadcast to the room.
        "media": {"audio": Field(_boolean), "video": Field(_boolean), "screen": Field(_boolean)},
        # A connection-quality sample about the link to one peer.
        "quality": {
            "to": _TO,
            "rtt_ms": Field(_number(0, MAX_RTT_MS), required=False),
            "loss": Field(_number(0, 1), required=False),
            "width": Field(_integer(0, MAX_DIMENSION), required=False),
            "height": Field(_integer(0, MAX_DIMENSION), required=False),
            "fps": Field(_number(0, MAX_FPS), required=False),
        },
        # Clinician actions on the waiting room.
        "admit": {"participant": _PARTICIPANT},
        "remove": {"participant": _PARTICIPANT},
        # The therapist marks that the patient is in the room with them.
        "room_mode": {"with_patient": Field(_boolean)},
        # One-click mute of a second device in the same physical room.
        "mute_device": {"participant": _PARTICIPANT},
        "ping": {},
    }
)

MESSAGE_TYPES: Final = frozenset(SCHEMAS)


# -- Parsing -----------------------------------------------------------------


def _refuse_constant(token: str) -> object:
    raise _malformed("NaN and Infinity are not allowed")


def _unique_object(pairs: list[tuple[object, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        # JSON keys are always strings; this guards against a decoder change.
        if not isinstance(key, str):
            raise _malformed("object keys must be strings")
        if key in result:
            raise _malformed("duplicate key")
        result[key] = value
    return result


def _check_depth(text: str) -> None:
    """Refuse nesting beyond MAX_JSON_DEPTH in one linear pass, without recursing.

    Brackets inside strings (an SDP may hold any) do not count. On malformed
    input the count may be off, but such input is refused by json.loads anyway.
    """
    depth = 0
    in_string = False
    for match in _DEPTH_TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise _malformed("JSON nested too deeply")
        else:
            depth -= 1


def _decode(raw: str | bytes) -> str:
    if isinstance(raw, str):
        # Every character is at least one byte, so a long str is refused
        # before we pay for encoding it.
        if len(raw) > MAX_MESSAGE_BYTES:
            raise SignalError(CLOSE_TOO_LARGE, "message too large")
        try:
            size = len(raw.encode("utf-8"))
        except UnicodeEncodeError:
            raise _malformed("not valid UTF-8") from None
        if size > MAX_MESSAGE_BYTES:
            raise SignalError(CLOSE_TOO_LARGE, "message too large")
        return raw
    if len(raw) > MAX_MESSAGE_BYTES:
        raise SignalError(CLOSE_TOO_LARGE, "message too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("not valid UTF-8") from None


def parse(raw: str | bytes) -> Message:
    """Validate one signalling frame, or raise SignalError with the close code."""
    text = _decode(raw)
    _check_depth(text)
    try:
        data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_object)
    except SignalError:
        raise
    except (ValueError, RecursionError):
        # JSONDecodeError, and integers longer than Python's digit limit.
        raise _malformed("not valid JSON") from None
    if not isinstance(data, dict):
        raise _malformed("message must be a JSON object")

    kind = data.pop("type", None)
    if not isinstance(kind, str) or kind not in SCHEMAS:
        raise _malformed("unknown message type")
    schema = SCHEMAS[kind]
    if not data.keys() <= schema.keys():
        raise _malformed(f"{kind}: unexpected field")

    fields: dict[str, object] = {}
    for name, field in schema.items():
        if name in data:
            fields[name] = field.check(name, data[name])
        elif field.required:
            raise _malformed(f"{kind}: missing field {name}")
    return Message(type=kind, fields=MappingProxyType(fields))


# -- Rate limiting -----------------------------------------------------------


class TokenBucket:
    """A bucket holding up to ``capacity`` tokens, refilled continuously.

    Pure: the caller passes the time (seconds on a monotonic clock). A clock
    that steps backwards refills nothing. The bucket starts full.
    """

    def __init__(self, capacity: float, refill_per_second: float) -> None:
        if capacity <= 0 or refill_per_second < 0:
            raise ValueError("capacity must be positive and refill not negative")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.tokens = capacity
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.refill_per_second)
        if self._last is None or now > self._last:
            self._last = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self.tokens

    def take(self, now: float, amount: float = 1) -> bool:
        """Take ``amount`` tokens if they are all there; otherwise take none."""
        self._refill(now)
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


# A call start in a four-person mesh is the burst to allow: three offers or
# answers, a few dozen ICE candidates per peer connection arriving within a
# second or two, media state and a ping. 60 messages of burst covers that with
# room to spare; 20 a second sustained is far above a settled call (a quality
# sample every few seconds per peer, a ping every ~20 s) and still stops a
# client that loops.
DEFAULT_MESSAGE_BURST: Final = 60
DEFAULT_MESSAGES_PER_SECOND: Final = 20
# The same call start in bytes: three ~10 KB descriptions plus ~100 candidate
# messages of ~300 bytes is about 60 KB. 128 KiB of burst and 32 KiB/s refill
# let an ICE restart to everyone go through at once while a client sending
# maximal frames at the message rate (320 KiB/s) runs dry within a second.
DEFAULT_BYTE_BURST: Final = 128 * 1024
DEFAULT_BYTES_PER_SECOND: Final = 32 * 1024


class RateLimiter:
    """Per-connection limits on messages and bytes, as two token buckets.

    ``allow`` spends one message token and ``size`` byte tokens, or nothing
    if either bucket is short; a False answer means close with CLOSE_FLOODING.
    """

    def __init__(
        self,
        capacity: float = DEFAULT_MESSAGE_BURST,
        refill_per_second: float = DEFAULT_MESSAGES_PER_SECOND,
        byte_capacity: float = DEFAULT_BYTE_BURST,
        bytes_per_second: float = DEFAULT_BYTES_PER_SECOND,
    ) -> None:
        if byte_capacity < MAX_MESSAGE_BYTES:
            raise ValueError("byte capacity must hold at least one maximal message")
        self.messages = TokenBucket(capacity, refill_per_second)
        self.bytes = TokenBucket(byte_capacity, bytes_per_second)

    def allow(self, now: float, size: int = 0) -> bool:
        if size < 0:
            raise ValueError("size must not be negative")
        if self.messages.available(now) < 1 or self.bytes.available(now) < size:
            return False
        self.messages.take(now)
        self.bytes.take(now, size)
        return True
