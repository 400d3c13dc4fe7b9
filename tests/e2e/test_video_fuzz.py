"""Fuzzing the video signalling socket over real TCP, against the ASGI server:
malformed and oversized messages, and floods, from sockets in a room of
their own and from a participant inside a well-behaved room. The server
stays up, and the well-behaved rooms are unaffected.

Two well-behaved rooms (a clinician and the patient's link, admitted) keep
trading offers, answers, ICE candidates and media state for the whole test;
every one of those must reach the other side intact, in order, with ``from``
set, and nothing else may reach them but the server's own messages (welcome,
admitted, roster, left, pong). Every offending socket must be closed with the
code for what it did: 4400 malformed, 4413 too large, 4429 flooding (see
``tandem.video.signalling``). Afterwards the server still accepts new
participants, and no offender is left behind in any room's roster.

No browser is needed: the clients are ``websockets`` sockets on an event loop
in a thread of their own (``socket_client.LoopThread``), so the test's thread
can run Hypothesis, which generates a share of the malformed frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from socket_client import LoopThread, Peer

from tandem.accounts.models import User
from tandem.audit.services import SYSTEM
from tandem.organizations.models import Organization
from tandem.patients.models import Patient
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import build_cast, sign_in
from tandem.video import signalling
from tandem.video.services import issue_patient_link
from tandem.video.signalling import CLOSE_FLOODING, CLOSE_MALFORMED, CLOSE_TOO_LARGE, MAX_MESSAGE_BYTES

# Frames an offender sends carry this, so a leak is easy to name. Nothing the
# well-behaved participants send contains it.
MARKER = "FUZZ"
# The well-behaved senders' pace: two messages a second each, all the time,
# several times busier than a settled call (one side's share of a call start,
# an offer and a dozen candidates, goes by every six seconds).
PACE = 0.5
HYPOTHESIS_EXAMPLES = 40
# Offenders reuse this many device keys per room, in turn.
FUZZ_DEVICES = 4
SETTLE_SECONDS = 5
PHASE_SECONDS = 120
# RFC 6455: the server closes a text frame that is not UTF-8 itself, before the app sees it.
CLOSE_INVALID_UTF8 = 1007
# The message uvicorn logs (at ERROR) when it does that; the one server error allowed.
UVICORN_INVALID_UTF8 = "Invalid UTF-8 sequence received from client."
SERVER_MESSAGES = {"welcome", "admitted", "roster", "pong", "left"}
RELAYED = {"offer", "answer", "candidate", "media"}


# --- The rooms ---------------------------------------------------------------------------------


@dataclass
class Visit:
    """A video appointment with its clinician's session and the patient's
    link, and once open, the two admitted participants of its room."""

    name: str
    appointment: Appointment
    cookie: str
    token: str
    base: str = ""
    clinician: Peer | None = None
    patient: Peer | None = None
    clinician_id: str = ""
    patient_id: str = ""
    devices: Iterator[int] = field(default_factory=itertools.count)
    reused: Iterator[int] = field(default_factory=lambda: itertools.cycle(range(FUZZ_DEVICES)))

    def device(self) -> str:
        """A new device key (16-64 of [A-Za-z0-9_-], as a browser keeps one)."""
        return f"{self.name}-device-{next(self.devices):08d}"

    def fuzzer_device(self) -> str:
        """One of a few device keys, taken in turn: each is a browser reloading
        the page, so the room does not fill with one-off participants."""
        return f"{self.name}-fuzzer-{next(self.reused):08d}"

    async def open(self, base: str, names: dict[str, str]) -> None:
        self.base = base
        self.clinician = await Peer.open(
            base,
            f"/ws/video/{self.appointment.public_id}/?device={self.device()}",
            name=f"{self.name} clinician",
            cookie=self.cookie,
        )
        _, welcome = await self.clinician.wait_type("welcome")
        assert (welcome["role"], welcome["state"]) == ("clinician", "admitted")
        self.patient = await Peer.open(
            base, f"/ws/video/join/{self.token}/?device={self.device()}", name=f"{self.name} patient"
        )
        _, hello = await self.patient.wait_type("welcome")
        assert (hello["role"], hello["state"]) == ("patient", "waiting")
        self.clinician_id, self.patient_id = str(welcome["you"]), str(hello["you"])
        names[self.clinician_id], names[self.patient_id] = self.clinician.name, self.patient.name
        assert await self.clinician.send_json({"type": "admit", "participant": self.patient_id})
        await self.patient.wait_type("admitted")

    async def extra(self, label: str, names: dict[str, str], *, fresh: bool = False) -> tuple[Peer, str]:
        """Another device of the room's clinician (a new one if ``fresh``):
        admitted at once, so anything it sent that passed validation would be relayed."""
        device = self.device() if fresh else self.fuzzer_device()
        members = [p for p in (self.clinician, self.patient) if p is not None]
        marks = [len(member.messages) for member in members]
        peer = await Peer.open(
            self.base,
            f"/ws/video/{self.appointment.public_id}/?device={device}",
            name=f"{self.name}: {label}",
            cookie=self.cookie,
        )
        _, welcome = await peer.wait_type("welcome")
        you = str(welcome["you"])
        names[you] = peer.name if fresh else f"{self.name}: offender device {device[-1]} (last: {label})"
        # The room's members hear of the newcomer: their sockets have caught up
        # with everything the room sent them before (the channel is first in,
        # first out), so the offenders' coming and going never piles up.
        for member, mark in zip(members, marks, strict=True):
            await member.wait_for(
                lambda m: m.get("type") == "roster" and you in {str(p["id"]) for p in m["participants"]}, after=mark
            )
        return peer, you


def _visit(name: str, organization: Organization, clinician: User, patient: Patient) -> Visit:
    kind = next(t for t in ensure_types(organization) if t.with_patient)
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    appointment = Appointment.objects.create(
        organization=organization,
        appointment_type=kind,
        patient=patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=clinician,
    )
    Participant.objects.create(appointment=appointment, user=clinician, starts_at=start, ends_at=appointment.ends_at)
    _link, token = issue_patient_link(actor=clinician, appointment=appointment, meta=SYSTEM)
    # Signed in as by password and code: the session the app's socket checks accept.
    session = sign_in(Client(), clinician).cookies["sessionid"].value
    return Visit(name=name, appointment=appointment, cookie=f"sessionid={session}", token=token)


def _difference(got: list[dict[str, Any]], sent: list[dict[str, Any]]) -> str:
    """How a received sequence differs from the sent one, by message number:
    each received message is matched to the next equal one sent (some repeat,
    such as the end of candidates), so skipped ones are missing."""
    matched: list[int] = []
    unknown = 0
    cursor = 0
    for message in got:
        n = next((i for i in range(cursor, len(sent)) if sent[i] == message), None)
        if n is None:
            unknown += 1
            continue
        matched.append(n)
        cursor = n + 1
    parts = [f"{unknown} altered, repeated or out of order"] if unknown else []
    missing = sorted(set(range(len(sent))) - set(matched))
    if missing:
        runs: list[list[int]] = []
        for n in missing:
            if runs and runs[-1][-1] == n - 1:
                runs[-1].append(n)
            else:
                runs.append([n])
        shown = ", ".join(f"#{r[0]}" if len(r) == 1 else f"#{r[0]}-#{r[-1]}" for r in runs[:8])
        parts.append(f"missing {len(missing)} ({shown}{', ...' if len(runs) > 8 else ''})")
    return "; ".join(parts) or "a difference"


def _latest_roster(peer: Peer) -> set[str] | None:
    for message in reversed(peer.messages):
        if message.get("type") == "roster":
            return {str(p["id"]) for p in message["participants"]}
    return None


# --- Well-behaved signalling -------------------------------------------------------------------


def session_description(kind: str, version: int) -> str:
    """An SDP body like Chrome's for audio and camera, BUNDLEd, about 2 KB."""
    ice = [
        f"a=ice-ufrag:T{version % 97:03d}",
        f"a=ice-pwd:tandemIcePassword{version:08d}xyz",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 " + ":".join(f"{(i * 37 + version) % 256:02X}" for i in range(32)),
        f"a=setup:{'actpass' if kind == 'offer' else 'active'}",
    ]
    lines = [
        "v=0",
        f"o=- 4611731400430051336 {version} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS tandem",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        *ice,
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=sendrecv",
        "a=msid:tandem audio-0",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        f"a=ssrc:{1_000_000 + version} cname:tandemCname",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        *ice,
        "a=mid:1",
        "a=extmap:3 urn:3gpp:video-orientation",
        "a=sendrecv",
        "a=msid:tandem video-0",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 transport-cc",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:98 H264/90000",
        "a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "a=rtpmap:99 rtx/90000",
        "a=fmtp:99 apt=98",
        f"a=ssrc-group:FID {2_000_000 + version} {3_000_000 + version}",
        f"a=ssrc:{2_000_000 + version} cname:tandemCname",
        f"a=ssrc:{3_000_000 + version} cname:tandemCname",
    ]
    return "\r\n".join(lines) + "\r\n"


