"""Video call setup: from both people being in the room to the first remote
frame, through Tandem's server, against two RTCPeerConnections in one page.

    python bench/video.py [--runs 15] [--warmup 1] [--json PATH] [--keep]

Everything runs inside a network namespace that has only loopback: WebRTC media
must never reach the machine's own network interface. When the script is not
already in one (its only interface is ``lo``), it re-executes itself under
``unshare -n`` (as root) or ``unshare -rn`` (otherwise) after ``ip link set lo
up``. Services outside the namespace are out of reach there, so the server
uses SQLite in the run directory and the in-memory channel layer, in one
process.

Two arms run in the same browser, in the same run, interleaved run by run
(the order alternates) after one unmeasured warm-up run of each:

* **Tandem.** ``tandem serve`` (uvicorn, ``tandem.asgi``, one process) on a free
  127.0.0.1 port with production settings (``bench.settings``, as ``bench/load.py``
  serves them: no debug, plain HTTP on loopback). Each run is its own visit:
  a prescriber, a patient, a video appointment between them and the patient's
  link, made up front with a session signed in as Tandem's sign-in leaves it
  (``bench/generate.py``), so runs share no room. Static files are collected
  into the run directory, hashed and compressed as production serves them.
  Per run, two fresh browser contexts: the prescriber opens the room page and
  their camera starts; the patient opens their link and waits; the
  prescriber clicks "Let <name> in". The clock starts at that click (both
  people are in) and stops at the first remote frame on each side; the call
  is up when both have one. The patient's camera starts only once admitted,
  so its start-up is inside the figure, as it is for a real patient.
* **Floor.** One page, no server (its HTML is served by the bench through a
  Playwright route): two cameras opened first, then two RTCPeerConnections
  connected directly, the offer, the answer and the ICE candidates passed
  in-page. The clock starts at the offer and stops at the first remote frame
  on each side. It is what any WebRTC call costs in this browser on this
  machine; the ratio of the two medians is what Tandem adds to it.

How a frame is timed: ``requestVideoFrameCallback`` on the remote ``<video>``,
registered when the element appears (a MutationObserver installed before the
page's own scripts), reading the frame's ``presentationTime``: the moment the
first decoded frame was handed to the compositor, with no polling interval
and no ``getStats()`` traffic on a two-core machine. Each side's mark is
``performance.timeOrigin + t``, so marks from the prescriber's and the
patient's pages share one clock. After the marks, each Tandem run is checked
against the app's own witness, ``window.tandemRoom.framesDecoded()`` (over 0),
and every connection's selected ICE pair must be on loopback. The same script
also marks, without changing the page: the patient's camera asked for and
ready, the first connection ``connected``, and when the admit button
appeared (the click comes from Playwright, so click minus appearance is the
bench's own reaction, reported apart from the figures).

Reported per arm: n, median, p10, p90, min and max in ms (``statistics.quantiles``,
inclusive), for both sides up and for each side; the ratio Tandem / floor of
the two medians; the peak memory of this process (``ru_maxrss``), of the
server (sampled RSS and its own ``VmHWM``) and of Chromium (RSS of all its
processes summed at one instant, sampled every 250 ms); and the CPU other
processes took during each run. JSON goes to ``bench/results/video-<stamp>.json``
and a table is printed. The run directory, ``var/bench/<stamp>-video-*``, is
removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import importlib.metadata
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import (
    OTHER_CORES_WARNING,
    _busy_jiffies,
    _process_jiffies,
    _pss_kib,
    _rss_kib,
    _status_kib,
    _tandem_commit,
    free_port,
    unwind_on_sigterm,
    wait_for_quiet,
)
from bench.manifest import REPO, RESULTS_DIR, RUNS_DIR, tandem_env
from tandem.lib.chromium import CHROMIUM, CHROMIUM_ARGS  # the browser suite's flags

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

HOST = "127.0.0.1"

# Set on the re-executed process, so a namespace that still shows other
# interfaces fails instead of re-executing for ever.
NAMESPACE_MARK = "TANDEM_BENCH_VIDEO_NETNS"
DEFAULT_RUNS = 15
DEFAULT_TIMEOUT = 20
SERVER_START_SECONDS = 30
SAMPLE_SECONDS = 0.25
ADMIT_BUTTON = re.compile(r"^Let .+ in$")
# The floor page's address: answered by a Playwright route, never by a server.
# An http://127.0.0.1 origin is a secure context, so getUserMedia is there.
FLOOR_URL = f"http://{HOST}/bench-video-floor"
# Static files the room pages never load: the admin's, and the htmx builds and
# extensions other than htmx-2.min.js. A page asking for one would fail loudly.
STATIC_LEFT_OUT = [
    "admin",
    "django_htmx/ext/*",
    "django_htmx/htmx-4*",
    "django_htmx/htmax-*",
    "django_htmx/htmx-2.js",
    "django_htmx/django-htmx.js",
]
VISIT_NAMES = [
    ("Ada", "Moreno"),
    ("Ben", "Okafor"),
    ("Clara", "Nguyen"),
    ("Dev", "Raman"),
    ("Elena", "Fischer"),
    ("Farid", "Haddad"),
    ("Grace", "Tanaka"),
    ("Hugo", "Lindqvist"),
]


# --- The loopback-only network namespace ---------------------------------------------------


def interfaces() -> list[str]:
    return sorted(name for _index, name in socket.if_nameindex())


def in_loopback_namespace() -> bool:
    return interfaces() == ["lo"]


def _loopback_is_up() -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
    except OSError:
        return False
    return True


def _tool(name: str) -> str:
    # ``ip`` lives in /usr/sbin, which a non-root PATH may lack.
    path = shutil.which(name) or shutil.which(name, path=os.pathsep.join(["/usr/sbin", "/sbin"]))
    if path is None:
        raise SystemExit(f"bench/video.py needs `{name}` to make a loopback-only network namespace")
    return path


def ensure_loopback_namespace(argv: list[str]) -> None:
    """Return when this process sees only loopback; otherwise re-execute this
    script inside a new network namespace with only ``lo``, up."""
    if in_loopback_namespace():
        if not _loopback_is_up():
            raise SystemExit("The network namespace has lo, but it is down: run `ip link set lo up` first.")
        return
    if os.environ.get(NAMESPACE_MARK) == "1":
        raise SystemExit(f"Still not in a loopback-only network namespace (interfaces: {', '.join(interfaces())})")
    unshare, ip = _tool("unshare"), _tool("ip")
    flags = "-n" if os.geteuid() == 0 else "-rn"
    command = [unshare, flags, "sh", "-c", 'ip="$1"; shift; "$ip" link set lo up && exec "$@"', "sh", ip]
    command += [sys.executable, str(Path(__file__).resolve()), *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(unshare, command, {**os.environ, NAMESPACE_MARK: "1"})


# --- The visits (a child process with Django, so its memory is not ours) -------------------


def seed_visits(run_dir: Path, count: int) -> None:
    """Migrate the run's database and make ``count`` independent video visits,
    each with its own prescriber (signed in) and patient. Writes visits.json."""
    import django

    django.setup()  # the parent passed the run's TANDEM_* environment

    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from bench.generate import _peak_rss_mib, _signed_in_session
    from tandem.audit.services import SYSTEM
    from tandem.organizations.models import Membership, Role
    from tandem.patients.models import CareTeamMember, CareTeamRole
    from tandem.scheduling.models import Appointment, Participant
    from tandem.scheduling.services import ensure_types
    from tandem.test import build_cast, make_patient, make_user
    from tandem.video.services import issue_patient_link

    call_command("migrate", verbosity=0, interactive=False)
    # Hashed, compressed static files in the run directory, as production
    # serves them; edits to the source tree during a run cannot reach the
    # pages. Files no page here loads are left out (compressing them took
    # most of the time).
    call_command("collectstatic", verbosity=0, interactive=False, ignore_patterns=STATIC_LEFT_OUT)
    cast = build_cast()
    kind = next(t for t in ensure_types(cast.northstar) if t.kind == "med_management")
    # The room opens 15 minutes before the start and closes an hour after the end.
    start = timezone.now() + datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(minutes=30)
    visits = []
    for i in range(count):
        first, last = VISIT_NAMES[i % len(VISIT_NAMES)]
        # One prescriber per visit: a clinician's visits may not overlap.
        prescriber = make_user(f"prescriber{i}@northstar.bench.example", f"Rae {last} {i}", "MD")
        Membership.objects.create(user=prescriber, organization=cast.northstar, role=Role.PRESCRIBER)
        patient = make_patient(cast.riverbend, first, last, f"RB-V{i:05d}", cast.payer)
        for user, org, role in (
            (cast.therapist, cast.riverbend, CareTeamRole.PRIMARY_THERAPIST),
            (prescriber, cast.northstar, CareTeamRole.PRESCRIBER),
        ):
            CareTeamMember.objects.create(
                patient=patient, user=user, organization=org, role=role, starts_on=datetime.date(2024, 1, 1)
            )
        visit = Appointment.objects.create(
            organization=cast.northstar,
            appointment_type=kind,
            patient=patient,
            starts_at=start,
            ends_at=end,
            modality="video_home",
            created_by=cast.therapist,
        )
        Participant.objects.create(appointment=visit, user=prescriber, starts_at=start, ends_at=end)
        _link, token = issue_patient_link(actor=prescriber, appointment=visit, meta=SYSTEM)
        visits.append(
            {
                "appointment": str(visit.public_id),
                "token": token,
                "session_key": _signed_in_session(prescriber),
                "patient_first_name": patient.first_name,
            }
        )
    path = run_dir / "visits.json"
    path.write_text(json.dumps({"session_cookie_name": settings.SESSION_COOKIE_NAME, "visits": visits}) + "\n")
    path.chmod(0o600)  # live sessions and patient links
    print(json.dumps({"peak_rss_mib": _peak_rss_mib()}))


# --- The server ---------------------------------------------------------------------------


class Server:
    """``tandem serve`` (uvicorn, ``tandem.asgi``) with the bench settings, on loopback."""

    def __init__(self, env: dict[str, str], run_dir: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = run_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "tandem.cli", "serve", "--host", HOST, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"tandem serve exited with {self.process.returncode}:\n{self.log_tail()}")
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"tandem serve did not answer within {SERVER_START_SECONDS} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            conn.request("GET", "/bench/trivial")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def peak_rss_mib(self) -> float:
        """The server's own high-water mark (VmHWM), read while it still runs."""
        return round(_status_kib(self.process.pid, "VmHWM") / 1024, 1) if self.process else 0.0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)  # only the process this script started
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


