"""Signalling for video rooms, over the channel layer (Redis in production,
so participants on different app servers reach each other).

The server relays offers, answers and ICE candidates between admitted
participants of one room, and nothing else: media goes browser to browser.
Every message is validated (``signalling.parse``) and rate limited; a
malformed or flooding client is disconnected. A clinician's socket closes
with their session; anyone removed from the room is disconnected at once.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import Http404

from tandem.access import policy
from tandem.accounts.sessions import session_group, user_group
from tandem.audit import services as audit
from tandem.video import services, signalling, turn
from tandem.video.models import Attendance, AttendanceState, Role, Room
from tandem.video.sockets import CLOSE_REFUSED, VideoSocket, clinician_session, patient_link

CLOSE_REMOVED = 4410
# Close codes of a socket its page closed on purpose (a tab closed, a reload).
CLEAN_CLOSE = frozenset({1000, 1001})


def room_group(room: Room | int) -> str:
    return f"video.room.{room if isinstance(room, int) else room.pk}"


def attendance_group(attendance_id: int) -> str:
    return f"video.att.{attendance_id}"


class RoomConsumer(VideoSocket):
    attendance: Attendance | None = None
    room: Room | None = None
    session_key: str | None = None

    async def connect(self) -> None:
        headers = dict(self.scope.get("headers") or [])
        self.meta = audit.RequestMeta(
            ip_address=(self.scope.get("client") or [None])[0],
            user_agent=headers.get(b"user-agent", b"").decode(errors="replace")[:256],
        )
        device = self._query("device")
        self.page = self._query("page")
        try:
            self.room, self.attendance = await self._enter(device)
        except (Http404, services.RoomRefused):
            await self.close(code=CLOSE_REFUSED)
            return
        self.limiter = signalling.RateLimiter()
        await self.channel_layer.group_add(room_group(self.room), self.channel_name)
        await self.channel_layer.group_add(attendance_group(self.attendance.pk), self.channel_name)
        if self.session_key:
            await self.channel_layer.group_add(session_group(self.session_key), self.channel_name)
        await self.accept()
        await self.send_json(await self._welcome())
        await self._broadcast_roster()
        await self._tell_clinicians()

    def _query(self, name: str) -> str:
        from urllib.parse import parse_qs

        values = parse_qs(self.scope.get("query_string", b"").decode(errors="replace")).get(name, [""])
        return values[0][:100]

    @database_sync_to_async
    def _enter(self, device: str) -> tuple[Room, Attendance]:
        meta = self.meta
        token = self.scope["url_route"]["kwargs"].get("token")
        if token is not None:
            room = patient_link(self.scope, token).room
            return room, services.join(room=room, device=device, meta=meta, page=self.page)
        self.session_key = clinician_session(self.scope)
        user = self.scope["user"]
        appointment = policy.get_video_appointment_for(user, self.scope["url_route"]["kwargs"]["appointment_id"])
        room = services.room_for(appointment)
        return room, services.join(room=room, device=device, user=user, meta=meta, page=self.page)

    async def send_json(self, content: dict[str, Any]) -> None:
        import json

        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    @database_sync_to_async
    def _welcome(self) -> dict[str, Any]:
        assert self.attendance is not None and self.room is not None
        return {
            "type": "welcome",
            "you": str(self.attendance.public_id),
            "state": self.attendance.state,
            "role": self.attendance.role,
            "ice_servers": turn.ice_servers(str(self.attendance.public_id)),
            "ice_transport_policy": "relay" if settings.VIDEO_RELAY_ONLY else "all",
        }

    @database_sync_to_async
    def _removed(self) -> list[str]:
        """Who was removed from the room: the others let go of them at once,
        rather than waiting for them to come back as after a network drop."""
        assert self.room is not None
        rows = Attendance.objects.filter(room=self.room, state=AttendanceState.REMOVED)
        return [str(public_id) for public_id in rows.values_list("public_id", flat=True)]

    @database_sync_to_async
    def _roster(self) -> list[dict[str, Any]]:
        assert self.room is not None
        rows = Attendance.objects.filter(room=self.room).exclude(state=AttendanceState.REMOVED).select_related("user")
        with_patient = Room.objects.filter(pk=self.room.pk).values_list("patient_with_id", flat=True).first()
        patient = self.room.appointment.patient
        out = []
        for a in rows:
            page = a.presences.filter(left_at__isnull=True).order_by("-joined_at", "-pk").values_list("page", flat=True)
            if not page:
                continue
            if a.role == Role.PATIENT:
                name = patient.first_name if patient else "Patient"
            else:
                name = a.user.display_name if a.user else "Clinician"
                if a.user_id == with_patient and patient is not None:
                    name = f"{name} with {patient.first_name}"
            out.append({"id": str(a.public_id), "name": name, "role": a.role, "state": a.state, "page": page[0]})
        return out

    async def _tell_clinicians(self) -> None:
        """The appointment's clinicians see the waiting room on their "today"
        page: a cue to refresh it, with no health information."""
        for user_id in await self._clinician_ids():
            await self.channel_layer.group_send(user_group(user_id), {"type": "live.event", "event": {"kind": "video"}})

    @database_sync_to_async
    def _clinician_ids(self) -> list[int]:
        assert self.room is not None
        return list(self.room.appointment.participants.values_list("user_id", flat=True))

    async def _broadcast_roster(self) -> None:
        assert self.room is not None
        await self.channel_layer.group_send(room_group(self.room), {"type": "video.roster"})

    def _waiting(self) -> bool:
        """In the waiting room: told nothing of the call until admitted."""
        return self.attendance is not None and self.attendance.state == AttendanceState.WAITING

    async def video_roster(self, event: dict[str, Any]) -> None:
        if self._waiting():
            return
        participants = await self._roster()
        message: dict[str, Any] = {"type": "roster", "participants": participants, "removed": await self._removed()}
        assert self.attendance is not None
        if self.attendance.role == Role.CLINICIAN:
            # The patient is marked as sitting with a clinician, yet a patient
            # device is in the call too: two devices in one room echo.
            with_patient = await self._patient_with()
            message["echo"] = (
                [p["id"] for p in participants if p["role"] == Role.PATIENT and p["state"] == AttendanceState.ADMITTED]
                if with_patient
                else []
            )
        await self.send_json(message)

    @database_sync_to_async
    def _patient_with(self) -> bool:
        assert self.room is not None
        return Room.objects.filter(pk=self.room.pk, patient_with__isnull=False).exists()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = await self.read(text_data, bytes_data)
        if message is not None:
            await self._handle(message)

    async def _handle(self, message: signalling.Message) -> None:
        assert self.attendance is not None and self.room is not None
        kind, fields = message.type, message.fields
        if kind == "ping":
            await self.send_json({"type": "pong"})
            return
        state = await self._state()
        if state != AttendanceState.ADMITTED:
            return  # in the waiting room, nothing is relayed
        if kind in ("offer", "answer", "candidate"):
            target = await self._admitted_peer(str(fields["to"]))
            if target is None:
                return
            await self.channel_layer.group_send(
                attendance_group(target),
                {"type": "video.relay", "message": {**fields, "type": kind, "from": str(self.attendance.public_id)}},
            )
        elif kind == "media":
            await self.channel_layer.group_send(
                room_group(self.room),
                {
                    "type": "video.relay_all",
                    "message": {**fields, "type": kind, "from": str(self.attendance.public_id)},
                },
            )
        elif kind == "admit" and self.attendance.role == Role.CLINICIAN:
            admitted = await self._decide(str(fields["participant"]), services.admit)
            if admitted is not None:
                await self.channel_layer.group_send(attendance_group(admitted), {"type": "video.admitted"})
                await self._broadcast_roster()
                await self._tell_clinicians()
        elif kind == "remove" and self.attendance.role == Role.CLINICIAN:
            removed = await self._decide(str(fields["participant"]), services.remove)
            if removed is not None:
                await self.channel_layer.group_send(attendance_group(removed), {"type": "video.removed"})
                await self._broadcast_roster()
        elif kind == "quality":
            await self._quality(dict(fields))
        elif kind == "mute_device" and self.attendance.role == Role.CLINICIAN:
            target = await self._admitted_peer(str(fields["participant"]))
            if target is not None:
                await self.channel_layer.group_send(attendance_group(target), {"type": "video.mute"})
        elif (
            kind == "room_mode"
            and self.attendance.role == Role.CLINICIAN
            and await self._room_mode(bool(fields["with_patient"]))
        ):
            await self._broadcast_roster()

    @database_sync_to_async
    def _state(self) -> str:
        assert self.attendance is not None
        return Attendance.objects.filter(pk=self.attendance.pk).values_list("state", flat=True).first() or ""

    @database_sync_to_async
    def _admitted_peer(self, public_id: str) -> int | None:
        return (
            Attendance.objects.filter(room=self.room, public_id=public_id, state=AttendanceState.ADMITTED)
            .values_list("pk", flat=True)
            .first()
            if _is_uuid(public_id)
            else None
        )

    @database_sync_to_async
    def _decide(self, public_id: str, action: Any) -> int | None:
        """Admit or remove someone in this room, as this clinician."""
        assert self.attendance is not None and self.room is not None and self.attendance.user is not None
        if not _is_uuid(public_id):
            return None
        target = Attendance.objects.filter(room=self.room, public_id=public_id).first()
        if target is None:
            return None
        try:
            action(actor=self.attendance.user, attendance=target, meta=self.meta)
        except services.RoomRefused:
            return None
        return int(target.pk)

    @database_sync_to_async
    def _room_mode(self, with_patient: bool) -> bool:
        assert self.attendance is not None and self.room is not None and self.attendance.user is not None
        try:
            services.set_room_mode(
                actor=self.attendance.user, room=self.room, with_patient=with_patient, meta=self.meta
            )
        except services.RoomRefused:
            return False
        return True

    @database_sync_to_async
    def _quality(self, fields: dict[str, Any]) -> None:
        from django.utils import timezone

        assert self.attendance is not None
        peer = str(fields.pop("to"))
        services.record_quality(self.attendance, peer, fields, timezone.now())

    async def video_relay(self, event: dict[str, Any]) -> None:
        await self.send_json(event["message"])

    async def video_relay_all(self, event: dict[str, Any]) -> None:
        assert self.attendance is not None
        if not self._waiting() and event["message"].get("from") != str(self.attendance.public_id):
            await self.send_json(event["message"])

    async def video_admitted(self, event: dict[str, Any]) -> None:
        assert self.attendance is not None
        self.attendance.state = AttendanceState.ADMITTED
        await self.send_json({"type": "admitted"})

    async def video_left(self, event: dict[str, Any]) -> None:
        if not self._waiting():
            await self.send_json({"type": "left", "participant": event["participant"]})

    async def video_mute(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "mute"})

    async def video_removed(self, event: dict[str, Any]) -> None:
        await self.close(code=CLOSE_REMOVED)

    async def disconnect(self, code: int) -> None:
        if self.room is None or self.attendance is None:
            return
        await self.channel_layer.group_discard(room_group(self.room), self.channel_name)
        await self.channel_layer.group_discard(attendance_group(self.attendance.pk), self.channel_name)
        if self.session_key:
            await self.channel_layer.group_discard(session_group(self.session_key), self.channel_name)
        still_here = await database_sync_to_async(services.leave)(self.attendance, presence=self.attendance.presence)
        if code in CLEAN_CLOSE and not still_here:
            # The page closed its socket (a tab closed, a reload): the others
            # let go of its connection now rather than wait for it to return.
            await self.channel_layer.group_send(
                room_group(self.room), {"type": "video.left", "participant": str(self.attendance.public_id)}
            )
        await self._broadcast_roster()
        await self._tell_clinicians()


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