def ice_candidate(n: int) -> tuple[str, str | None, int | None]:
    """A candidate line as Chrome trickles them, with its sdpMid and m-line index."""
    port = 50_000 + n % 10_000
    ufrag = f"T{n % 97:03d}"
    lines = [
        f"candidate:{n} 1 udp 2122260223 6f1c9a7e-3b2d-4c1e-9a8b-{n:012d}.local {port} typ host generation 0 "
        f"ufrag {ufrag} network-id 1",
        f"candidate:{n + 1} 1 udp 2122194687 127.0.0.1 {port} typ host generation 0 ufrag {ufrag} network-id 2",
        f"candidate:{n + 2} 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 ufrag {ufrag} "
        "network-id 1",
        f"candidate:{n + 3} 1 udp 1686052607 203.0.113.7 {port} typ srflx raddr 127.0.0.1 rport {port} "
        f"generation 0 ufrag {ufrag} network-id 1 network-cost 10",
        f"candidate:{n + 4} 1 udp 41885439 2001:db8::1 {port} typ relay raddr 2001:db8::2 rport {port} "
        f"generation 0 ufrag {ufrag} network-cost 999",
    ]
    line = lines[n % len(lines)]
    mid, index = [("0", 0), ("1", 1), (None, 1), ("1", None)][n % 4]
    return line, mid, index