# --- Processes: memory and CPU --------------------------------------------------------------


def _parents() -> dict[int, int]:
    """pid -> parent pid, for every process in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    return parents


def _descendants(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class Processes(threading.Thread):
    """Samples the memory of the server and of the browser (Playwright's driver
    and Chromium under it), each summed over its processes at one instant."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server_pid = 0
        self.peak_kib = {"server": 0, "chromium": 0, "driver": 0}
        self.largest_chromium_hwm_kib = 0
        self.chromium_processes = 0
        self.chromium_pss_kib = 0
        self._stop_event = threading.Event()

    def groups(self) -> dict[str, list[int]]:
        parents = _parents()
        me = os.getpid()
        server = [self.server_pid, *_descendants(self.server_pid, parents)] if self.server_pid else []
        drivers = [p for p, parent in parents.items() if parent == me and p not in server]
        chromium = [c for d in drivers for c in _descendants(d, parents)]
        return {"server": server, "driver": drivers, "chromium": chromium}

    def sample(self) -> None:
        groups = self.groups()
        for name, pids in groups.items():
            self.peak_kib[name] = max(self.peak_kib[name], sum(_rss_kib(p) for p in pids))
        for pid in groups["chromium"]:
            self.largest_chromium_hwm_kib = max(self.largest_chromium_hwm_kib, _status_kib(pid, "VmHWM"))
        self.chromium_processes = max(self.chromium_processes, len(groups["chromium"]))

    def call_is_up(self) -> None:
        """Chromium's proportional set size while a call is up (both sides
        showing video): shared pages counted once, which a sum of RSS does not."""
        pss = sum(_pss_kib(pid) for pid in self.groups()["chromium"])
        self.chromium_pss_kib = max(self.chromium_pss_kib, pss)

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_SECONDS):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join()


