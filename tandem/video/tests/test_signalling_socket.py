"""The room's WebSocket, end to end through the real ASGI application: who may
connect, the waiting room, relaying only between admitted participants, and
malformed or flooding clients disconnected while the room carries on."""

from __future__ import annotations

import datetime
import json
from collections.abc import Awaitable, Callable

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from tandem.accounts.tests.support import session_key
from tandem.asgi import application
from tandem.audit.services import RequestMeta
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, sign_in
from tandem.video import services, signalling

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
WAIT = 5
CLINICIAN_DEVICE = "clinician-device-0123456789"
PATIENT_DEVICE = "patient-device-0123456789ab"


def _visit(cast: Cast, minutes: int = 5) -> Appointment:
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    start = timezone.now() + datetime.timedelta(minutes=minutes)
    appointment = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=cast.therapist,
    )
    Participant.objects.create(
        appointment=appointment, user=cast.prescriber, starts_at=start, ends_at=appointment.ends_at
    )
    return appointment


def _socket(path: str, device: str, client: Client | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if client is not None:
        headers.append((b"cookie", f"sessionid={session_key(client)}".encode()))
    return WebsocketCommunicator(application, f"{path}?device={device}", headers=headers)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


async def _closed(socket: WebsocketCommunicator) -> int:
    """The close code, after any messages still on their way."""
    while True:
        output = await socket.receive_output(timeout=WAIT)
        if output["type"] == "websocket.close":
            return int(output["code"])


async def _until(socket: WebsocketCommunicator, kind: str) -> dict[str, object]:
    while True:
        message = await socket.receive_json_from(timeout=WAIT)
        if message["type"] == kind:
            return message


@pytest.mark.django_db(transaction=True)
def test_waiting_room_admission_and_relay(cast: Cast) -> None:
    visit = _visit(cast)
    _link, token = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
    clinician_client = sign_in(Client(), cast.prescriber)

    async def scenario() -> None:
        clinician = _socket(f"/ws/video/{visit.public_id}/", CLINICIAN_DEVICE, clinician_client)
        patient = _socket(f"/ws/video/join/{token}/", PATIENT_DEVICE)
        assert (await clinician.connect(timeout=WAIT))[0]
        welcome = await _until(clinician, "welcome")
        assert welcome["state"] == "admitted" and welcome["role"] == "clinician"
        assert (await patient.connect(timeout=WAIT))[0]
        hello = await _until(patient, "welcome")
        assert hello["state"] == "waiting"
        roster = await _until(clinician, "roster")
        while not any(p["state"] == "waiting" for p in roster["participants"]):  # type: ignore[union-attr]
            roster = await _until(clinician, "roster")
        # While waiting, nothing the patient sends is relayed.
        await patient.send_to(text_data=json.dumps({"type": "offer", "to": welcome["you"], "sdp": "v=0 waiting"}))
        await patient.send_to(text_data=json.dumps({"type": "ping"}))
        await _until(patient, "pong")  # the offer before it was handled, while waiting
        await clinician.send_to(text_data=json.dumps({"type": "admit", "participant": hello["you"]}))
        await _until(patient, "admitted")
        await patient.send_to(text_data=json.dumps({"type": "offer", "to": welcome["you"], "sdp": "v=0\r\n"}))
        relayed = await _until(clinician, "offer")  # the first offer to arrive is the one sent once admitted
        assert relayed == {"type": "offer", "to": welcome["you"], "sdp": "v=0\r\n", "from": hello["you"]}
        # A malformed client is disconnected; the room carries on.
        await patient.send_to(text_data="{not json")
        assert await _closed(patient) == signalling.CLOSE_MALFORMED
        await clinician.send_to(text_data=json.dumps({"type": "ping"}))
        await _until(clinician, "pong")
        await clinician.disconnect()
        await patient.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_oversized_and_flooding_clients_are_disconnected(cast: Cast) -> None:
    visit = _visit(cast)
    client = sign_in(Client(), cast.prescriber)

    async def scenario() -> None:
        big = _socket(f"/ws/video/{visit.public_id}/", CLINICIAN_DEVICE, client)
        assert (await big.connect(timeout=WAIT))[0]
        await _until(big, "welcome")
        await big.send_to(text_data=json.dumps({"type": "ping", "x": "y" * signalling.MAX_MESSAGE_BYTES}))
        assert await _closed(big) == signalling.CLOSE_TOO_LARGE
        flood = _socket(f"/ws/video/{visit.public_id}/", CLINICIAN_DEVICE, client)
        assert (await flood.connect(timeout=WAIT))[0]
        for _ in range(500):
            await flood.send_to(text_data='{"type":"ping"}')
        assert await _closed(flood) == signalling.CLOSE_FLOODING

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_people_who_do_not_belong_are_refused(cast: Cast) -> None:
    visit = _visit(cast)
    other = _visit(cast, minutes=50)  # the same prescriber, later
    _link, other_token = services.issue_patient_link(actor=cast.therapist, appointment=other, meta=META)
    old_link, old_token = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
    services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)  # replaces the old one
    outsider = sign_in(Client(), cast.outsider)
    therapist = sign_in(Client(), cast.therapist)  # not a participant of this appointment
    half_signed = Client()
    half_signed.force_login(cast.prescriber)  # password step only: no second factor

    async def refused(path: str, client: Client | None) -> None:
        socket = _socket(path, "someone-device-0123456789", client)
        connected, code = await socket.connect(timeout=WAIT)
        assert not connected and code == 4403, path
        await socket.disconnect()

    async def scenario() -> None:
        await refused(f"/ws/video/{visit.public_id}/", outsider)
        await refused(f"/ws/video/{visit.public_id}/", therapist)
        await refused(f"/ws/video/{visit.public_id}/", None)  # signed out
        await refused(f"/ws/video/{visit.public_id}/", half_signed)
        await refused(f"/ws/video/join/{old_token}/", None)  # replaced
        await refused("/ws/video/join/not-a-token/", None)
        await refused(f"/ws/video/{other.public_id}/", outsider)
        assert other_token  # a link for another appointment opens that room only (see test_rooms)

    run(scenario)
    assert old_link.pk