def script(role: str, to: str, n: int) -> dict[str, Any]:
    """The n-th message of a participant's side of a call: a description,
    trickled candidates, the end of candidates, and media state."""
    step, round_ = n % 12, n // 12
    if step == 0:
        kind = "offer" if role == "clinician" else "answer"
        message: dict[str, Any] = {"type": kind, "to": to, "sdp": session_description(kind, n)}
        if round_ % 3 == 2:
            message["restart"] = kind == "offer"  # an ICE restart now and then
        return message
    if step == 10:
        return {"type": "candidate", "to": to, "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}
    if step == 11:
        return {"type": "media", "audio": round_ % 2 == 0, "video": True, "screen": round_ % 5 == 4}
    line, mid, index = ice_candidate(n)
    return {"type": "candidate", "to": to, "candidate": line, "sdpMid": mid, "sdpMLineIndex": index}


@dataclass
class Chatter:
    """One side of a well-behaved call, sending until told to stop."""

    role: str
    sender: Peer
    sender_id: str
    receiver: Peer
    receiver_id: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: str = ""

    async def run(self, stop: asyncio.Event) -> None:
        for n in itertools.count():
            message = script(self.role, self.receiver_id, n)
            if not await self.sender.send_json(message):
                self.refused = f"{self.sender.name} was closed ({self.sender.close_code}) after {n} messages"
                return
            self.sent.append(message)
            if stop.is_set():
                return  # the message just sent is the last
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PACE)


# --- What offenders send -----------------------------------------------------------------------


@dataclass(frozen=True)
class Offence:
    label: str
    frame: str | bytes | list[str]
    expected: int
    text: bool | None = None  # True: send bytes as a text frame, unchecked


def _dumps(message: object, ensure_ascii: bool = True) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=ensure_ascii)


def _sized(total: int) -> str:
    """A ping with an unexpected field, padded to exactly ``total`` bytes."""
    head, tail = '{"type":"ping","pad":"' + MARKER, '"}'
    return head + "y" * (total - len(head) - len(tail)) + tail