class CpuWindow:
    """Cores that processes other than this bench (itself, the server, the
    driver, Chromium) took while one run went on: on two cores, someone else's
    test suite shows directly in the figures."""

    def __init__(self) -> None:
        self.hz = os.sysconf("SC_CLK_TCK")
        self.started = time.monotonic()
        self.machine = _busy_jiffies()
        self.ours = self._ours()

    def _ours(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
        # A live process's own time plus that of the children it has reaped
        # (Chromium's closed renderers end up in their parent's total).
        live = sum(_process_jiffies(p, reaped_children=True) for p in _descendants(os.getpid(), _parents()))
        return seconds * self.hz + live

    def others_cores(self) -> float:
        seconds = time.monotonic() - self.started
        others = max(0.0, (_busy_jiffies() - self.machine) - (self._ours() - self.ours))
        return round(others / (self.hz * seconds), 2) if seconds > 0 else 0.0


# --- In the pages ---------------------------------------------------------------------------

# Reads the selected ICE pair of each connection: every one must be on loopback.
SELECTED_ADDRESSES_JS = """
async function benchSelectedAddresses(pcs) {
  const found = [];
  for (const pc of pcs) {
    if (pc.connectionState === "closed") { continue; }
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) {
        for (const id of [s.localCandidateId, s.remoteCandidateId]) {
          const c = report.get(id);
          if (c) { found.push(c.address || c.ip || ""); }
        }
      }
    });
  }
  return found;
}
"""

# Installed in the room pages before their own scripts. It only watches: the
# first frame of a remote <video>, the camera, the first connected
# connection, the admit button and its click; room.js is not changed.
INSTRUMENT_JS = (
    SELECTED_ADDRESSES_JS
    + """
(() => {
  if (window.__tandemBench) { return; }
  const now = () => performance.timeOrigin + performance.now();
  const b = {
    opened: performance.timeOrigin, buttonShown: null, admitClick: null, cameraAsked: null,
    cameraReady: null, connected: null, firstFrame: null, frameWidth: 0,
  };
  const pcs = [];
  window.__tandemBench = b;
  window.__tandemBenchAddresses = () => benchSelectedAddresses(pcs);
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const open = md.getUserMedia.bind(md);
    md.getUserMedia = (constraints) => {
      if (b.cameraAsked === null) { b.cameraAsked = now(); }
      return open(constraints).then((stream) => {
        if (b.cameraReady === null) { b.cameraReady = now(); }
        return stream;
      });
    };
  }
  const Native = window.RTCPeerConnection;
  if (Native) {
    const Watched = function (config) {
      const pc = new Native(config);
      pcs.push(pc);
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "connected" && b.connected === null) { b.connected = now(); }
      });
      return pc;
    };
    Watched.prototype = Native.prototype;
    window.RTCPeerConnection = Watched;
  }
  document.addEventListener("click", (event) => {
    const target = event.target;
    if (b.admitClick === null && target && target.closest && target.closest("#waiting-list button")) {
      b.admitClick = now();
    }
  }, true);
  const watch = (video) => {
    if (video.__tandemBenchWatched || typeof video.requestVideoFrameCallback !== "function") { return; }
    video.__tandemBenchWatched = true;
    video.requestVideoFrameCallback((_at, frame) => {
      if (b.firstFrame !== null) { return; }
      b.firstFrame = performance.timeOrigin + frame.presentationTime;
      b.frameWidth = frame.width;
    });
  };
  new MutationObserver(() => {
    document.querySelectorAll("#remote-videos video").forEach(watch);
    if (b.buttonShown === null && document.querySelector("#waiting-list button")) { b.buttonShown = now(); }
  }).observe(document, { childList: true, subtree: true });
})();
"""
)

FLOOR_HTML = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Video floor</title></head>
<body>
<video id="offerer" autoplay playsinline></video>
<video id="answerer" autoplay playsinline></video>
<script>
"""
    + SELECTED_ADDRESSES_JS
    + """
// Two peers in one page, signalled directly. Candidates wait until the
// other side has its remote description, as a signalling channel would
// deliver them in order.
window.floorRun = async (timeoutMs) => {
  const now = () => performance.timeOrigin + performance.now();
  const r = {};
  let t = now();
  const streamA = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  r.camera_ms = now() - t;
  const streamB = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const a = new RTCPeerConnection({ iceServers: [] });
  const b = new RTCPeerConnection({ iceServers: [] });
  const marks = {};
  const deliver = (to) => {
    const queue = [];
    let ready = false;
    return {
      add: (c) => (ready ? to.addIceCandidate(c) : queue.push(c)),
      open: async () => { ready = true; for (const c of queue.splice(0)) { await to.addIceCandidate(c); } },
    };
  };
  const toA = deliver(a), toB = deliver(b);
  a.addEventListener("icecandidate", (e) => toB.add(e.candidate));
  b.addEventListener("icecandidate", (e) => toA.add(e.candidate));
  const firstFrame = (pc, video, side) => new Promise((resolve) => {
    pc.addEventListener("track", (e) => { if (video.srcObject !== e.streams[0]) { video.srcObject = e.streams[0]; } });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected" && marks.connected === undefined) { marks.connected = now(); }
    });
    video.requestVideoFrameCallback((_at, frame) => {
      marks[side] = performance.timeOrigin + frame.presentationTime;
      resolve();
    });
  });
  const frames = Promise.all([
    firstFrame(a, document.getElementById("offerer"), "offerer"),
    firstFrame(b, document.getElementById("answerer"), "answerer"),
  ]);
  streamA.getTracks().forEach((track) => a.addTrack(track, streamA));
  streamB.getTracks().forEach((track) => b.addTrack(track, streamB));
  let timer;
  const late = new Promise((_ok, fail) => {
    timer = setTimeout(() => fail(new Error("no first frame on both sides within " + timeoutMs + " ms")), timeoutMs);
  });
  const t0 = now();
  try {
    await Promise.race([(async () => {
      await a.setLocalDescription();
      await b.setRemoteDescription(a.localDescription);
      await toB.open();
      await b.setLocalDescription();
      await a.setRemoteDescription(b.localDescription);
      await toA.open();
      await frames;
    })(), late]);
    r.offerer_ms = marks.offerer - t0;
    r.answerer_ms = marks.answerer - t0;
    r.connected_ms = marks.connected - t0;
    r.addresses = await benchSelectedAddresses([a, b]);
  } finally {
    clearTimeout(timer);
  }
  // The call stays up until the bench has read Chromium's memory; closing
  // the context ends it.
  window.floorResult = r;
};
</script>
</body></html>
"""
)

MARKS_JS = """() => {
  const b = window.__tandemBench;
  return {
    opened: b.opened, buttonShown: b.buttonShown, admitClick: b.admitClick, cameraAsked: b.cameraAsked,
    cameraReady: b.cameraReady, connected: b.connected, firstFrame: b.firstFrame,
    frameWidth: b.frameWidth,
  };
}"""
FIRST_FRAME_JS = "() => window.__tandemBench && window.__tandemBench.firstFrame !== null"
CAMERA_READY_JS = "() => window.__tandemBench && window.__tandemBench.cameraReady !== null"
FRAMES_DECODED_JS = (
    "() => window.tandemRoom ? window.tandemRoom.framesDecoded().then((f) => f.length > 0 && f.every((n) => n > 0))"
    " : false"
)


def _loopback(address: str) -> bool:
    return address in ("127.0.0.1", "::1") or address.startswith("127.")


def _listen(page: Page, role: str, errors: list[str]) -> None:
    """Uncaught errors and console errors go into the run's record."""

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{role}: console {message.text} [{message.location.get('url', '')}]")

    page.on("pageerror", lambda error: errors.append(f"{role}: uncaught {error}"))
    page.on("console", console)


