"""The pre-call check: its two pages (any signed-in clinician's, and the
patient's through their link, with the link's refusals and date-of-birth
step), the ICE servers they hand out, and the check socket, which answers
pings and joins nothing."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.sessions import close_session_sockets
from tandem.accounts.tests.support import session_key
from tandem.asgi import application
from tandem.audit.models import AuditEvent
from tandem.audit.services import RequestMeta
from tandem.scheduling.models import Appointment, Participant
from tandem.scheduling.services import ensure_types
from tandem.test import Cast, sign_in
from tandem.video import services, signalling
from tandem.video.models import Attendance, PatientLink, Presence

META = RequestMeta(ip_address="127.0.0.1", user_agent="test")
WAIT = 5
SECRET = "check-secret-shared-with-coturn"
CHECK = "/video/check/"
ICE = re.compile(r'<script id="precheck-ice-servers" type="application/json">(.*?)</script>', re.DOTALL)


def _visit(cast: Cast, minutes: int = 5) -> Appointment:
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    start = timezone.now() + datetime.timedelta(minutes=minutes)
    visit = Appointment.objects.create(
        organization=cast.northstar,
        appointment_type=kind,
        patient=cast.patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        modality="video_home",
        created_by=cast.therapist,
    )
    Participant.objects.create(appointment=visit, user=cast.prescriber, starts_at=start, ends_at=visit.ends_at)
    return visit


def _token(cast: Cast, *, minutes: int = 5, needs_date_of_birth: bool = False) -> tuple[PatientLink, str]:
    return services.issue_patient_link(
        actor=cast.prescriber,
        appointment=_visit(cast, minutes),
        meta=META,
        needs_date_of_birth=needs_date_of_birth,
    )


def _ice_servers(html: str) -> list[dict[str, object]]:
    found = ICE.search(html)
    assert found is not None, "the page carries no ICE servers"
    servers = json.loads(found.group(1))
    assert isinstance(servers, list)
    return servers


def _nothing_kept() -> None:
    assert not Attendance.objects.exists()
    assert not Presence.objects.exists()


# -- The pages ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_any_signed_in_clinician_may_run_the_check(cast: Cast) -> None:
    signed_out = Client().get(CHECK)
    assert signed_out.status_code == 302 and signed_out["Location"].startswith(reverse("accounts:sign_in"))
    before = AuditEvent.objects.count()
    for who in ["therapist", "prescriber", "outsider", "unrelated"]:
        page = sign_in(Client(), cast.everyone()[who]).get(CHECK)
        assert page.status_code == 200, who
        html = page.content.decode()
        assert 'data-socket="/ws/video/check/"' in html
        assert "tandem/js/precheck.js" in html and "<script>" not in html and " onclick=" not in html
        for name in ["camera", "microphone", "speaker", "signalling", "relay"]:
            assert f'data-check="{name}"' in html
        assert 'role="status"' in html and "Play a test sound" in html and "I heard it" in html
        assert f'href="{reverse("home:today")}">Back to Today<' in html
        assert "no-store" in page["Cache-Control"]
    # No patient data, nothing kept: not audited.
    assert AuditEvent.objects.count() == before
    _nothing_kept()


@pytest.mark.django_db
def test_the_clinicians_check_leads_back_to_a_room_and_nowhere_else(cast: Cast) -> None:
    visit = _visit(cast)
    client = sign_in(Client(), cast.prescriber)
    room = reverse("video:room", args=[visit.public_id])
    back = client.get(CHECK, {"next": room}).content.decode()
    assert f'href="{room}">Back to the video visit<' in back
    for elsewhere in [
        "https://evil.example/appointments/x/video/",
        "//evil.example" + room,
        "/\\evil.example" + room,
        reverse("patients:list"),
        "/no/such/page/",
        "",
    ]:
        html = client.get(CHECK, {"next": elsewhere}).content.decode()
        assert "Back to the video visit" not in html and "Back to Today" in html, elsewhere


@pytest.mark.django_db
def test_the_page_carries_fresh_turn_credentials_for_an_opaque_reference(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.STUN_URLS = ["stun:turn.example.org:3478"]
    settings.TURN_URLS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]
    settings.TURN_SECRET = SECRET
    client = sign_in(Client(), cast.prescriber)
    first = client.get(CHECK).content.decode()
    stun, turn = _ice_servers(first)
    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert turn["urls"] == settings.TURN_URLS
    username = str(turn["username"])
    expected = base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    expiry, ref = username.split(":", 1)
    assert int(expiry) > timezone.now().timestamp()
    # A random reference that names nobody, and each page gets its own.
    assert re.fullmatch(r"check-[A-Za-z0-9_-]{16}", ref)
    assert _ice_servers(client.get(CHECK).content.decode())[1]["username"] != username
    assert 'data-check="direct"' in first  # STUN is configured: the direct-connection check is shown

    settings.STUN_URLS = []
    settings.TURN_URLS = []
    settings.TURN_SECRET = ""
    bare = client.get(CHECK).content.decode()
    assert _ice_servers(bare) == []
    assert 'data-check="direct"' not in bare and 'data-check="relay"' in bare  # the page warns instead


@pytest.mark.django_db
def test_the_patients_check_follows_the_links_rules(cast: Cast) -> None:
    link, token = _token(cast)
    path = reverse("video:patient_check", args=[token])
    assert path == f"/video/join/{token}/check/"
    before = AuditEvent.objects.count()
    page = Client().get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-socket="/ws/video/join/{token}/check/"' in html
    assert f'href="{reverse("video:patient", args=[token])}">Back to your visit<' in html
    assert "no-store" in page["Cache-Control"]
    # Nothing about the patient or the visit is shown, and nothing is audited or kept.
    for private in [cast.patient.first_name, cast.patient.last_name, "med_management", "Medication"]:
        assert private not in html
    assert AuditEvent.objects.count() == before
    _nothing_kept()

    assert Client().get("/video/join/not-a-real-token/check/").status_code == 404
    # Before the room opens is when the check helps most.
    _early, early_token = _token(cast, minutes=180)
    assert Client().get(reverse("video:patient_check", args=[early_token])).status_code == 200

    with time_machine.travel(link.expires_at + datetime.timedelta(minutes=1)):
        expired = Client().get(path)
    assert expired.status_code == 410 and "This link has expired" in expired.content.decode()
    services.issue_patient_link(actor=cast.prescriber, appointment=link.room.appointment, meta=META)
    replaced = Client().get(path)
    assert replaced.status_code == 410 and "replaced by a newer one" in replaced.content.decode()


@pytest.mark.django_db
def test_the_patients_check_asks_for_the_date_of_birth_when_the_link_does(cast: Cast) -> None:
    _link, token = _token(cast, needs_date_of_birth=True)
    path = reverse("video:patient_check", args=[token])
    patient = Client()
    ask = patient.get(path)
    assert ask.status_code == 200 and "Your date of birth" in ask.content.decode()
    assert "data-socket" not in ask.content.decode() and "precheck-ice-servers" not in ask.content.decode()
    wrong = patient.post(path, {"date_of_birth": "1990-01-01"})
    assert wrong.status_code == 400 and "does not match" in wrong.content.decode()
    right = patient.post(path, {"date_of_birth": cast.patient.date_of_birth.isoformat()})
    assert right.status_code == 200 and f"/ws/video/join/{token}/check/" in right.content.decode()
    assert patient.get(path).status_code == 200  # remembered for this browser
    # The same answer opens the room page: one step per browser, not one per page.
    assert "/ws/video/join/" in patient.get(reverse("video:patient", args=[token])).content.decode()


@pytest.mark.django_db
def test_wrong_dates_on_the_check_page_lock_the_link(cast: Cast) -> None:
    _link, token = _token(cast, needs_date_of_birth=True)
    path = reverse("video:patient_check", args=[token])
    patient = Client()
    for _ in range(services.DATE_OF_BIRTH_TRIES - 1):
        assert patient.post(path, {"date_of_birth": "2001-02-03"}).status_code == 400
    locked = patient.post(path, {"date_of_birth": "2001-02-03"})
    assert locked.status_code == 410 and "locked" in locked.content.decode()
    assert patient.get(reverse("video:patient", args=[token])).status_code == 410


# The session, its user and the layout's memberships (three), and the session's
# save when its idle clock moves (up to three more on PostgreSQL, with the
# savepoint around it). The check reads no patient, appointment or
# organization data: nothing here grows with the rows in the database.
CLINICIAN_CHECK_BUDGET = 6
# The link with its room and appointment, and the session that remembers the
# date of birth.
PATIENT_CHECK_BUDGET = 2


@pytest.mark.django_db
def test_the_check_pages_stay_within_their_query_budgets(cast: Cast, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = sign_in(Client(), cast.prescriber)
    for _ in range(2):
        with django_assert_max_num_queries(CLINICIAN_CHECK_BUDGET):
            assert client.get(CHECK).status_code == 200
    _link, token = _token(cast, needs_date_of_birth=True)
    path = reverse("video:patient_check", args=[token])
    patient = Client()
    patient.post(path, {"date_of_birth": cast.patient.date_of_birth.isoformat()})
    with django_assert_max_num_queries(PATIENT_CHECK_BUDGET):
        assert patient.get(path).status_code == 200


# -- The socket --------------------------------------------------------------------------------


def _socket(path: str, client: Client | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    key = session_key(client) if client is not None else None
    if key:
        headers.append((b"cookie", f"sessionid={key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


async def _pong(socket: WebsocketCommunicator) -> None:
    await socket.send_to(text_data=json.dumps({"type": "ping"}))
    assert await socket.receive_json_from(timeout=WAIT) == {"type": "pong"}


async def _closed(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=WAIT)
    while output["type"] != "websocket.close":
        output = await socket.receive_output(timeout=WAIT)
    return int(output["code"])


@pytest.mark.django_db(transaction=True)
def test_the_check_socket_answers_pings_and_joins_nothing(cast: Cast) -> None:
    _link, token = _token(cast)
    clinician = sign_in(Client(), cast.outsider)  # any clinician: the check is no patient's
    before = AuditEvent.objects.count()

    async def scenario() -> None:
        for path, client in [("/ws/video/check/", clinician), (f"/ws/video/join/{token}/check/", None)]:
            socket = _socket(path, client)
            assert (await socket.connect(timeout=WAIT))[0], path
            for _ in range(3):
                await _pong(socket)
            assert await socket.receive_nothing(timeout=0.2)  # no welcome, no roster: no room
            await socket.disconnect()

    run(scenario)
    assert AuditEvent.objects.count() == before
    _nothing_kept()


@pytest.mark.django_db(transaction=True)
def test_the_check_socket_refuses_who_may_not_check(cast: Cast) -> None:
    # Three visits one after another, all with their rooms open (one prescriber
    # is never booked twice at once).
    expired_link, expired_token = _token(cast)
    PatientLink.objects.filter(pk=expired_link.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    old_link, old_token = _token(cast, minutes=-30)
    services.issue_patient_link(actor=cast.prescriber, appointment=old_link.room.appointment, meta=META)
    _dob_link, dob_token = _token(cast, minutes=-65, needs_date_of_birth=True)
    half_signed = Client()
    half_signed.force_login(cast.prescriber)  # the password step only: no second factor
    signed_out = sign_in(Client(), cast.prescriber)
    signed_out.post(reverse("accounts:sign_out"))

    async def refused(path: str, client: Client | None = None) -> None:
        socket = _socket(path, client)
        connected, code = await socket.connect(timeout=WAIT)
        assert not connected and code == 4403, path
        await socket.disconnect()

    async def scenario() -> None:
        await refused("/ws/video/check/")
        await refused("/ws/video/check/", half_signed)
        await refused("/ws/video/check/", signed_out)
        await refused("/ws/video/join/not-a-real-token/check/")
        await refused(f"/ws/video/join/{expired_token}/check/")
        await refused(f"/ws/video/join/{old_token}/check/")  # replaced
        await refused(f"/ws/video/join/{dob_token}/check/")  # the date of birth is not confirmed

    run(scenario)
    _nothing_kept()


@pytest.mark.django_db(transaction=True)
def test_a_confirmed_date_of_birth_opens_the_check_socket(cast: Cast) -> None:
    _link, token = _token(cast, needs_date_of_birth=True)
    patient = Client()
    path = reverse("video:patient_check", args=[token])
    assert patient.post(path, {"date_of_birth": cast.patient.date_of_birth.isoformat()}).status_code == 200

    async def scenario() -> None:
        socket = _socket(f"/ws/video/join/{token}/check/", patient)
        assert (await socket.connect(timeout=WAIT))[0]
        await _pong(socket)
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_bad_frames_close_the_check_socket(cast: Cast) -> None:
    _link, token = _token(cast)
    path = f"/ws/video/join/{token}/check/"
    someone = "3f1c9a2e-7b4d-4e8a-9c1f-0a2b3c4d5e6f"

    async def closes(frames: list[str], code: int) -> None:
        socket = _socket(path)
        assert (await socket.connect(timeout=WAIT))[0]
        for frame in frames:
            await socket.send_to(text_data=frame)
        assert await _closed(socket) == code, frames[0][:40]

    async def scenario() -> None:
        await closes(["{not json"], signalling.CLOSE_MALFORMED)
        await closes([json.dumps({"type": "ping", "extra": 1})], signalling.CLOSE_MALFORMED)
        await closes([json.dumps({"type": "pong"})], signalling.CLOSE_MALFORMED)
        # Valid in a room, but this socket relays nothing.
        await closes([json.dumps({"type": "offer", "to": someone, "sdp": "v=0\r\n"})], signalling.CLOSE_MALFORMED)
        await closes([json.dumps({"type": "media", "audio": True, "video": True, "screen": False})], 4400)
        await closes(
            [json.dumps({"type": "ping", "x": "y" * signalling.MAX_MESSAGE_BYTES})], signalling.CLOSE_TOO_LARGE
        )
        await closes(['{"type":"ping"}'] * 500, signalling.CLOSE_FLOODING)

    run(scenario)
    _nothing_kept()


@pytest.mark.django_db(transaction=True)
def test_signing_out_closes_a_clinicians_check_socket(cast: Cast) -> None:
    client = sign_in(Client(), cast.therapist)
    key = session_key(client)

    async def scenario() -> None:
        socket = _socket("/ws/video/check/", client)
        assert (await socket.connect(timeout=WAIT))[0]
        await _pong(socket)
        from asgiref.sync import sync_to_async

        await sync_to_async(close_session_sockets)(key, "signed_out")
        assert await _closed(socket) == 4401

    run(scenario)