@pytest.mark.django_db(transaction=True)
def test_quality_is_logged_and_a_removed_participant_is_disconnected(cast: Cast) -> None:
    from tandem.video.models import QualitySample

    visit = _visit(cast)
    _link, token = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
    clinician_client = sign_in(Client(), cast.prescriber)

    async def scenario() -> None:
        clinician = _socket(f"/ws/video/{visit.public_id}/", CLINICIAN_DEVICE, clinician_client)
        patient = _socket(f"/ws/video/join/{token}/", PATIENT_DEVICE)
        assert (await clinician.connect(timeout=WAIT))[0]
        welcome = await _until(clinician, "welcome")
        assert (await patient.connect(timeout=WAIT))[0]
        hello = await _until(patient, "welcome")
        await clinician.send_to(text_data=json.dumps({"type": "admit", "participant": hello["you"]}))
        await _until(patient, "admitted")
        sample = {"type": "quality", "to": welcome["you"], "rtt_ms": 42.5, "loss": 0.01, "width": 640, "height": 480}
        await patient.send_to(text_data=json.dumps({**sample, "fps": 20}))
        await patient.send_to(text_data=json.dumps({**sample, "fps": 19}))  # within 10 s: not kept
        await patient.send_to(text_data=json.dumps({"type": "ping"}))
        await _until(patient, "pong")
        await clinician.send_to(text_data=json.dumps({"type": "remove", "participant": hello["you"]}))
        assert await _closed(patient) == 4410
        again = _socket(f"/ws/video/join/{token}/", PATIENT_DEVICE)
        connected, code = await again.connect(timeout=WAIT)
        assert not connected and code == 4403
        await clinician.disconnect()

    run(scenario)
    [kept] = QualitySample.objects.all()
    assert (kept.rtt_ms, kept.loss, kept.width, kept.height, kept.fps) == (42.5, 0.01, 640, 480, 20)


@pytest.mark.django_db(transaction=True)
def test_room_mode_shows_both_names_on_the_clinicians_device(cast: Cast) -> None:
    visit = _visit(cast)
    client = sign_in(Client(), cast.prescriber)

    async def scenario() -> None:
        clinician = _socket(f"/ws/video/{visit.public_id}/", CLINICIAN_DEVICE, client)
        assert (await clinician.connect(timeout=WAIT))[0]
        await _until(clinician, "welcome")
        await clinician.send_to(text_data=json.dumps({"type": "room_mode", "with_patient": True}))
        while True:
            roster = await _until(clinician, "roster")
            names = [p["name"] for p in roster["participants"]]  # type: ignore[union-attr]
            if names == ["Priya Raman, MD with Avery"]:
                break
        await clinician.send_to(text_data=json.dumps({"type": "room_mode", "with_patient": False}))
        while True:
            roster = await _until(clinician, "roster")
            if [p["name"] for p in roster["participants"]] == ["Priya Raman, MD"]:  # type: ignore[union-attr]
                break
        await clinician.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_second_device_in_room_mode_is_flagged_and_muted_in_one_click(cast: Cast) -> None:
    visit = _visit(cast)
    _link, token = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
    client = sign_in(Client(), cast.prescriber)

    async def scenario() -> None:
        clinician = _socket(f"/ws/video/{visit.public_id}/", CLINICIAN_DEVICE, client)
        assert (await clinician.connect(timeout=WAIT))[0]
        await _until(clinician, "welcome")
        await clinician.send_to(text_data=json.dumps({"type": "room_mode", "with_patient": True}))
        patient = _socket(f"/ws/video/join/{token}/", PATIENT_DEVICE)
        assert (await patient.connect(timeout=WAIT))[0]
        hello = await _until(patient, "welcome")
        await clinician.send_to(text_data=json.dumps({"type": "admit", "participant": hello["you"]}))
        await _until(patient, "admitted")
        while True:
            roster = await _until(clinician, "roster")
            if roster["echo"] == [hello["you"]]:
                break
        await clinician.send_to(text_data=json.dumps({"type": "mute_device", "participant": hello["you"]}))
        await _until(patient, "mute")
        # The patient's own device cannot mute anyone.
        await patient.send_to(text_data=json.dumps({"type": "mute_device", "participant": hello["you"]}))
        await patient.send_to(text_data=json.dumps({"type": "ping"}))
        seen = []
        while not seen or seen[-1] != "pong":
            seen.append((await patient.receive_json_from(timeout=WAIT))["type"])
        assert "mute" not in seen
        await clinician.disconnect()
        await patient.disconnect()

    run(scenario)


