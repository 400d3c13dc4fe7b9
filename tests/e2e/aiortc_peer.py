"""A scripted participant in a video room: aiortc in Python, joining through
the same WebSocket and JSON protocol as room.js.

It connects to the room's socket (the patient's link, or a clinician's room
with a session cookie in ``headers``), waits to be admitted when it has to,
and then runs one RTCPeerConnection per other admitted participant, exactly
as the browser does: the side whose participant id is the greater makes the
first offer, the other answers. It sends a moving synthetic picture and
silence, and counts the frames it decodes from each other participant.

Everything runs in a thread of its own with its own event loop: the sync
Playwright API owns the test's main thread, and the ASGI server another
thread. The test talks to it through ``start``, ``snapshot``, ``wait_for``
and ``stop`` (or ``with``), which are thread-safe; ``stop`` leaves the room,
closes every connection and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType, TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
STOP_SECONDS = 10.0


# --- Offering 127.0.0.1 -----------------------------------------------------------------------
#
# aiortc's ICE agent is aioice. When it gathers host candidates it asks
# aioice.ice.get_host_addresses() for the machine's addresses, and that leaves
# 127.0.0.1 out, a sensible default on a real network. The browser suite runs
# in a network namespace that has loopback only, so there aiortc would offer
# no candidate at all and the call could never connect. (Chromium offers
# 127.0.0.1 there because of --allow-loopback-in-peer-connection.)
#
# So while a participant runs, that function is wrapped: in the participant's
# own thread, and in no other, 127.0.0.1 is added to what aioice found. The
# wrapper goes in when the first participant starts and the original comes
# back when the last one stops. aioice looks the function up in its module at
# every gathering, so replacing the module attribute is enough.

_loopback_lock = threading.Lock()
_loopback_threads: set[int] = set()
_original_get_host_addresses: Callable[..., list[str]] | None = None


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    assert _original_get_host_addresses is not None
    addresses = _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    if use_ipv4 and threading.get_ident() in _loopback_threads and LOOPBACK not in addresses:
        addresses.append(LOOPBACK)
    return addresses


@contextlib.contextmanager
def loopback_host_candidates() -> Iterator[None]:
    """Within this block, aiortc in the current thread also offers 127.0.0.1."""
    global _original_get_host_addresses
    me = threading.get_ident()
    with _loopback_lock:
        if not _loopback_threads:
            _original_get_host_addresses = aioice.ice.get_host_addresses
            aioice.ice.get_host_addresses = _host_addresses_with_loopback
        _loopback_threads.add(me)
    try:
        yield
    finally:
        with _loopback_lock:
            _loopback_threads.discard(me)
            if not _loopback_threads and _original_get_host_addresses is not None:
                aioice.ice.get_host_addresses = _original_get_host_addresses
                _original_get_host_addresses = None


# --- What it sends ----------------------------------------------------------------------------


class MovingPatternTrack(VideoStreamTrack):
    """A synthetic camera: a grey ramp that scrolls sideways a few pixels a
    frame, in a tint that slowly cycles, at aiortc's 30 frames a second.
    Every frame differs from the one before, so the encoder cannot coast on
    a still picture, and making one takes a few byte-string operations."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        if width % 2 or height % 2 or width < 16 or height < 16:
            raise ValueError("width and height must be even, and at least 16")
        self.width = width
        self.height = height
        ramp = bytes(16 + x * 220 // width for x in range(width))
        self._ramp = ramp + ramp  # any window of `width` bytes is one scrolled row
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        step = self._count
        self._count += 1
        frame = VideoFrame(self.width, self.height, "yuv420p")
        luma, blue, red = frame.planes
        shift = (step * 4) % self.width
        row = self._ramp[shift : shift + self.width].ljust(luma.line_size, b"\0")
        luma.update(row * luma.height)
        blue.update(bytes([96 + step % 64]) * blue.buffer_size)
        red.update(bytes([160 - step % 64]) * red.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


# --- What the test can see --------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    id: str
    name: str
    role: str
    state: str


@dataclass(frozen=True)
class Received:
    """What was decoded from one other participant."""

    video_frames: int = 0
    width: int = 0
    height: int = 0
    audio_frames: int = 0
    first_video_at: float | None = None  # time.monotonic() of the first decoded video frame


@dataclass(frozen=True)
class Snapshot:
    """The participant's view at one moment. ``state`` is the room's
    (``waiting``, ``admitted``) once welcomed, ``connecting`` before and
    ``closed`` after the socket closed."""

    state: str = "connecting"
    you: str | None = None
    role: str | None = None
    roster: tuple[RosterEntry, ...] = ()
    received: Mapping[str, Received] = field(default_factory=lambda: MappingProxyType({}))
    # How each connection started: "offered" (this side made the first
    # offer) or "answered", by the other participant's id.
    negotiated: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    admitted_at: float | None = None  # time.monotonic()
    close_code: int | None = None

    def named(self, name: str) -> RosterEntry:
        """The one other participant called ``name``."""
        found = [entry for entry in self.roster if entry.name == name and entry.id != self.you]
        if len(found) != 1:
            raise LookupError(f"{len(found)} participants named {name!r} in {self.roster}")
        return found[0]

    def received_from(self, participant_id: str) -> Received:
        return self.received.get(participant_id, Received())


class ParticipantFailed(AssertionError):
    """The participant stopped, or did not get where the test expected in time."""


# --- The participant --------------------------------------------------------------------------


@dataclass
class _Peer:
    """One RTCPeerConnection, to one other participant."""

    remote: str
    pc: RTCPeerConnection
    polite: bool
    local_tracks: list[MediaStreamTrack]
    ignore_offer: bool = False
    early_candidates: list[dict[str, Any]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def new_device_key() -> str:
    """A device key as room.js makes one: 16 to 64 of [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(24)


class ScriptedParticipant:
    """aiortc in a video room, through the room's WebSocket at ``path`` on ``server``.

    ``server`` is the app's origin (``http://127.0.0.1:8000``); the socket is
    opened with it as the Origin header, as a page of that origin would.
    """

    def __init__(
        self,
        server: str,
        path: str,
        *,
        device: str | None = None,
        headers: Mapping[str, str] | None = None,
        width: int = 320,
        height: int = 240,
    ) -> None:
        origin = urlsplit(server)
        if origin.scheme not in ("http", "https") or not origin.netloc:
            raise ValueError(f"not an http(s) origin: {server}")
        self.origin = f"{origin.scheme}://{origin.netloc}"
        scheme = "wss" if origin.scheme == "https" else "ws"
        self.device = device or new_device_key()
        self.url = f"{scheme}://{origin.netloc}{path}?device={self.device}"
        self.headers = dict(headers or {})
        self.width = width
        self.height = height

        self._changed = threading.Condition()
        self._snapshot = Snapshot()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._finished = False
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

        # Owned by the participant's thread.
        self._peers: dict[str, _Peer] = {}
        self._ice_servers: list[RTCIceServer] = []
        self._ice_policy = RTCIceTransportPolicy.ALL
        self._socket: ClientConnection | None = None

    # -- Control, from any thread ---------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Snapshot:
        """Connect, and return once the room has welcomed this participant."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._main, name=f"aiortc-participant-{self.device[:6]}", daemon=True)
        self._thread.start()
        return self.wait_for(lambda s: s.you is not None, timeout, "the room's welcome")

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Leave the room (the socket first, then every peer connection) and
        join the thread. Safe to call more than once, or before start."""
        with self._changed:
            self._stop_requested = True
            loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(event.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the aiortc participant did not stop within {timeout} s")

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
        if error is None and self._error is not None:
            raise ParticipantFailed(f"the aiortc participant failed: {self._error!r}") from self._error

    def snapshot(self) -> Snapshot:
        with self._changed:
            return self._snapshot

    def wait_for(self, condition: Callable[[Snapshot], bool], timeout: float, what: str) -> Snapshot:
        """Block until ``condition`` holds for a snapshot, and return it. Fails
        at once if the participant stops, and after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                current = self._snapshot
                if condition(current):
                    return current
                if self._error is not None:
                    raise ParticipantFailed(f"waiting for {what}: the participant failed") from self._error
                if self._finished:
                    raise ParticipantFailed(f"waiting for {what}: the participant stopped ({current})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ParticipantFailed(f"waiting for {what}: not after {timeout} s ({current})")
                self._changed.wait(left)

    def _update(self, **changes: Any) -> None:
        with self._changed:
            self._snapshot = replace(self._snapshot, **changes)
            self._changed.notify_all()

    # -- The participant's thread ---------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:
            logger.exception("the aiortc participant failed")
            with self._changed:
                self._error = error
        finally:
            with self._changed:
                self._finished = True
                self._loop = self._stop_event = None
                self._snapshot = replace(self._snapshot, state="closed")
                self._changed.notify_all()

    async def _run(self) -> None:
        stop_event = asyncio.Event()
        with self._changed:
            self._loop, self._stop_event = asyncio.get_running_loop(), stop_event
            if self._stop_requested:
                stop_event.set()
        with loopback_host_candidates():
            async with connect(
                self.url,
                origin=Origin(self.origin),
                additional_headers=self.headers,
                user_agent_header="tandem-tests aiortc participant",
                proxy=None,
                open_timeout=10,
            ) as socket:
                self._socket = socket
                reader = asyncio.create_task(self._read(socket))
                stopping = asyncio.create_task(stop_event.wait())
                try:
                    await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    # Leave as a closing tab does: the socket first, so the
                    # room drops this participant at once; then hang up.
                    stopping.cancel()
                    ended_early = reader.done()
                    await socket.close()
                    reader.cancel()
                    await asyncio.gather(reader, stopping, return_exceptions=True)
                    for remote in list(self._peers):
                        await self._hang_up(remote)
                if ended_early:
                    reader.result()  # raises whatever ended the reading

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                message = json.loads(raw)
                if isinstance(message, dict):
                    await self._on_message(message)
        except ConnectionClosed:
            pass  # the close code is recorded below
        finally:
            self._update(close_code=socket.close_code)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._socket is not None
        await self._socket.send(json.dumps(message, separators=(",", ":")))

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "welcome":
            # As room.js: the servers and policy the room gives. Never None:
            # then aiortc would quietly add a public STUN server.
            self._ice_servers = [RTCIceServer(**server) for server in message.get("ice_servers") or []]
            relay = message.get("ice_transport_policy") == "relay"
            self._ice_policy = RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL
            state = str(message["state"])
            self._update(
                you=str(message["you"]),
                role=str(message["role"]),
                state=state,
                admitted_at=time.monotonic() if state == "admitted" else None,
            )
        elif kind == "admitted":
            self._update(state="admitted", admitted_at=time.monotonic())
        elif kind == "roster":
            await self._on_roster(message["participants"])
        elif kind in ("offer", "answer", "candidate"):
            sender = message.get("from")
            if self.snapshot().state != "admitted" or not isinstance(sender, str):
                return
            peer = self._peers.get(sender) or await self._open(sender)
            if kind == "candidate":
                await self._on_candidate(peer, message)
            else:
                await self._on_description(peer, kind, str(message["sdp"]))
        # "mute", "media" and "pong" change nothing for a scripted participant.

    async def _on_roster(self, participants: list[dict[str, Any]]) -> None:
        roster = tuple(
            RosterEntry(id=str(p["id"]), name=str(p["name"]), role=str(p["role"]), state=str(p["state"]))
            for p in participants
        )
        current = self._update_roster(roster)
        in_call = {entry.id for entry in roster if entry.state == "admitted" and entry.id != current.you}
        for remote in [remote for remote in self._peers if remote not in in_call]:
            await self._hang_up(remote)
        if current.state == "admitted":
            for remote in sorted(in_call - self._peers.keys()):
                await self._open(remote)

    def _update_roster(self, roster: tuple[RosterEntry, ...]) -> Snapshot:
        with self._changed:
            self._snapshot = replace(self._snapshot, roster=roster)
            self._changed.notify_all()
            return self._snapshot

    # -- Peer connections -----------------------------------------------------------------------

    async def _open(self, remote: str) -> _Peer:
        you = self.snapshot().you
        assert you is not None
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=list(self._ice_servers), iceTransportPolicy=self._ice_policy)
        )
        # As room.js: polite = me < id. The impolite side makes the first offer.
        peer = _Peer(
            remote=remote,
            pc=pc,
            polite=you < remote,
            local_tracks=[AudioStreamTrack(), MovingPatternTrack(self.width, self.height)],
        )
        self._peers[remote] = peer
        for track in peer.local_tracks:
            pc.addTrack(track)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(self._consume(remote, track))
            peer.tasks.add(task)
            task.add_done_callback(peer.tasks.discard)

        if not peer.polite:
            await pc.setLocalDescription(await pc.createOffer())
            await self._send({"type": "offer", "to": remote, "sdp": self._local_sdp(pc)})
            self._negotiated(remote, "offered")
        return peer

    def _negotiated(self, remote: str, how: str) -> None:
        with self._changed:
            if remote not in self._snapshot.negotiated:
                negotiated = MappingProxyType({**self._snapshot.negotiated, remote: how})
                self._snapshot = replace(self._snapshot, negotiated=negotiated)
                self._changed.notify_all()

    def _local_sdp(self, pc: RTCPeerConnection) -> str:
        # aiortc does not trickle: its candidates are in the description.
        description = pc.localDescription
        assert description is not None
        if "a=candidate:" not in description.sdp:
            raise RuntimeError("aiortc gathered no ICE candidate, so no one could reach it")
        return description.sdp

    async def _on_description(self, peer: _Peer, kind: str, sdp: str) -> None:
        pc = peer.pc
        if kind == "answer":
            if pc.signalingState == "have-local-offer":
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
                await self._add_early_candidates(peer)
            return
        collision = pc.signalingState != "stable"
        peer.ignore_offer = not peer.polite and collision
        if peer.ignore_offer:
            return
        if collision:
            # Only the impolite side offers first, and this side never offers
            # again, so a polite collision means the protocol changed.
            raise RuntimeError("offer collision on the polite side: aiortc cannot roll back")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._add_early_candidates(peer)
        await pc.setLocalDescription(await pc.createAnswer())
        await self._send({"type": "answer", "to": peer.remote, "sdp": self._local_sdp(pc)})
        self._negotiated(peer.remote, "answered")

    async def _on_candidate(self, peer: _Peer, message: dict[str, Any]) -> None:
        if peer.pc.remoteDescription is None:
            peer.early_candidates.append(message)  # before the description it belongs to
            return
        line = str(message.get("candidate") or "")
        try:
            if not line:
                await peer.pc.addIceCandidate(None)  # the end of the browser's candidates
                return
            candidate = candidate_from_sdp(line.removeprefix("candidate:"))
            candidate.sdpMid = message.get("sdpMid")
            candidate.sdpMLineIndex = message.get("sdpMLineIndex")
            await peer.pc.addIceCandidate(candidate)
        except Exception:
            if not peer.ignore_offer:
                raise

    async def _add_early_candidates(self, peer: _Peer) -> None:
        early, peer.early_candidates = peer.early_candidates, []
        for message in early:
            await self._on_candidate(peer, message)

    async def _consume(self, remote: str, track: MediaStreamTrack) -> None:
        """Read every decoded frame (aiortc queues them without bound
        otherwise) and count them."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                with self._changed:
                    received = dict(self._snapshot.received)
                    was = received.get(remote, Received())
                    if isinstance(frame, VideoFrame):
                        first = was.first_video_at or time.monotonic()
                        got = replace(
                            was,
                            video_frames=was.video_frames + 1,
                            width=frame.width,
                            height=frame.height,
                            first_video_at=first,
                        )
                    else:
                        got = replace(was, audio_frames=was.audio_frames + 1)
                    received[remote] = got
                    self._snapshot = replace(self._snapshot, received=MappingProxyType(received))
                    self._changed.notify_all()

    async def _hang_up(self, remote: str) -> None:
        peer = self._peers.pop(remote, None)
        if peer is None:
            return
        for task in list(peer.tasks):
            task.cancel()
        await asyncio.gather(*peer.tasks, return_exceptions=True)
        await peer.pc.close()
        for track in peer.local_tracks:
            track.stop()