def catalogue(to: str) -> list[Offence]:
    """Hand-picked offences, each with the close code the server must use.
    ``to`` is a participant the frames would reach if they got through."""
    sdp = "v=0\r\ns=" + MARKER + "\r\n"
    candidate = f"candidate:1 1 udp 2122260223 127.0.0.1 9 typ host {MARKER}"
    offer = {"type": "offer", "to": to, "sdp": sdp}
    ice = {"type": "candidate", "to": to, "candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}
    media = {"type": "media", "audio": True, "video": True, "screen": False}
    bad = CLOSE_MALFORMED
    cases = [
        # Not JSON, or not a JSON object.
        Offence("invalid JSON", "{" + MARKER, bad),
        Offence("truncated JSON", _dumps(offer)[:-3], bad),
        Offence("empty text frame", "", bad),
        Offence("binary frame, not UTF-8", bytes(range(256)), bad),
        Offence("binary frame, not JSON", MARKER.encode() + b"\x00\x01", bad),
        Offence("binary frame, unknown type", _dumps({"type": MARKER}).encode(), bad),
        Offence("empty binary frame", b"", bad),
        Offence("JSON null", "null", bad),
        Offence("JSON array", _dumps([offer]), bad),
        Offence("JSON number", "42", bad),
        Offence("JSON string", '"offer"', bad),
        Offence("JSON true", "true", bad),
        Offence("UTF-8 byte order mark", "\ufeff" + _dumps({"type": "ping"}), bad),
        Offence("two objects in one frame", _dumps(offer) + _dumps(offer), bad),
        # Types and fields.
        Offence("unknown type", _dumps({"type": "hangup", "to": to}), bad),
        Offence("type in capitals", _dumps({**offer, "type": "OFFER"}), bad),
        Offence("type as a list", _dumps({**offer, "type": ["offer"]}), bad),
        Offence("no type", _dumps({"to": to, "sdp": sdp}), bad),
        Offence("duplicate key", '{"type":"ping","type":"offer"}', bad),
        Offence("forged from", _dumps({**offer, "from": to}), bad),
        Offence("extra field", _dumps({**ice, "usernameFragment": MARKER}), bad),
        Offence("to as a number", _dumps({**offer, "to": 123}), bad),
        Offence("sdp as a list", _dumps({**offer, "sdp": [sdp]}), bad),
        Offence("sdpMLineIndex as a string", _dumps({**ice, "sdpMLineIndex": "0"}), bad),
        Offence("sdpMLineIndex true", _dumps({**ice, "sdpMLineIndex": True}), bad),
        Offence("media audio as a string", _dumps({**media, "audio": "true"}), bad),
        Offence("media audio as 1", _dumps({**media, "audio": 1}), bad),
        Offence("restart as a string", _dumps({**offer, "restart": "yes"}), bad),
        Offence("participant null", _dumps({"type": "admit", "participant": None}), bad),
        Offence("offer without sdp", _dumps({"type": "offer", "to": to}), bad),
        Offence("candidate without candidate", _dumps({k: v for k, v in ice.items() if k != "candidate"}), bad),
        Offence("media without screen", _dumps({"type": "media", "audio": True, "video": True}), bad),
        Offence("remove without participant", _dumps({"type": "remove"}), bad),
        Offence("sdpMLineIndex 16", _dumps({**ice, "sdpMLineIndex": 16}), bad),
        Offence("sdpMLineIndex -1", _dumps({**ice, "sdpMLineIndex": -1}), bad),
        Offence(
            "sdpMLineIndex of 5000 digits",
            _dumps(ice).replace('"sdpMLineIndex":0', '"sdpMLineIndex":' + "9" * 5000),
            bad,
        ),
        Offence("loss above 1", _dumps({"type": "quality", "to": to, "loss": 1.5}), bad),
        Offence("rtt 1e400", '{"type":"quality","to":"' + to + '","rtt_ms":1e400}', bad),
        Offence("rtt NaN", '{"type":"quality","to":"' + to + '","rtt_ms":NaN}', bad),
        Offence("fps -Infinity", '{"type":"quality","to":"' + to + '","fps":-Infinity}', bad),
        # Huge fields in a frame under the size limit.
        Offence(
            "sdp one over its limit", _dumps({**offer, "sdp": "v=0\r\n" + "a" * (signalling.MAX_SDP_CHARS - 4)}), bad
        ),
        Offence("candidate of 600 characters", _dumps({**ice, "candidate": candidate + "x" * 600}), bad),
        Offence("to of 65 characters", _dumps({**offer, "to": "a" * 65}), bad),
        Offence("sdpMid of 33 characters", _dumps({**ice, "sdpMid": "m" * 33}), bad),
        Offence("exactly the size limit", _sized(MAX_MESSAGE_BYTES), bad),
        # Over the size limit.
        Offence("one byte over the size limit", _sized(MAX_MESSAGE_BYTES + 1), CLOSE_TOO_LARGE),
        Offence("offer with a 20 KB sdp", _dumps({**offer, "sdp": sdp + "a=x\r\n" * 4000}), CLOSE_TOO_LARGE),
        Offence(
            "few characters, too many bytes",
            _dumps({**offer, "sdp": sdp + "\u20ac" * 5500}, ensure_ascii=False),
            CLOSE_TOO_LARGE,
        ),
        Offence("100 KB binary frame", b"\x00" * 100_000, CLOSE_TOO_LARGE),
        Offence("60 KB in three fragments", [_sized(20_000)[:-2], "y" * 20_000, "y" * 20_000 + '"}'], CLOSE_TOO_LARGE),
        # Bigger than a full byte bucket: the rate limiter, checked first, refuses it.
        Offence("200 KB frame", _sized(200_000), CLOSE_FLOODING),
        Offence("2 MB frame", "x" * 2_000_000, CLOSE_FLOODING),
        # Nesting.
        Offence("nested four deep", _dumps({"type": "ping", "x": [[[MARKER]]]}), bad),
        Offence("nested 5000 deep", '{"type":"ping","x":' + "[" * 5000 + "]" * 5000 + "}", bad),
        Offence("objects nested 2000 deep", '{"a":' * 2000 + "1" + "}" * 2000, bad),
        Offence("nested 50000 deep", "[" * 50_000 + "]" * 50_000, CLOSE_TOO_LARGE),
        # Unicode junk.
        Offence("NUL in sdp", _dumps({**offer, "sdp": sdp + "\x00"}), bad),
        Offence("escape in sdp", _dumps({**offer, "sdp": sdp + "\x1b[2J"}), bad),
        Offence("lone surrogate in sdp", _dumps({**offer, "sdp": sdp}).replace("\\r\\n", "\\ud800", 1), bad),
        Offence("emoji in candidate", _dumps({**ice, "candidate": candidate + " \U0001f3a5"}, ensure_ascii=False), bad),
        Offence("right-to-left override in to", _dumps({**offer, "to": "\u202e" + to}, ensure_ascii=False), bad),
        Offence("zero-width space in type", _dumps({**offer, "type": "of\u200bfer"}, ensure_ascii=False), bad),
        Offence("fullwidth type", _dumps({**offer, "type": "\uff4f\uff46\uff46\uff45\uff52"}, ensure_ascii=False), bad),
        Offence(
            "text frame not UTF-8", b'{"type":"ping","x":"\xc3\x28' + MARKER.encode() + b'"}', CLOSE_INVALID_UTF8, True
        ),
        # Script and SQL where the schema says what a value looks like.
        Offence("script as to", _dumps({**offer, "to": "<script>alert('" + MARKER + "')</script>"}), bad),
        Offence("SQL as participant", _dumps({"type": "remove", "participant": "1' OR '1'='1"}), bad),
        Offence("SQL as to", _dumps({**offer, "to": "'; DROP TABLE video_attendance; --"}), bad),
        Offence("script as type", _dumps({**offer, "type": "offer<script>"}), bad),
        Offence("script as sdp", _dumps({**offer, "sdp": "<script>alert('" + MARKER + "')</script>"}), bad),
        Offence("SQL as candidate", _dumps({**ice, "candidate": "'; DROP TABLE " + MARKER + "; --"}), bad),
        Offence("script as sdpMid", _dumps({**ice, "sdpMid": "<script>alert(document.cookie)</script>"}), bad),
        Offence(
            "SQL as rtt", _dumps({"type": "quality", "to": to, "rtt_ms": "1; DROP TABLE video_qualitysample"}), bad
        ),
    ]
    names = [c.label for c in cases]
    assert len(names) == len(set(names))
    return cases


def expected_close(frame: str | bytes) -> int | None:
    """The close code for a frame sent first on a fresh socket: the rate
    limiter's byte bucket (full, 128 KiB) is checked first, then the message."""
    size = len(frame if isinstance(frame, bytes) else frame.encode())
    if size > signalling.DEFAULT_BYTE_BURST:
        return CLOSE_FLOODING
    try:
        signalling.parse(frame)
    except signalling.SignalError as error:
        return error.code
    return None


# --- Hypothesis: malformed frames ------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def templates(to: str) -> list[dict[str, Any]]:
    """A valid message of every type, addressed to ``to`` where it has an address."""
    line, mid, index = ice_candidate(7)
    return [
        {"type": "offer", "to": to, "sdp": session_description("offer", 1)[:600]},
        {"type": "answer", "to": to, "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "restart": False},
        {"type": "candidate", "to": to, "candidate": line, "sdpMid": mid, "sdpMLineIndex": index},
        {"type": "media", "audio": True, "video": False, "screen": False},
        {"type": "quality", "to": to, "rtt_ms": 35.5, "loss": 0.0, "width": 640, "height": 480, "fps": 30},
        {"type": "admit", "participant": to},
        {"type": "remove", "participant": to},
        {"type": "room_mode", "with_patient": False},
        {"type": "mute_device", "participant": to},
        {"type": "ping"},
    ]


@st.composite
def mutated(draw: st.DrawFn, to: str) -> str | bytes:
    """A valid message with one thing wrong with it, serialised, sometimes as a binary frame."""
    message = dict(draw(st.sampled_from(templates(to))))
    keys = sorted(message)
    how = draw(st.sampled_from(["replace", "delete", "add", "garble", "pad", "nest", "cut", "splice"]))
    key = draw(st.sampled_from(keys))
    if how == "replace":
        message[key] = draw(json_values)
    elif how == "delete":
        del message[key]
    elif how == "add":
        message[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in message))] = draw(json_values)
    elif how == "garble":
        value = str(message[key])
        at = draw(st.integers(0, len(value)))
        message[key] = value[:at] + draw(st.text(min_size=1, max_size=8)) + value[at:]
    elif how == "pad":
        message[key] = str(message[key]) + "A" * draw(st.integers(15_000, 40_000))
    elif how == "nest":
        for _ in range(draw(st.integers(1, 6))):
            message[key] = [message[key]]
    text = _dumps(message, ensure_ascii=draw(st.booleans()))
    if how == "cut":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif how == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(min_size=1, max_size=4)) + text[at:]
    return text.encode() if draw(st.booleans()) else text