People = list[dict[str, str]]


async def _roster_with(socket: WebsocketCommunicator, check: Callable[[People], bool]) -> People:
    while True:
        roster = await _until(socket, "roster")
        people = roster["participants"]
        assert isinstance(people, list)
        if check(people):
            return people


@pytest.mark.django_db(transaction=True)
def test_a_reconnect_keeps_the_place_a_reload_and_a_clean_close_let_go(cast: Cast) -> None:
    """A socket that drops and comes back from the same page keeps its
    connection; a reloaded page (a new page id) or a closed tab is let go at
    once; the waiting room hears nothing of the call."""
    from tandem.video.models import Presence

    visit = _visit(cast)
    _link, token = services.issue_patient_link(actor=cast.therapist, appointment=visit, meta=META)
    client = sign_in(Client(), cast.prescriber)
    room = f"/ws/video/{visit.public_id}/"

    def patient_socket(page: str) -> WebsocketCommunicator:
        return _socket(f"/ws/video/join/{token}/", f"{PATIENT_DEVICE}&page={page}")

    async def scenario() -> None:
        clinician = _socket(room, f"{CLINICIAN_DEVICE}&page=clinicianpage1", client)
        assert (await clinician.connect(timeout=WAIT))[0]
        me = (await _until(clinician, "welcome"))["you"]
        patient = patient_socket("patientpage1")
        assert (await patient.connect(timeout=WAIT))[0]
        hello = await _until(patient, "welcome")
        # The waiting patient gets no roster, however often it changes.
        await clinician.send_to(text_data=json.dumps({"type": "room_mode", "with_patient": False}))
        await patient.send_to(text_data=json.dumps({"type": "ping"}))
        assert (await patient.receive_json_from(timeout=WAIT))["type"] == "pong"
        await clinician.send_to(text_data=json.dumps({"type": "admit", "participant": hello["you"]}))
        await _until(patient, "admitted")
        people = await _roster_with(patient, lambda ps: len(ps) == 2)
        assert {p["page"] for p in people} == {"clinicianpage1", "patientpage1"}

        # The network drops: the same page reconnects before the old socket is
        # seen to close. The new stretch of presence survives the old close.
        again = patient_socket("patientpage1")
        assert (await again.connect(timeout=WAIT))[0]
        assert (await _until(again, "welcome"))["you"] == hello["you"]
        await patient.disconnect(code=1006)
        people = await _roster_with(clinician, lambda ps: len(ps) == 2)
        assert any(p["id"] == hello["you"] and p["page"] == "patientpage1" for p in people)
        assert await Presence.objects.filter(attendance__public_id=hello["you"], left_at__isnull=True).acount() == 1

        # The tab closes: the clinician is told to let go at once.
        await again.disconnect(code=1001)
        left = await _until(clinician, "left")
        assert left == {"type": "left", "participant": hello["you"]}
        await _roster_with(clinician, lambda ps: [p["id"] for p in ps] == [me])

        # A reload: a new page id on the same place.
        reloaded = patient_socket("patientpage2")
        assert (await reloaded.connect(timeout=WAIT))[0]
        assert (await _until(reloaded, "welcome"))["state"] == "admitted"
        people = await _roster_with(clinician, lambda ps: len(ps) == 2)
        assert any(p["id"] == hello["you"] and p["page"] == "patientpage2" for p in people)
        await reloaded.disconnect()
        await clinician.disconnect()

    run(scenario)
