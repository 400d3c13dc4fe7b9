"""The signalling validation layer: what a browser may send over the video
WebSocket, what gets it disconnected and with which close code, and the
per-connection rate limit.

All pure: no database, no consumer. The fuzz tests check accepted messages
against a schema table written out again here, independently of the module's
own validators.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.video import signalling
from tandem.video.signalling import (
    CLOSE_FLOODING,
    CLOSE_MALFORMED,
    CLOSE_TOO_LARGE,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    Message,
    RateLimiter,
    SignalError,
    TokenBucket,
    parse,
)

PEER = "p_7Qx2-LmN9aKd"
OTHER = "device-b-0123456789abcdef"


# -- A realistic offer ---------------------------------------------------------
#
# Shaped like what a current browser produces for microphone, camera and a
# screen share on one BUNDLEd connection; addresses are from the documentation
# ranges, and the ufrag, password, fingerprint and SSRCs are made up.

_FINGERPRINT = ":".join(f"{(i * 37 + 11) % 256:02X}" for i in range(32))
_ICE = ["a=ice-ufrag:Hq4v", "a=ice-pwd:k9VtR2wXpL0sYbN3cM8dF6gJ", "a=ice-options:trickle"]
_DTLS = [f"a=fingerprint:sha-256 {_FINGERPRINT}", "a=setup:actpass"]


def _audio_section() -> list[str]:
    return [
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        *_ICE,
        *_DTLS,
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendrecv",
        "a=msid:4f1c2a9e-audio 7d3b0c61-mic",
        "a=rtcp-mux",
        "a=rtcp-rsize",
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
        "a=ssrc:2837461902 cname:Zp3kW9qL2xYc8VbN",
        "a=ssrc:2837461902 msid:4f1c2a9e-audio 7d3b0c61-mic",
    ]


def _video_section(mid: int, ssrc: int, track: str) -> list[str]:
    lines = [
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 45 46 102 103",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        *_ICE,
        *_DTLS,
        f"a=mid:{mid}",
        "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:13 urn:3gpp:video-orientation",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "a=sendrecv",
        f"a=msid:4f1c2a9e-video {track}",
        "a=rtcp-mux",
        "a=rtcp-rsize",
    ]
    codecs = [(96, "VP8"), (98, "VP9"), (100, "H264"), (45, "AV1"), (102, "H264")]
    for payload, name in codecs:
        lines += [
            f"a=rtpmap:{payload} {name}/90000",
            f"a=rtcp-fb:{payload} goog-remb",
            f"a=rtcp-fb:{payload} transport-cc",
            f"a=rtcp-fb:{payload} ccm fir",
            f"a=rtcp-fb:{payload} nack",
            f"a=rtcp-fb:{payload} nack pli",
            f"a=rtpmap:{payload + 1} rtx/90000",
            f"a=fmtp:{payload + 1} apt={payload}",
        ]
    lines += [
        "a=fmtp:98 profile-id=0",
        "a=fmtp:100 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f",
        f"a=ssrc-group:FID {ssrc} {ssrc + 1}",
        f"a=ssrc:{ssrc} cname:Zp3kW9qL2xYc8VbN",
        f"a=ssrc:{ssrc} msid:4f1c2a9e-video {track}",
        f"a=ssrc:{ssrc + 1} cname:Zp3kW9qL2xYc8VbN",
        f"a=ssrc:{ssrc + 1} msid:4f1c2a9e-video {track}",
    ]
    return lines


OFFER_SDP = (
    "\r\n".join(
        [
            "v=0",
            "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "a=group:BUNDLE 0 1 2",
            "a=extmap-allow-mixed",
            "a=msid-semantic: WMS 4f1c2a9e",
            *_audio_section(),
            *_video_section(1, 1195048211, "a81e44f0-camera"),
            *_video_section(2, 3620174458, "c5d9127b-screen"),
        ]
    )
    + "\r\n"
)

ANSWER_SDP = OFFER_SDP.replace("a=setup:actpass", "a=setup:active").replace("2 IN IP4", "3 IN IP4")

CANDIDATES = [
    "candidate:1467250027 1 udp 2122260223 192.0.2.24 54321 typ host generation 0 ufrag Hq4v network-id 1",
    "candidate:3110381564 1 udp 2122262783 2001:db8::4c1f:9a2e:77b0:1d3 60112 typ host generation 0 ufrag Hq4v",
    "candidate:2930213711 1 udp 2113937151 3f9a1c02-5d7e-4b8f-a1c3-9e0d2b4f6a81.local 51544 typ host generation 0",
    "candidate:842163049 1 udp 1677729535 203.0.113.7 50321 typ srflx raddr 192.0.2.24 rport 54321 "
    "generation 0 ufrag Hq4v network-cost 999",
    "candidate:1052924330 1 udp 33562623 198.51.100.40 61027 typ relay raddr 203.0.113.7 rport 50321 generation 0",
    "candidate:599991555 1 tcp 1518280447 192.0.2.24 9 typ host tcptype active generation 0 network-id 1",
    "candidate:0 1 UDP 2122252543 192.0.2.24 49203 typ host",  # Firefox's shape
    "",  # end of candidates
]


def _raw(**fields: object) -> str:
    return json.dumps(fields)


def _refused(raw: str | bytes) -> SignalError:
    with pytest.raises(SignalError) as caught:
        parse(raw)
    return caught.value


# -- Accepting -------------------------------------------------------------------


def test_the_offer_is_a_realistic_size() -> None:
    assert OFFER_SDP.startswith("v=0\r\n")
    assert 4000 < len(OFFER_SDP) < 10_000
    assert len(_raw(type="offer", to=PEER, sdp=OFFER_SDP).encode()) < MAX_MESSAGE_BYTES


def test_offer_and_answer() -> None:
    offer = parse(_raw(type="offer", to=PEER, sdp=OFFER_SDP))
    assert offer == Message("offer", {"to": PEER, "sdp": OFFER_SDP})
    answer = parse(_raw(type="answer", to=PEER, sdp=ANSWER_SDP, restart=True).encode())
    assert answer.type == "answer"
    assert answer.fields == {"to": PEER, "sdp": ANSWER_SDP, "restart": True}


@pytest.mark.parametrize("line", CANDIDATES)
def test_candidates(line: str) -> None:
    message = parse(_raw(type="candidate", to=PEER, candidate=line, sdpMid="0", sdpMLineIndex=0))
    assert message.fields == {"to": PEER, "candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}


def test_candidate_with_null_mid_and_index() -> None:
    message = parse(_raw(type="candidate", to=PEER, candidate="", sdpMid=None, sdpMLineIndex=None))
    assert message.fields == {"to": PEER, "candidate": "", "sdpMid": None, "sdpMLineIndex": None}


@pytest.mark.parametrize(
    ("raw", "kind", "fields"),
    [
        (
            _raw(type="media", audio=True, video=False, screen=False),
            "media",
            {"audio": True, "video": False, "screen": False},
        ),
        (
            _raw(type="quality", to=PEER, rtt_ms=48.5, loss=0.012, width=1280, height=720, fps=29.97),
            "quality",
            {"to": PEER, "rtt_ms": 48.5, "loss": 0.012, "width": 1280, "height": 720, "fps": 29.97},
        ),
        (_raw(type="quality", to=PEER, rtt_ms=0, loss=1), "quality", {"to": PEER, "rtt_ms": 0, "loss": 1}),
        (_raw(type="quality", to=PEER), "quality", {"to": PEER}),
        (_raw(type="admit", participant=OTHER), "admit", {"participant": OTHER}),
        (_raw(type="remove", participant=OTHER), "remove", {"participant": OTHER}),
        (_raw(type="room_mode", with_patient=True), "room_mode", {"with_patient": True}),
        (_raw(type="mute_device", participant=OTHER), "mute_device", {"participant": OTHER}),
        ('{"type":"ping"}', "ping", {}),
        (' \n{ "type" : "ping" }\t', "ping", {}),
    ],
)
def test_other_types(raw: str, kind: str, fields: dict[str, object]) -> None:
    message = parse(raw)
    assert message.type == kind
    assert dict(message.fields) == fields


def test_every_type_is_covered() -> None:
    assert {
        "offer",
        "answer",
        "candidate",
        "media",
        "quality",
        "admit",
        "remove",
        "room_mode",
        "mute_device",
        "ping",
    } == MESSAGE_TYPES


def test_brackets_and_escapes_inside_strings_are_not_nesting() -> None:
    sdp = "v=0\r\na=x:" + "[{" * 200 + '\\"]}' + "\r\n"
    assert parse(_raw(type="offer", to=PEER, sdp=sdp)).fields["sdp"] == sdp


def test_message_is_immutable() -> None:
    message = parse(_raw(type="admit", participant=OTHER))
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.type = "remove"  # type: ignore[misc]
    with pytest.raises(TypeError):
        message.fields["participant"] = PEER  # type: ignore[index]


# -- Size ------------------------------------------------------------------------


def _padded_ping(size: int) -> str:
    """A ping of exactly ``size`` bytes, padded with JSON whitespace."""
    body = '{"type":"ping"}'
    return body + " " * (size - len(body))


def test_exactly_the_limit_is_accepted() -> None:
    assert parse(_padded_ping(MAX_MESSAGE_BYTES)).type == "ping"
    assert parse(_padded_ping(MAX_MESSAGE_BYTES).encode()).type == "ping"


def test_one_byte_over_is_too_large() -> None:
    assert _refused(_padded_ping(MAX_MESSAGE_BYTES + 1)).code == CLOSE_TOO_LARGE
    assert _refused(_padded_ping(MAX_MESSAGE_BYTES + 1).encode()).code == CLOSE_TOO_LARGE


def test_huge_is_too_large_before_anything_else() -> None:
    # Not even JSON, and not even UTF-8: size is checked first.
    assert _refused("[" * 10_000_000).code == CLOSE_TOO_LARGE
    assert _refused(b"\xff" * 10_000_000).code == CLOSE_TOO_LARGE


def test_size_counts_utf8_bytes_not_characters() -> None:
    sdp = "v=0\r\ns=" + "é" * 9000
    raw = _raw(type="offer", to=PEER, sdp=sdp).replace("\\u00e9", "é")
    assert len(raw) < MAX_MESSAGE_BYTES < len(raw.encode())
    assert _refused(raw).code == CLOSE_TOO_LARGE


def test_an_oversized_sdp_is_too_large() -> None:
    sdp = OFFER_SDP * 3
    assert _refused(_raw(type="offer", to=PEER, sdp=sdp)).code == CLOSE_TOO_LARGE


# -- Malformed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "hello",
        "{",
        '{"type": "ping"',
        "{'type': 'ping'}",
        '{"type": "ping"} {"type": "ping"}',
        '{"type": "ping"},',
        '{type: "ping"}',
        '{"type": "ping",}',
        "\ufeff" + '{"type": "ping"}',
    ],
)
def test_not_json(raw: str) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize("raw", ["[]", '[{"type": "ping"}]', "42", "-1.5", '"ping"', "null", "true", "false"])
def test_json_that_is_not_an_object(raw: str) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "raw",
    [
        "{}",
        _raw(to=PEER, sdp=OFFER_SDP),
        _raw(type="hangup"),
        _raw(type="Ping"),
        _raw(type="ping "),
        _raw(type="__proto__"),
        _raw(type="constructor"),
        _raw(type=""),
        _raw(type=None),
        _raw(type=1),
        _raw(type=["ping"]),
        _raw(type={"name": "ping"}),
    ],
)
def test_unknown_or_missing_type(raw: str) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "offer", "to": PEER},
        {"type": "offer", "sdp": OFFER_SDP},
        {"type": "answer", "to": PEER},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0"},
        {"type": "candidate", "to": PEER, "sdpMid": "0", "sdpMLineIndex": 0},
        {"type": "candidate", "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0},
        {"type": "media", "audio": True, "video": True},
        {"type": "quality"},
        {"type": "quality", "rtt_ms": 20},
        {"type": "admit"},
        {"type": "remove"},
        {"type": "room_mode"},
        {"type": "mute_device"},
    ],
)
def test_missing_fields(fields: dict[str, object]) -> None:
    assert _refused(json.dumps(fields)).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "ping", "at": 1},
        {"type": "ping", "": None},
        {"type": "offer", "to": PEER, "sdp": OFFER_SDP, "from": OTHER},
        {"type": "offer", "to": PEER, "sdp": OFFER_SDP, "restartIce": True},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": None, "sdpMLineIndex": None, "foo": 1},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "x"},
        {"type": "media", "audio": True, "video": True, "screen": False, "participant": OTHER},
        {"type": "quality", "to": PEER, "jitter": 3},
        {"type": "admit", "participant": OTHER, "to": PEER},
        {"type": "room_mode", "with_patient": True, "patient": "p1"},
        {"type": "mute_device", "participant": OTHER, "audio": False},
        # A second field set smuggled in a nested object.
        {"type": "ping", "fields": {"to": PEER}},
    ],
)
def test_extra_fields(fields: dict[str, object]) -> None:
    assert _refused(json.dumps(fields)).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "offer", "to": PEER, "sdp": 1},
        {"type": "offer", "to": PEER, "sdp": None},
        {"type": "offer", "to": PEER, "sdp": [OFFER_SDP]},
        {"type": "offer", "to": PEER, "sdp": OFFER_SDP, "restart": 1},
        {"type": "offer", "to": PEER, "sdp": OFFER_SDP, "restart": "true"},
        {"type": "offer", "to": PEER, "sdp": OFFER_SDP, "restart": None},
        {"type": "candidate", "to": PEER, "candidate": None, "sdpMid": "0", "sdpMLineIndex": 0},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": 0, "sdpMLineIndex": 0},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": "0"},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": True},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0.0},
        {"type": "media", "audio": 1, "video": True, "screen": False},
        {"type": "media", "audio": True, "video": "false", "screen": False},
        {"type": "media", "audio": True, "video": True, "screen": None},
        {"type": "quality", "to": PEER, "rtt_ms": "40"},
        {"type": "quality", "to": PEER, "rtt_ms": True},
        {"type": "quality", "to": PEER, "loss": None},
        {"type": "quality", "to": PEER, "width": 1280.0},
        {"type": "quality", "to": PEER, "height": "720"},
        {"type": "quality", "to": PEER, "fps": [30]},
        {"type": "room_mode", "with_patient": "yes"},
        {"type": "room_mode", "with_patient": 0},
        {"type": "admit", "participant": None},
        {"type": "admit", "participant": 12345},
        {"type": "admit", "participant": [OTHER]},
    ],
)
def test_wrong_field_types(fields: dict[str, object]) -> None:
    assert _refused(json.dumps(fields)).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": -1},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": 16},
        {"type": "candidate", "to": PEER, "candidate": "", "sdpMid": "0", "sdpMLineIndex": 2**70},
        {"type": "quality", "to": PEER, "rtt_ms": -0.5},
        {"type": "quality", "to": PEER, "rtt_ms": 60_001},
        {"type": "quality", "to": PEER, "loss": -0.01},
        {"type": "quality", "to": PEER, "loss": 1.01},
        {"type": "quality", "to": PEER, "width": -1},
        {"type": "quality", "to": PEER, "width": 8193},
        {"type": "quality", "to": PEER, "height": 100_000},
        {"type": "quality", "to": PEER, "fps": -1},
        {"type": "quality", "to": PEER, "fps": 240.5},
    ],
)
def test_out_of_range_numbers(fields: dict[str, object]) -> None:
    assert _refused(json.dumps(fields)).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "quality", "to": "p1", "rtt_ms": 1e400}',
        '{"type": "quality", "to": "p1", "loss": -1e400}',
        '{"type": "quality", "to": "p1", "width": 1' + "0" * 5000 + "}",
    ],
)
def test_numbers_json_turns_into_infinity_or_cannot_read(raw: str) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "quality", "to": "p1", "rtt_ms": NaN}',
        '{"type": "quality", "to": "p1", "fps": Infinity}',
        '{"type": "quality", "to": "p1", "loss": -Infinity}',
        "NaN",
        '{"type": "ping", "x": NaN}',
    ],
)
def test_nan_and_infinity(raw: str) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 65,
        "../../etc/passwd",
        "..",
        "/rooms/1",
        "p1/../p2",
        "p1\\p2",
        "<script>alert(1)</script>",
        "javascript:alert(1)",
        "p1;drop",
        "p 1",
        "p1\n",
        "\np1",
        "p1\x00",
        "p1%2F..",
        "ｐ1",  # fullwidth letter
        "pé",
        "p\u200b1",  # zero-width space
    ],
)
def test_bad_participant_ids(value: str) -> None:
    for fields in ({"type": "admit", "participant": value}, {"type": "offer", "to": value, "sdp": OFFER_SDP}):
        assert _refused(json.dumps(fields)).code == CLOSE_MALFORMED


def test_longest_participant_id_is_accepted() -> None:
    assert parse(_raw(type="admit", participant="a" * 64)).fields["participant"] == "a" * 64


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "hello",
        "\r\nv=0\r\n",
        "v=0\r\n\x00",
        "v=0\r\ns=\x1b[2J",
        "v=0\r\ns=\ud800",
    ],
)
def test_bad_sdp(sdp: str) -> None:
    assert _refused(_raw(type="offer", to=PEER, sdp=sdp)).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    ("candidate", "mid"),
    [
        ("a=candidate:1 1 udp 1 192.0.2.1 1 typ host", "0"),
        ("candidate:1 1 udp 1 192.0.2.1 1 typ host\r\na=evil", "0"),
        ("candidate:" + "1" * 600, "0"),
        ("candidate:1 1 udp 1 192.0.2.1 1 typ host", ""),
        ("candidate:1 1 udp 1 192.0.2.1 1 typ host", "m" * 33),
        ("candidate:1 1 udp 1 192.0.2.1 1 typ host", "0\n"),
        ("candidate:1 1 udp 1 ẽxample.local 1 typ host", "0"),
    ],
)
def test_bad_candidates(candidate: str, mid: str) -> None:
    raw = _raw(type="candidate", to=PEER, candidate=candidate, sdpMid=mid, sdpMLineIndex=0)
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "ping", "type": "ping"}',
        '{"type": "admit", "type": "remove", "participant": "p1"}',
        '{"type": "admit", "participant": "p1", "participant": "p2"}',
        '{"type": "ping", "x": {"a": 1, "a": 2}}',
    ],
)
def test_duplicate_keys(raw: str) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "ping", "x": ' + "[" * 5000 + "]" * 5000 + "}",
        "[" * 8000 + "]" * 8000,
        '{"a":' * 2000 + "1" + "}" * 2000,
        "[" * 16_000,
        '{"type": "ping", "x": [[[[1]]]]}',
    ],
)
def test_deep_nesting(raw: str) -> None:
    error = _refused(raw)
    assert error.code == CLOSE_MALFORMED
    assert error.reason == "JSON nested too deeply"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b'{"type": "ping"}\xff',
        b'{"type": "admit", "participant": "p\xc0\xaf"}',  # overlong "/"
        b'{"type": "ping", "x": "\xed\xa0\x80"}',  # an encoded surrogate
        '{"type": "ping"}'.encode("utf-16"),
        b'{"type": "ping"}\x80',
    ],
)
def test_bytes_that_are_not_utf8(raw: bytes) -> None:
    assert _refused(raw).code == CLOSE_MALFORMED


def test_str_with_a_lone_surrogate() -> None:
    assert _refused('{"type": "ping"}\ud800').code == CLOSE_MALFORMED


def test_escaped_control_characters_and_raw_ones() -> None:
    # JSON forbids raw control characters in strings; escaped ones must still fit the field.
    assert _refused('{"type": "admit", "participant": "p\n1"}').code == CLOSE_MALFORMED
    assert _refused('{"type": "admit", "participant": "p\\n1"}').code == CLOSE_MALFORMED


def test_reasons_are_short_ascii_and_never_echo_input() -> None:
    payload = "<img src=x onerror=alert(1)>"
    raws: list[str | bytes] = [
        _raw(type=payload),
        _raw(type="ping", **{payload: 1}),
        _raw(type="admit", participant=payload),
        _raw(type="offer", to=PEER, sdp=payload),
        _raw(type="candidate", to=PEER, candidate=payload, sdpMid=payload, sdpMLineIndex=0),
        payload,
        "x" * (MAX_MESSAGE_BYTES + 1),
    ]
    for raw in raws:
        error = _refused(raw)
        assert error.reason.isascii()
        assert len(error.reason.encode()) <= 123  # the WebSocket close-reason limit
        assert "alert" not in error.reason
        assert "<" not in error.reason
        assert str(error).startswith(str(error.code))


def test_flooding_code_is_for_the_consumer() -> None:
    assert {CLOSE_MALFORMED, CLOSE_TOO_LARGE, CLOSE_FLOODING} == {4400, 4413, 4429}


# -- Fuzzing -----------------------------------------------------------------------
#
# The schema again, as predicates, to check accepted messages against.


def _is_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 64
        and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
    )


def _is_bool(value: object) -> bool:
    return value is True or value is False


def _is_int_in(low: int, high: int, *, nullable: bool = False):  # type: ignore[no-untyped-def]
    return lambda v: (v is None and nullable) or (type(v) is int and low <= v <= high)


def _is_number_in(low: float, high: float):  # type: ignore[no-untyped-def]
    return lambda v: type(v) in (int, float) and math.isfinite(v) and low <= v <= high


def _is_sdp(value: object) -> bool:
    return isinstance(value, str) and value.startswith("v=") and len(value) <= MAX_MESSAGE_BYTES


def _is_candidate(value: object) -> bool:
    return isinstance(value, str) and (value == "" or value.startswith("candidate:")) and len(value) <= 512


def _is_mid(value: object) -> bool:
    return value is None or (isinstance(value, str) and 1 <= len(value) <= 32 and value.isascii())


# name -> (predicate, required)
EXPECTED: dict[str, dict[str, tuple[object, bool]]] = {
    "offer": {"to": (_is_id, True), "sdp": (_is_sdp, True), "restart": (_is_bool, False)},
    "answer": {"to": (_is_id, True), "sdp": (_is_sdp, True), "restart": (_is_bool, False)},
    "candidate": {
        "to": (_is_id, True),
        "candidate": (_is_candidate, True),
        "sdpMid": (_is_mid, True),
        "sdpMLineIndex": (_is_int_in(0, 15, nullable=True), True),
    },
    "media": {"audio": (_is_bool, True), "video": (_is_bool, True), "screen": (_is_bool, True)},
    "quality": {
        "to": (_is_id, True),
        "rtt_ms": (_is_number_in(0, 60_000), False),
        "loss": (_is_number_in(0, 1), False),
        "width": (_is_int_in(0, 8192), False),
        "height": (_is_int_in(0, 8192), False),
        "fps": (_is_number_in(0, 240), False),
    },
    "admit": {"participant": (_is_id, True)},
    "remove": {"participant": (_is_id, True)},
    "room_mode": {"with_patient": (_is_bool, True)},
    "mute_device": {"participant": (_is_id, True)},
    "ping": {},
}
FIELD_NAMES = sorted({name for schema in EXPECTED.values() for name in schema} | {"type", "from", "x"})


def _check_conforms(message: Message) -> None:
    schema = EXPECTED[message.type]
    assert set(message.fields) <= set(schema)
    for name, (predicate, required) in schema.items():
        if name in message.fields:
            assert predicate(message.fields[name]), (name, message.fields[name])  # type: ignore[operator]
        else:
            assert not required, name
    # Round trip: re-encoding what was accepted is accepted again, unchanged.
    again = parse(json.dumps({"type": message.type, **message.fields}, ensure_ascii=False))
    assert again == message


def _parse_or_signal_error(raw: str | bytes) -> Message | None:
    try:
        message = parse(raw)
    except SignalError as error:
        assert error.code in (CLOSE_MALFORMED, CLOSE_TOO_LARGE)
        return None
    _check_conforms(message)
    return message


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from([PEER, "0", "v=0\r\n", CANDIDATES[0], *sorted(MESSAGE_TYPES)])
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
# Objects that look like messages: a real type and field names from the schemas.
near_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(MESSAGE_TYPES))},
).flatmap(
    lambda base: st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6).map(
        lambda extra: {**extra, **base}
    )
)


@FUZZ
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(raw: str) -> None:
    _parse_or_signal_error(raw)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    _parse_or_signal_error(raw)


@FUZZ
@given(json_values)
def test_fuzz_arbitrary_json(value: object) -> None:
    _parse_or_signal_error(json.dumps(value))


@FUZZ
@given(near_messages, st.booleans())
def test_fuzz_near_messages(value: dict[str, object], as_bytes: bool) -> None:
    raw = json.dumps(value)
    _parse_or_signal_error(raw.encode() if as_bytes else raw)


ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=64)
finite = {"allow_nan": False, "allow_infinity": False}
valid_messages = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["offer", "answer"]), "to": ids, "sdp": st.sampled_from([OFFER_SDP, ANSWER_SDP])},
        optional={"restart": st.booleans()},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("candidate"),
            "to": ids,
            "candidate": st.sampled_from(CANDIDATES),
            "sdpMid": st.none() | st.sampled_from(["0", "1", "2", "audio", "video"]),
            "sdpMLineIndex": st.none() | st.integers(0, 15),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("media"), "audio": st.booleans(), "video": st.booleans(), "screen": st.booleans()}
    ),
    st.fixed_dictionaries(
        {"type": st.just("quality"), "to": ids},
        optional={
            "rtt_ms": st.integers(0, 60_000) | st.floats(0, 60_000, **finite),
            "loss": st.floats(0, 1, **finite),
            "width": st.integers(0, 8192),
            "height": st.integers(0, 8192),
            "fps": st.floats(0, 240, **finite),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["admit", "remove", "mute_device"]), "participant": ids},
    ),
    st.fixed_dictionaries({"type": st.just("room_mode"), "with_patient": st.booleans()}),
    st.just({"type": "ping"}),
)


@FUZZ
@given(valid_messages, st.randoms(use_true_random=False))
def test_fuzz_valid_messages_are_accepted_unchanged(value: dict[str, object], random) -> None:  # type: ignore[no-untyped-def]
    # Field order on the wire does not matter.
    items = list(value.items())
    random.shuffle(items)
    message = _parse_or_signal_error(json.dumps(dict(items)))
    assert message is not None
    assert message.type == value["type"]
    assert dict(message.fields) == {k: v for k, v in value.items() if k != "type"}


# -- Rate limiting -------------------------------------------------------------------


def test_a_burst_within_capacity_passes_and_the_next_is_refused() -> None:
    limiter = RateLimiter(capacity=10, refill_per_second=4)
    assert all(limiter.allow(100.0) for _ in range(10))
    assert not limiter.allow(100.0)


def test_refill_is_exact() -> None:
    limiter = RateLimiter(capacity=10, refill_per_second=4)
    for _ in range(10):
        limiter.allow(0.0)
    assert not limiter.allow(0.125)  # half a token back
    assert limiter.allow(0.25)  # one whole token
    assert not limiter.allow(0.25)
    assert limiter.messages.available(1.25) == 4.0
    assert [limiter.allow(1.25) for _ in range(5)] == [True, True, True, True, False]


def test_refill_stops_at_capacity() -> None:
    limiter = RateLimiter(capacity=10, refill_per_second=4)
    limiter.allow(0.0)
    assert limiter.messages.available(3600.0) == 10
    assert sum(limiter.allow(3600.0) for _ in range(20)) == 10


def test_a_refusal_costs_nothing() -> None:
    limiter = RateLimiter(capacity=2, refill_per_second=1)
    assert limiter.allow(0.0, 100)
    assert limiter.allow(0.0, 100)
    for _ in range(50):
        assert not limiter.allow(0.0, 100)
    assert limiter.allow(1.0, 100)  # exactly one token refilled, none lost to the refusals


def test_a_clock_stepping_back_refills_nothing_and_does_not_break() -> None:
    limiter = RateLimiter(capacity=2, refill_per_second=1)
    assert limiter.allow(10.0)
    assert limiter.allow(10.0)
    assert not limiter.allow(5.0)
    assert not limiter.allow(10.5)
    assert limiter.allow(11.0)


def test_the_byte_budget_cuts_off_big_frames_before_the_message_count() -> None:
    limiter = RateLimiter()  # 128 KiB burst, 32 KiB a second
    assert all(limiter.allow(0.0, MAX_MESSAGE_BYTES) for _ in range(8))
    assert not limiter.allow(0.0, MAX_MESSAGE_BYTES)
    assert limiter.allow(0.0, 0)  # message tokens remain; small frames still go
    assert not limiter.allow(0.25, MAX_MESSAGE_BYTES)  # 8 KiB back
    assert limiter.allow(0.5, MAX_MESSAGE_BYTES)  # 16 KiB back


def test_a_normal_call_start_fits_the_defaults() -> None:
    # Four people: camera state, three offers, and dozens of candidates within a second.
    limiter = RateLimiter()
    offer = len(_raw(type="offer", to=PEER, sdp=OFFER_SDP).encode())
    assert limiter.allow(0.0, 60)
    assert all(limiter.allow(0.01 * i, offer) for i in range(3))
    for i in range(45):
        candidate = _raw(type="candidate", to=PEER, candidate=CANDIDATES[i % 7], sdpMid="0", sdpMLineIndex=0)
        assert limiter.allow(0.05 + i / 64, len(candidate))
    # and then a settled call: a quality sample a second and a ping now and then, for ten minutes.
    for second in range(2, 600):
        assert limiter.allow(float(second), 90)
        if second % 20 == 0:
            assert limiter.allow(second + 0.5, 15)


def test_a_flood_is_cut_off_to_the_sustained_rate() -> None:
    # 1024 messages a second for four seconds (times exact in binary):
    # the burst of 60, then 20 a second.
    limiter = RateLimiter()
    allowed = sum(limiter.allow(i / 1024, 40) for i in range(4 * 1024))
    assert allowed == 60 + math.floor(20 * 4095 / 1024)


def test_flooding_from_the_start_is_refused_at_once() -> None:
    limiter = RateLimiter()
    results = [limiter.allow(0.0) for _ in range(1000)]
    assert results.index(False) == 60
    assert not any(results[60:])


def test_bad_limiter_settings() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, -1)
    with pytest.raises(ValueError):
        RateLimiter(byte_capacity=MAX_MESSAGE_BYTES - 1)
    with pytest.raises(ValueError):
        RateLimiter().allow(0.0, -1)


def test_module_is_pure() -> None:
    with open(signalling.__file__, encoding="utf-8") as handle:
        text = handle.read()
    assert "import django" not in text
    assert "from django" not in text