def frames(to: str) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        mutated(to),
        json_values.map(_dumps),
        st.text(max_size=100),
        st.binary(max_size=100),
    )


# --- The test ----------------------------------------------------------------------------------


def test_fuzzed_signalling_leaves_the_server_up_and_other_rooms_unaffected(
    asgi_live_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    cast = build_cast()
    first = _visit("A", cast.northstar, cast.prescriber, cast.patient)
    second = _visit("B", cast.riverbend, cast.therapist, cast.other_patient)
    fuzz_room = _visit("C", cast.riverbend, cast.colleague, cast.patient)
    visits = [first, second, fuzz_room]
    calm = [first, second]
    # Participant ids to names, for the report; and what the fuzzing found.
    names: dict[str, str] = {}
    problems: list[str] = []
    stop = asyncio.Event()
    chatters: list[Chatter] = []
    traffic: list[asyncio.Task[None]] = []
    payloads: list[tuple[Peer, dict[str, Any]]] = []  # unusual but valid messages, and who must get them

    async def offend(visit: Visit, offence: Offence, follow_up: object = None) -> None:
        """A participant in ``visit`` sends the offence (and, straight after,
        ``follow_up``, from a new device), and must be closed with the expected code."""
        peer, _ = await visit.extra(offence.label, names, fresh=follow_up is not None)
        await peer.send(offence.frame, text=offence.text)
        if follow_up is not None:
            await peer.send_json(follow_up)
        code = await peer.closed()
        if code != offence.expected:
            problems.append(f"{peer.name}: closed with {code}, expected {offence.expected}")
        await peer.close()

    async def open_rooms() -> None:
        for visit in visits:
            await visit.open(asgi_live_server, names)
        for visit in calm:
            assert visit.clinician is not None and visit.patient is not None
            chatters.append(Chatter("clinician", visit.clinician, visit.clinician_id, visit.patient, visit.patient_id))
            chatters.append(Chatter("patient", visit.patient, visit.patient_id, visit.clinician, visit.clinician_id))
        traffic.extend(asyncio.create_task(c.run(stop), name=f"chatter {c.sender.name}") for c in chatters)

    async def hand_picked() -> None:
        """The catalogue, from inside the fuzz room and from inside room A at once."""

        async def run_in(visit: Visit, offences: list[Offence]) -> None:
            for offence in offences:
                await offend(visit, offence)

        # All of them in the fuzz room, in two lanes; every other one inside
        # room A (the server's work per connection bounds how many fit in the
        # time; Hypothesis adds more in A and B).
        everything = catalogue(fuzz_room.patient_id)
        await asyncio.gather(
            run_in(fuzz_room, everything[::2]),
            run_in(fuzz_room, everything[1::2]),
            run_in(first, catalogue(first.patient_id)[::2]),
        )

    async def one_generated(visit: Visit, frame: str | bytes) -> int:
        peer, _ = await visit.extra("generated", names)
        await peer.send(frame)
        code = await peer.closed()
        await peer.close()
        return code

    async def across_rooms() -> None:
        """Well-formed messages addressed to people in other rooms, or to
        nobody: from the fuzz room's clinician and patient, and from a
        stranger device inside room A. None may arrive anywhere."""
        assert fuzz_room.clinician is not None and fuzz_room.patient is not None
        stranger, _ = await first.extra("stranger", names, fresh=True)
        elsewhere = {
            fuzz_room.clinician: [first.patient_id, first.clinician_id, second.patient_id, second.clinician_id],
            fuzz_room.patient: [first.clinician_id, second.clinician_id],
            stranger: [second.patient_id, second.clinician_id, fuzz_room.patient_id, fuzz_room.clinician_id],
        }
        bogus = ["00000000-0000-4000-8000-000000000000", "nobody", "0" * 64, first.appointment.public_id.hex]
        for sender, targets in elsewhere.items():
            for n, to in enumerate(targets + bogus):
                line, mid, index = ice_candidate(900 + n)
                for message in (
                    {"type": "offer", "to": to, "sdp": "v=0\r\ns=" + MARKER + " across rooms\r\n"},
                    {"type": "answer", "to": to, "sdp": "v=0\r\ns=" + MARKER + " across rooms\r\n", "restart": True},
                    {
                        "type": "candidate",
                        "to": to,
                        "candidate": line + " " + MARKER,
                        "sdpMid": mid,
                        "sdpMLineIndex": index,
                    },
                    {"type": "quality", "to": to, "rtt_ms": 12.0},
                ):
                    assert await sender.send_json(message), f"{sender.name} closed ({sender.close_code})"
            await sender.round_trip()
        # Clinician actions on people in other rooms: no admission, removal or mute may happen.
        for sender, targets in (
            (fuzz_room.clinician, [first.patient_id, second.patient_id]),
            (stranger, [second.patient_id, fuzz_room.patient_id]),
        ):
            for to in [*targets, "00000000-0000-4000-8000-000000000000"]:
                for kind in ("admit", "remove", "mute_device"):
                    assert await sender.send_json({"type": kind, "participant": to})
        await fuzz_room.clinician.round_trip()
        await stranger.round_trip()
        for peer in elsewhere:
            if not peer.open_now:
                problems.append(f"{peer.name} was closed ({peer.close_code}) for well-formed messages")
        await stranger.close()

    async def odd_but_valid() -> None:
        """Script, SQL and Unicode where the schema allows any text (an SDP, a
        candidate line, a media id) are carried verbatim, and change nothing
        on the server. The fuzz room's patient must get exactly these."""
        assert fuzz_room.clinician is not None and fuzz_room.patient is not None
        to = fuzz_room.patient_id
        for message in (
            {
                "type": "offer",
                "to": to,
                "sdp": "v=0\r\ns=<script>alert(document.cookie)</script>\r\n"
                "i='; DROP TABLE video_attendance; -- \u00e9\u2713\U0001f3a5\r\n",
            },
            {"type": "candidate", "to": to, "candidate": "candidate:1 1 udp 1 <img src=x onerror=alert(1)> 9 typ host"},
            {
                "type": "candidate",
                "to": to,
                "candidate": "candidate:' OR '1'='1",
                "sdpMid": "' OR 1=1 --",
                "sdpMLineIndex": None,
            },
        ):
            complete = {"sdpMid": "0", "sdpMLineIndex": 0, **message} if message["type"] == "candidate" else message
            assert await fuzz_room.clinician.send_json(complete)
            payloads.append((fuzz_room.patient, {**complete, "from": fuzz_room.clinician_id}))
        sql_peer = {"type": "quality", "to": "x--DROP_TABLE_video_qualitysample", "rtt_ms": 1.0, "loss": 0}
        assert await fuzz_room.clinician.send_json(sql_peer)
        await fuzz_room.clinician.round_trip()

    async def floods() -> None:
        """Too many messages, or too many bytes, on one socket: closed with 4429."""

        async def flood(visit: Visit, label: str, frame: str, count: int) -> None:
            peer, _ = await visit.extra(label, names)
            for _ in range(count):
                if not await peer.send(frame):
                    break
            code = await peer.closed()
            if code != CLOSE_FLOODING:
                problems.append(f"{peer.name}: closed with {code} after {count} frames, expected {CLOSE_FLOODING}")
            await peer.close()

        big_offer = _dumps(
            {"type": "offer", "to": "00000000-0000-4000-8000-000000000000", "sdp": "v=0\r\n" + "a" * 15_000}
        )
        await asyncio.gather(
            flood(fuzz_room, "ping flood", '{"type":"ping"}', 400),
            flood(fuzz_room, "byte flood", big_offer, 40),
            flood(first, "ping flood", '{"type":"ping"}', 400),
        )

    async def keeps_talking() -> None:
        """An offender that sends more straight after the frame that gets it
        closed: nothing after that frame may be acted on."""
        for visit in (first, fuzz_room):
            after = {"type": "offer", "to": visit.patient_id, "sdp": "v=0\r\ns=" + MARKER + " after the close\r\n"}
            await offend(visit, Offence("invalid JSON, then an offer", "{" + MARKER, CLOSE_MALFORMED), after)
            await offend(visit, Offence("invalid JSON, then a ping", "{" + MARKER, CLOSE_MALFORMED), {"type": "ping"})
            await offend(visit, Offence("too large, then an offer", _sized(40_000), CLOSE_TOO_LARGE), after)

    async def settle() -> None:
        """Every offender gone from its room's roster: the server ran each one's
        disconnect, after handling everything it had received from it."""

        async def settled(visit: Visit) -> None:
            assert visit.clinician is not None
            expected = {visit.clinician_id, visit.patient_id}
            try:
                await visit.clinician.wait_until(
                    lambda peer: _latest_roster(peer) == expected, what="back to two", timeout=SETTLE_SECONDS
                )
            except AssertionError:
                left = (_latest_roster(visit.clinician) or set()) - expected
                problems.append(
                    f"room {visit.name}: offenders still listed in the roster after they were closed: "
                    + ", ".join(sorted(names.get(i, i) for i in left))
                )

        await asyncio.gather(*(settled(visit) for visit in visits))

    async def finish_traffic() -> None:
        stop.set()
        await asyncio.gather(*traffic)
        for chatter in chatters:
            if chatter.refused:
                problems.append(chatter.refused)
        # Sentinels for the fuzz room, which has no traffic of its own.
        assert fuzz_room.clinician is not None and fuzz_room.patient is not None
        for sender, receiver, to, source in (
            (fuzz_room.clinician, fuzz_room.patient, fuzz_room.patient_id, fuzz_room.clinician_id),
            (fuzz_room.patient, fuzz_room.clinician, fuzz_room.clinician_id, fuzz_room.patient_id),
        ):
            sentinel = {"type": "offer", "to": to, "sdp": "v=0\r\ns=sentinel\r\n"}
            assert await sender.send_json(sentinel)
            payloads.append((receiver, {**sentinel, "from": source}))

    def relays_from(peer: Peer, source: str) -> list[dict[str, Any]]:
        return [m for m in peer.messages if m.get("type") in RELAYED and m.get("from") == source]

    async def collect_everything() -> None:
        """Wait (bounded) until every receiver has every message sent to it."""

        async def collect(chatter: Chatter) -> None:
            total = len(chatter.sent)
            try:
                await chatter.receiver.wait_until(
                    lambda peer: len(relays_from(peer, chatter.sender_id)) >= total,
                    what=f"given all {total} messages from {chatter.sender.name}",
                )
            except AssertionError as error:
                problems.append(str(error))

        async def payload(receiver: Peer, message: dict[str, Any]) -> None:
            try:
                await receiver.wait_for(lambda m: m == message)
            except AssertionError:
                problems.append(f"{receiver.name} never got {str(message)[:200]}")

        await asyncio.gather(*map(collect, chatters), *(payload(r, m) for r, m in payloads))

    async def newcomers() -> None:
        """The server still takes new participants, in every room, and a fresh
        room member sees exactly who is there."""
        for visit in visits:
            peer, you = await visit.extra("newcomer", names, fresh=True)
            _, roster = await peer.wait_type("roster")
            listed = {str(p["id"]) for p in roster["participants"]}
            if listed != {visit.clinician_id, visit.patient_id, you}:
                problems.append(f"{peer.name} saw {sorted(names.get(i, i) for i in listed)} in the roster")
            await peer.round_trip()
            await peer.close()
        patient = await Peer.open(
            asgi_live_server, f"/ws/video/join/{fuzz_room.token}/?device={fuzz_room.device()}", name="late patient"
        )
        _, hello = await patient.wait_type("welcome")
        assert hello["state"] == "waiting"
        await patient.close()

    async def close_all() -> None:
        for visit in visits:
            for peer in (visit.clinician, visit.patient):
                assert peer is not None
                if not peer.open_now:
                    problems.append(f"{peer.name} was closed ({peer.close_code}) during the test")
                await peer.close()

    with LoopThread() as loop:
        loop.run(open_rooms())
        loop.run(hand_picked(), timeout=PHASE_SECONDS)

        rooms = {visit.name: visit for visit in visits}

        @settings(
            max_examples=HYPOTHESIS_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(data=st.data())
        def generated(data: st.DataObject) -> None:
            visit = rooms[data.draw(st.sampled_from(sorted(rooms)), label="room")]
            frame = data.draw(frames(visit.patient_id), label="frame")
            expected = expected_close(frame)
            assume(expected is not None)
            assert expected is not None
            code = loop.run(one_generated(visit, frame))
            assert code == expected, f"closed with {code}, expected {expected}"

        generated()
        loop.run(across_rooms())
        loop.run(odd_but_valid())
        loop.run(floods(), timeout=PHASE_SECONDS)
        loop.run(keeps_talking())
        loop.run(settle(), timeout=PHASE_SECONDS)
        loop.run(finish_traffic())
        loop.run(collect_everything(), timeout=PHASE_SECONDS)
        loop.run(newcomers())
        loop.run(close_all())

    # Every well-behaved message arrived, intact and in order, from its sender.
    for chatter in chatters:
        expected = [{**m, "from": chatter.sender_id} for m in chatter.sent]
        got = relays_from(chatter.receiver, chatter.sender_id)
        if got != expected:
            problems.append(
                f"{chatter.receiver.name}: {_difference(got, expected)} of the {len(expected)} messages "
                f"{chatter.sender.name} sent"
            )
    # Nothing else reached anyone: only the server's own messages, the
    # partner's relays, and the odd-but-valid payloads meant for them.
    for visit in visits:
        assert visit.clinician is not None and visit.patient is not None
        for peer, partner in ((visit.clinician, visit.patient_id), (visit.patient, visit.clinician_id)):
            meant = [m for receiver, m in payloads if receiver is peer]
            if len(peer.frames) != len(peer.messages):
                problems.append(f"{peer.name} got frames that are not JSON objects")
            for message in peer.messages:
                kind = message.get("type")
                if kind in SERVER_MESSAGES or message in meant:
                    continue
                if kind in RELAYED and message.get("from") == partner and visit in calm:
                    continue
                source = names.get(str(message.get("from")), message.get("from"))
                problems.append(f"{peer.name} got a message it should not have, from {source}: {str(message)[:300]}")
            for frame in peer.frames:
                if MARKER in (frame if isinstance(frame, str) else frame.decode(errors="replace")):
                    problems.append(f"{peer.name} got an offender's frame: {str(frame)[:200]}")
    # The server raised nothing while all this went on.
    errors = Counter(
        f"{record.name}: {record.getMessage().strip()} {record.exc_info[1] if record.exc_info else ''!r}"
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.getMessage() != UVICORN_INVALID_UTF8
    )
    problems.extend(f"the server logged, {count} time(s): {error}" for error, count in errors.items())

    assert not problems, "\n".join(["The fuzzing found:", *dict.fromkeys(problems)])