def _context(browser: Browser, base_url: str | None, timeout_ms: int) -> BrowserContext:
    context = browser.new_context(base_url=base_url, locale="en-US") if base_url else browser.new_context()
    context.set_default_timeout(timeout_ms)
    return context


def _poll(page: Page, expression: str, timeout_ms: int) -> None:
    """Evaluate until true: Playwright's wait_for_function takes a returned promise as true."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(100)


def tandem_run(
    browser: Browser,
    server: Server,
    cookie_name: str,
    visit: dict[str, str],
    timeout_ms: int,
    call_is_up: Callable[[], None],
) -> dict[str, Any]:
    """One visit: the prescriber in the room, the patient admitted from the
    waiting room, until each sees the other."""
    from playwright.sync_api import Error as PlaywrightError

    errors: list[str] = []
    contexts: list[BrowserContext] = []
    try:
        pages = {}
        for role in ("prescriber", "patient"):
            context = _context(browser, server.url, timeout_ms)
            contexts.append(context)
            if role == "prescriber":
                context.add_cookies([{"name": cookie_name, "value": visit["session_key"], "url": server.url}])
            context.add_init_script(INSTRUMENT_JS)
            page = context.new_page()
            _listen(page, role, errors)
            pages[role] = page
        prescriber, patient = pages["prescriber"], pages["patient"]
        prescriber.goto(f"/appointments/{visit['appointment']}/video/")
        prescriber.wait_for_function(CAMERA_READY_JS, polling=50)  # in the room, camera on
        patient.goto(f"/video/join/{visit['token']}/")
        # The button shows once the patient's socket is in the waiting room.
        prescriber.get_by_role("button", name=ADMIT_BUTTON).click()
        for page in (prescriber, patient):
            page.wait_for_function(FIRST_FRAME_JS, polling=50)
        for page in (prescriber, patient):
            _poll(page, FRAMES_DECODED_JS, timeout_ms)  # the app's own witness agrees
        call_is_up()
        marks = {role: page.evaluate(MARKS_JS) for role, page in pages.items()}
        addresses = [a for page in pages.values() for a in page.evaluate("() => window.__tandemBenchAddresses()")]
    except (PlaywrightError, TimeoutError) as exc:
        return {"connected": False, "error": str(exc).splitlines()[0][:300], "page_errors": errors[:5]}
    finally:
        for context in contexts:
            with contextlib.suppress(PlaywrightError):
                context.close()

    p, q = marks["prescriber"], marks["patient"]
    admit = p["admitClick"]
    if admit is None:
        return {"connected": False, "error": "the click on the admit button was not seen", "page_errors": errors[:5]}

    def since_admit(mark: float | None) -> float | None:
        return round(mark - admit, 1) if mark is not None else None

    return {
        "connected": True,
        "both_ms": since_admit(max(p["firstFrame"], q["firstFrame"])),
        "prescriber_ms": since_admit(p["firstFrame"]),
        "patient_ms": since_admit(q["firstFrame"]),
        "patient_camera_asked_ms": since_admit(q["cameraAsked"]),
        "patient_camera_ready_ms": since_admit(q["cameraReady"]),
        "connected_ms": since_admit(min((t for t in (p["connected"], q["connected"]) if t is not None), default=None)),
        "link_opened_to_both_ms": round(max(p["firstFrame"], q["firstFrame"]) - q["opened"], 1),
        "admit_reaction_ms": round(admit - p["buttonShown"], 1) if p["buttonShown"] is not None else None,
        "frame_width": [p["frameWidth"], q["frameWidth"]],
        "addresses": sorted(set(addresses)),
        "page_errors": errors[:5],
    }


def floor_run(browser: Browser, timeout_ms: int, call_is_up: Callable[[], None]) -> dict[str, Any]:
    """Two RTCPeerConnections in one page, with no server, until each decodes the other."""
    from playwright.sync_api import Error as PlaywrightError

    context = _context(browser, None, timeout_ms)
    try:
        page = context.new_page()
        page.route(FLOOR_URL, lambda route: route.fulfill(status=200, content_type="text/html", body=FLOOR_HTML))
        page.goto(FLOOR_URL)
        page.evaluate("(t) => window.floorRun(t)", timeout_ms)
        call_is_up()
        r = page.evaluate("() => window.floorResult")
    except PlaywrightError as exc:
        return {"connected": False, "error": str(exc).splitlines()[0][:300]}
    finally:
        with contextlib.suppress(PlaywrightError):
            context.close()
    return {
        "connected": True,
        "both_ms": round(max(r["offerer_ms"], r["answerer_ms"]), 1),
        "offerer_ms": round(r["offerer_ms"], 1),
        "answerer_ms": round(r["answerer_ms"], 1),
        "connected_ms": round(r["connected_ms"], 1),
        "camera_ms": round(r["camera_ms"], 1),
        "addresses": sorted(set(r["addresses"])),
    }


# --- Figures ---------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, Any]:
    """n, median, p10, p25, p75, p90, min, max: quantiles are linear between
    order statistics (``method="inclusive"``, NumPy's default)."""
    if not values:
        return {"n": 0}
    v = sorted(values)
    deciles = statistics.quantiles(v, n=10, method="inclusive") if len(v) > 1 else [v[0]] * 9
    quartiles = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    figures = {
        "median": statistics.median(v),
        "p10": deciles[0],
        "p25": quartiles[0],
        "p75": quartiles[2],
        "p90": deciles[8],
        "min": v[0],
        "max": v[-1],
    }
    return {"n": len(v), **{k: round(x, 1) for k, x in figures.items()}}


TANDEM_METRICS = {
    "both_ms": "admit → both see each other",
    "prescriber_ms": "  prescriber's first remote frame",
    "patient_ms": "  patient's first remote frame",
    "patient_camera_asked_ms": "  patient's camera asked for (admitted)",
    "patient_camera_ready_ms": "  patient's camera ready",
    "connected_ms": "  first connection connected",
    "link_opened_to_both_ms": "patient opens link → both see each other",
    "admit_reaction_ms": "  of which the bench's click on Let in",
}
FLOOR_METRICS = {
    "both_ms": "offer → both see each other",
    "offerer_ms": "  offerer's first remote frame",
    "answerer_ms": "  answerer's first remote frame",
    "connected_ms": "  connected",
    "camera_ms": "camera open (before the offer, not counted)",
}


def summarize_arm(runs: list[dict[str, Any]], metrics: dict[str, str], label: str) -> dict[str, Any]:
    done = [r for r in runs if r["connected"]]
    return {
        "label": label,
        "runs": len(runs),
        "connected": len(done),
        "figures_ms": {
            key: spread([r[key] for r in done if r.get(key) is not None]) for key in metrics if key in done[0]
        }
        if done
        else {},
        "other_processes_cores": spread([r["other_processes_cores"] for r in runs]),
    }


def ratio(tandem: dict[str, Any], floor: dict[str, Any], key: str = "both_ms", stat: str = "median") -> float | None:
    a, b = tandem["figures_ms"].get(key, {}).get(stat), floor["figures_ms"].get(key, {}).get(stat)
    return round(a / b, 3) if a and b else None


def format_table(report: dict[str, Any]) -> str:
    c, arms = report["config"], report["arms"]
    lines = [
        f"Video call setup: {c['runs']} runs per arm (+{c['warmup']} warm-up each), interleaved; Chromium "
        f"{report['versions']['chromium']} headless, fake camera; loopback-only network namespace; "
        f"{report['machine']['cpus']} CPUs; Tandem {report['versions']['tandem']}",
        "",
        f"{'ms':<48}{'n':>4}{'median':>8}{'p10':>8}{'p90':>8}{'min':>8}{'max':>8}",
    ]
    for arm, metrics in (("tandem", TANDEM_METRICS), ("floor", FLOOR_METRICS)):
        a = arms[arm]
        lines.append(f"{a['label']} ({a['connected']} of {a['runs']} runs connected)")
        for key, label in metrics.items():
            s = a["figures_ms"].get(key)
            if not s or not s["n"]:
                continue
            lines.append(
                f"  {label:<46}{s['n']:>4}{s['median']:>8.0f}{s['p10']:>8.0f}{s['p90']:>8.0f}"
                f"{s['min']:>8.0f}{s['max']:>8.0f}"
            )
    r = report["ratio"]
    lines += [
        "",
        f"Tandem / floor, both see each other: {r['median']} (medians), {r['p90']} (p90s)",
    ]
    m = report["memory"]
    lines.append(
        f"Peak memory: this process {m['bench_peak_rss_mib']} MiB (ru_maxrss); server {m['server_peak_rss_mib']} MiB "
        f"(VmHWM); Chromium {m['chromium_pss_with_call_up_mib']} MiB PSS with a call up, "
        f"{m['chromium_peak_rss_mib']} MiB RSS summed over up to {m['chromium_processes']} processes "
        f"(largest one {m['chromium_largest_process_mib']} MiB); Playwright driver {m['driver_peak_rss_mib']} MiB; "
        f"seeding {m['seed_peak_rss_mib']} MiB"
    )
    cpu = {arm: arms[arm]["other_processes_cores"] for arm in arms}
    lines.append(
        "Other processes during runs (cores, median / max): "
        + "; ".join(f"{arm} {s.get('median')} / {s.get('max')}" for arm, s in cpu.items())
    )
    lines += [f"WARNING: {w}" for w in report["warnings"]]
    lines += [f"PROBLEM: {p}" for p in report["problems"]]
    return "\n".join(lines)


# --- The run -----------------------------------------------------------------------------------


def _versions(browser_version: str) -> dict[str, str]:
    import django
    import uvicorn

    return {
        "tandem": _tandem_commit(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "uvicorn": uvicorn.__version__,
        "playwright": importlib.metadata.version("playwright"),
        "chromium": browser_version,
    }


def _seed(env: dict[str, str], run_dir: Path, count: int) -> tuple[dict[str, Any], float]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--seed-visits", str(count), "--run-dir", str(run_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"Seeding the visits failed:\n{done.stdout}{done.stderr}")
    peak = json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"]
    return json.loads((run_dir / "visits.json").read_text()), peak


def measure(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    busy_before = wait_for_quiet(args.quiet_wait, progress=True) if args.quiet_wait else None
    started = datetime.datetime.now(datetime.UTC)
    wall = time.perf_counter()
    env = tandem_env(
        database_url=f"sqlite:///{run_dir / 'bench.sqlite3'}",
        secret_key=secrets.token_urlsafe(50),
        data_dir=str(run_dir),
        overrides={"TANDEM_STATIC_MANIFEST": "true"},
    )
    total = args.runs + args.warmup
    print(f"Seeding {total} video visits in {run_dir.relative_to(REPO)} ...", flush=True)
    seeded, seed_peak = _seed(env, run_dir, total)
    visits = seeded["visits"]
    timeout_ms = args.timeout * 1000

    processes = Processes()
    server = Server(env, run_dir)
    server.start()
    assert server.process is not None
    processes.server_pid = server.process.pid
    processes.start()
    runs: list[dict[str, Any]] = []
    warmups: list[dict[str, Any]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                plan = [("tandem", -1 - i) for i in range(args.warmup)] + [
                    ("floor", -1 - i) for i in range(args.warmup)
                ]
                for i in range(args.runs):
                    plan += [("tandem", i), ("floor", i)] if i % 2 == 0 else [("floor", i), ("tandem", i)]
                for n, (arm, index) in enumerate(plan):
                    cpu = CpuWindow()
                    if arm == "tandem":
                        visit = visits[index if index >= 0 else args.runs - 1 - index]
                        cookie = seeded["session_cookie_name"]
                        result = tandem_run(browser, server, cookie, visit, timeout_ms, processes.call_is_up)
                    else:
                        result = floor_run(browser, timeout_ms, processes.call_is_up)
                    result = {"arm": arm, "index": index, **result, "other_processes_cores": cpu.others_cores()}
                    (warmups if index < 0 else runs).append(result)
                    figure = f"{result['both_ms']:.0f} ms" if result["connected"] else f"FAILED: {result['error']}"
                    which = "warm-up" if index < 0 else f"run {index + 1}/{args.runs}"
                    print(f"  [{n + 1:>3}/{len(plan)}] {arm:<6} {which:<10} {figure}", flush=True)
                browser_version = browser.version
            finally:
                browser.close()
        server_peak = server.peak_rss_mib()
    finally:
        processes.stop()
        server.stop()

    arms = {
        "tandem": summarize_arm(
            [r for r in runs if r["arm"] == "tandem"], TANDEM_METRICS, "Tandem: tandem serve, two browser contexts"
        ),
        "floor": summarize_arm(
            [r for r in runs if r["arm"] == "floor"], FLOOR_METRICS, "Floor: two RTCPeerConnections in one page"
        ),
    }
    problems, warnings = [], []
    for r in runs:
        name = f"{r['arm']} run {r['index'] + 1}"
        if not r["connected"]:
            problems.append(f"{name} did not connect: {r['error']}")
            continue
        off = [a for a in r["addresses"] if not _loopback(a)]
        if off or not r["addresses"]:
            problems.append(f"{name}: media path not on loopback: {r['addresses']}")
        if r.get("page_errors"):
            warnings.append(f"{name}: the pages reported {r['page_errors']}")
    disturbed = [f"{r['arm']} {r['index'] + 1}" for r in runs if r["other_processes_cores"] > OTHER_CORES_WARNING]
    if disturbed:
        named = f" ({', '.join(disturbed)})" if len(disturbed) <= 6 else ""
        warnings.append(
            f"other processes took over {OTHER_CORES_WARNING} cores during {len(disturbed)} of {len(runs)} runs"
            f"{named}: those figures are slower than this machine can do"
        )
    return {
        "schema": 1,
        "benchmark": "video",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - wall, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "cores_busy_before_start": round(busy_before, 2) if busy_before is not None else None,
            "network": f"loopback-only namespace (interfaces: {', '.join(interfaces())})",
        },
        "versions": _versions(browser_version),
        "config": {
            "runs": args.runs,
            "warmup": args.warmup,
            "timeout_seconds": args.timeout,
            "order": "warm-up runs first, then Tandem and floor alternately, the order swapped every run",
            "server": "tandem serve: uvicorn, tandem.asgi, one process; bench.settings (production, plain HTTP); "
            "static files collected into the run directory (hashed, compressed); SQLite in the run directory; "
            "in-memory channel layer",
            "frame_timing": "requestVideoFrameCallback presentationTime of the first remote frame, "
            "performance.timeOrigin-based",
            "chromium_args": CHROMIUM_ARGS,
        },
        "arms": arms,
        "ratio": {
            "median": ratio(arms["tandem"], arms["floor"]),
            "p90": ratio(arms["tandem"], arms["floor"], stat="p90"),
            "definition": "Tandem's median (p90) time from the admit click until both sides show a remote frame, "
            "over the floor's from the offer until both sides do",
        },
        "memory": {
            "bench_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "server_peak_rss_mib": server_peak,
            "server_sampled_peak_rss_mib": round(processes.peak_kib["server"] / 1024, 1),
            "chromium_peak_rss_mib": round(processes.peak_kib["chromium"] / 1024, 1),
            "chromium_pss_with_call_up_mib": round(processes.chromium_pss_kib / 1024, 1),
            "chromium_largest_process_mib": round(processes.largest_chromium_hwm_kib / 1024, 1),
            "chromium_processes": processes.chromium_processes,
            "driver_peak_rss_mib": round(processes.peak_kib["driver"] / 1024, 1),
            "seed_peak_rss_mib": seed_peak,
        },
        "runs": runs,
        "warmup_runs": warmups,
        "problems": problems,
        "warnings": warnings,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="measured runs per arm")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs per arm first")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds a run may take to connect")
    parser.add_argument("--json", type=Path, help="where the results go (default bench/results/video-<stamp>.json)")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium to drive (Debian's)")
    parser.add_argument(
        "--quiet-wait",
        type=int,
        default=60,
        metavar="SECONDS",
        help="first wait up to this long for other processes to leave the CPUs (0: do not wait)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed-visits", type=int, help=argparse.SUPPRESS)  # the child that seeds
    args = parser.parse_args(argv)
    if args.seed_visits is not None:
        seed_visits(args.run_dir, args.seed_visits)
        return 0
    if not 1 <= args.runs <= 500 or not 0 <= args.warmup <= 10 or not 1 <= args.timeout <= 120:
        parser.error("--runs must be 1 to 500, --warmup 0 to 10 and --timeout 1 to 120")
    if not os.access(args.chromium, os.X_OK):
        raise SystemExit(f"No Chromium at {args.chromium}: install Debian's (`make test-deps`).")

    ensure_loopback_namespace(argv)  # returns only inside one
    unwind_on_sigterm()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = args.run_dir or RUNS_DIR / f"{stamp}-video-{secrets.token_hex(2)}"
    run_dir.mkdir(parents=True, exist_ok=False)
    try:
        report = measure(args, run_dir)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    path = args.json or RESULTS_DIR / f"video-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(format_table(report))
    print(f"\nResults: {path}" + (f"\nRun directory kept: {run_dir}" if args.keep else ""))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
