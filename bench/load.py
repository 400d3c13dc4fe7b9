"""Serve Tandem through gunicorn and drive a bounded load at its pages.

    python bench/load.py RUN_DIR [--seconds 5] [--connections 8] [--workers 2]

RUN_DIR is what ``bench/generate.py`` made. The server is gunicorn (WSGI),
``tandem.wsgi`` with ``bench.settings``, bound to 127.0.0.1 on a free port.
The client is wrk (Debian's ``wrk``): a C client leaves the two cores to the
server, where a Python client would take most of one and lower every figure.

Each endpoint gets a short warm-up, then a measured run bounded by time, by a
request cap and by the number of connections. The trivial view is measured
first and again last: every page's throughput is given as a ratio to it,
measured in the same run on the same server, and the two trivial runs show how
steady the machine was. Memory is the resident set of the gunicorn master and
its workers, sampled from /proc while the load runs, and each process's own
peak (VmHWM) read at the end.

Pages are loaded as two people: the practice's therapist, and the partner
group's prescriber, whose chart, list and record pages cross the consent gate
and write disclosure rows.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.manifest import BENCH_DIR, REPO, RESULTS_DIR, Manifest, parse_overrides, tandem_env

WRK_SCRIPT = BENCH_DIR / "wrk.lua"
HOST = "127.0.0.1"
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
# The trivial run may drift this much between first and last, and other
# processes may take this many cores on average, before the run is flagged as
# taken on a busy machine.
DRIFT_WARNING = 0.10
OTHER_CORES_WARNING = 0.15
QUIET_RETRIES = 3


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    # Whose session the requests carry: "" (anonymous), "therapist" or "prescriber".
    session: str
    # Text the page must contain: proof it is the real page and not the
    # sign-in form a lapsed session would be redirected to.
    markers: tuple[str, ...]
    # Text it must not contain: what the consent gate keeps from this viewer.
    absent: tuple[str, ...] = ()

    @property
    def signed_in(self) -> bool:
        return bool(self.session)


@dataclass
class LoadOptions:
    seconds: int = 5
    warmup: int = 1
    connections: int = 8
    wrk_threads: int = 1
    workers: int = 2
    worker_class: str = "sync"
    gunicorn_threads: int = 1
    max_requests: int = 50_000
    timeout: int = 10
    quiet_wait: int = 120
    server_env: dict[str, str] = field(default_factory=dict)


# Shown when consent withholds ordinary treatment information (policy.Sharing.withheld).
WITHHELD_NOTICE = "Some information is not shared with you"


def endpoints(manifest: Manifest) -> list[Endpoint]:
    me = manifest.therapist_display_name
    # The page's own count line: "… · 25 patients".
    matches = f"{manifest.search_matches} patient"
    chart = f"/patients/{manifest.chart_patient}/"
    # The chart patient's Part 2 record: the therapist's own, never the prescriber's.
    part2 = (manifest.withheld_document_title,) if manifest.withheld_document_title else ()
    pages = [
        Endpoint("trivial", "trivial view (anonymous)", "/bench/trivial", "", ("ok",)),
        Endpoint("trivial_signed_in", "trivial view (signed in)", "/bench/trivial", "therapist", ("ok",)),
        Endpoint("patient_list", "patient list", "/patients/", "therapist", (me, "Page 1 of")),
        Endpoint(
            "patient_search",
            "patient list, searched",
            "/patients/?" + urlencode({"q": manifest.search_query}),
            "therapist",
            (me, matches),
        ),
        Endpoint("patient_chart", "patient chart", chart, "therapist", (me, manifest.chart_patient_mrn, *part2)),
        # The therapist's whole caseload with 20 scores each: one query per figure, whatever its size.
        Endpoint("registry", "registry (the therapist's caseload)", "/registry/", "therapist", (me, "Registry")),
        # The list, its timeline of titrations and lab results, and what monitoring is due.
        Endpoint(
            "medications",
            "medication list and timeline",
            f"{chart}medications/",
            "therapist",
            (me, "Current medications", "Timeline"),
        ),
    ]
    if not manifest.prescriber_session_key:  # a manifest from before the prescriber was signed in
        return pages
    prescriber = manifest.prescriber_display_name
    shared = manifest.shared_document_title
    return [
        *pages,
        Endpoint(
            "prescriber_list",
            "patient list (partner prescriber)",
            "/patients/",
            "prescriber",
            (prescriber, "Page 1 of", f"{manifest.prescriber_patients} patient"),
        ),
        Endpoint(
            "prescriber_chart",
            "patient chart (partner prescriber, consent gate + disclosure row)",
            chart,
            "prescriber",
            (prescriber, manifest.chart_patient_mrn, shared),
            absent=(*part2, WITHHELD_NOTICE),
        ),
        Endpoint(
            "prescriber_record",
            "shared record page (prescriber)",
            f"/patients/{manifest.chart_patient}/records/{manifest.shared_document}/",
            "prescriber",
            (prescriber, shared, "Shared with you by"),
        ),
    ]


# --- /proc ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_kib(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    # PSS shares each page copied-on-write from the master among the processes
    # using it, so the sum is what the group really costs; RSS counts shared pages once per process.
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _busy_jiffies() -> int:
    """CPU time spent by the whole machine, every core, in clock ticks."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    # Guest time is already counted in user time.
    return sum(fields[:8]) - idle - iowait


def _process_jiffies(pid: int, *, reaped_children: bool = False) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    own = int(fields[11]) + int(fields[12])  # utime + stime
    return own + (int(fields[13]) + int(fields[14]) if reaped_children else 0)  # + cutime + cstime


def _postgres_jiffies() -> int:
    """CPU of every PostgreSQL process. A backend that exits between two
    readings is not lost: its time moves into the postmaster's reaped-children
    total. (Another client of the same server would be counted here too.)"""
    total = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        total += _process_jiffies(int(comm.parent.name), reaped_children=True)
    return total


class CpuAccount:
    """How much CPU other processes took while we measured.

    The bench shares the machine with whatever else runs on it; two cores
    leave no slack, so another busy process shows directly in the figures.
    Everything busy minus the server, PostgreSQL, wrk and this script is
    someone else.
    """

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids
        self.hz = os.sysconf("SC_CLK_TCK")
        self.started = time.monotonic()
        self.machine = _busy_jiffies()
        self.server = sum(_process_jiffies(p) for p in server_pids)
        self.database = _postgres_jiffies()
        self.ours = self._own_jiffies()

    def _own_jiffies(self) -> float:
        # RUSAGE_CHILDREN covers the wrk runs, which have all been waited for.
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime) * self.hz

    def report(self) -> dict[str, float]:
        seconds = time.monotonic() - self.started
        machine = _busy_jiffies() - self.machine
        server = sum(_process_jiffies(p) for p in self.server_pids) - self.server
        database = _postgres_jiffies() - self.database
        ours = self._own_jiffies() - self.ours
        others = max(0.0, machine - server - database - ours)
        per_second = self.hz * seconds
        return {
            "seconds": round(seconds, 1),
            "server_cores": round(server / per_second, 2),
            "postgres_cores": round(database / per_second, 2),
            "client_cores": round(ours / per_second, 2),
            "other_processes_cores": round(others / per_second, 2),
        }


def cpu_busy_now(interval: float = 1.0) -> float:
    """Cores in use over the next ``interval`` seconds, before we start anything."""
    hz = os.sysconf("SC_CLK_TCK")
    before = _busy_jiffies()
    time.sleep(interval)
    return (_busy_jiffies() - before) / hz / interval


def wait_for_quiet(limit: int, progress: bool) -> float:
    """Wait up to ``limit`` seconds for other processes to leave the CPUs
    alone; returns the cores busy in the last second looked at."""
    deadline = time.monotonic() + limit
    busy = cpu_busy_now()
    while busy > OTHER_CORES_WARNING and time.monotonic() < deadline:
        if progress:
            print(f"  waiting: {busy:.2f} cores busy with other work", flush=True)
        time.sleep(4)
        busy = cpu_busy_now()
    if progress and busy > OTHER_CORES_WARNING:
        print(f"  note: {busy:.2f} cores were busy with other work before the server started", flush=True)
    return busy


class MemorySampler(threading.Thread):
    """The peak of the master's and workers' resident sets, summed at the same instant."""

    def __init__(self, root_pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.peak_total_kib = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def pids(self) -> list[int]:
        return [self.root_pid, *_children(self.root_pid)]

    def sample(self) -> None:
        total = sum(_rss_kib(pid) for pid in self.pids())
        self.peak_total_kib = max(self.peak_total_kib, total)
        self.samples += 1

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()

    def report(self) -> dict[str, Any]:
        processes = [ProcessMemory.read(pid, "master" if pid == self.root_pid else "worker") for pid in self.pids()]
        return {
            "peak_rss_mib": round(self.peak_total_kib / 1024, 1),
            "samples": self.samples,
            "sum_of_process_peaks_mib": round(sum(p.peak_rss_mib for p in processes), 1),
            "pss_mib_at_end": round(sum(p.pss_mib_at_end for p in processes), 1),
            "processes": [asdict(p) for p in processes],
        }


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    role: str
    peak_rss_mib: float  # VmHWM: this process's own high-water mark
    rss_mib_at_end: float
    pss_mib_at_end: float

    @classmethod
    def read(cls, pid: int, role: str) -> ProcessMemory:
        return cls(
            pid=pid,
            role=role,
            peak_rss_mib=round(_status_kib(pid, "VmHWM") / 1024, 1),
            rss_mib_at_end=round(_rss_kib(pid) / 1024, 1),
            pss_mib_at_end=round(_pss_kib(pid) / 1024, 1),
        )


# --- The server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _gunicorn_has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any("--no-control-socket" in (s.cli or []) for s in KNOWN_SETTINGS)


class Server:
    """gunicorn serving ``tandem.wsgi`` with the bench settings, on loopback."""

    def __init__(self, manifest: Manifest, options: LoadOptions) -> None:
        self.manifest = manifest
        self.options = options
        self.port = free_port()
        self.log_path = Path(manifest.run_dir) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        o = self.options
        cmd = [
            sys.executable, "-m", "gunicorn", "tandem.wsgi:application",
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(o.workers),
            "--worker-class", o.worker_class,
            "--threads", str(o.gunicorn_threads),
            "--graceful-timeout", "5",
        ]  # fmt: skip
        if _gunicorn_has_control_socket():
            # Its default path (~/.gunicorn/gunicorn.ctl) is shared by every gunicorn of the user.
            cmd.append("--no-control-socket")
        return cmd

    def start(self) -> None:
        env = tandem_env(
            database_url=self.manifest.database_url,
            secret_key=self.manifest.secret_key,
            data_dir=self.manifest.run_dir,
            overrides=self.options.server_env,
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_ready()

    def _wait_until_ready(self, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = fetch(self.port, "/bench/trivial", cookie="")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"gunicorn did not answer within {limit:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid) if self.process else []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # Only the processes this script started, named by pid.
            for pid in [*workers, self.process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def fetch(port: int, path: str, *, cookie: str, timeout: float = 10.0) -> tuple[int, str]:
    """One request, redirects not followed: a lapsed session shows as a 302."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _cookie(manifest: Manifest, endpoint: Endpoint) -> str:
    return manifest.cookie_header(endpoint.session) if endpoint.signed_in else ""


def preflight(server: Server, manifest: Manifest, endpoint: Endpoint) -> None:
    status, body = fetch(server.port, endpoint.path, cookie=_cookie(manifest, endpoint))
    if status != 200:
        raise SystemExit(
            f"{endpoint.label}: {endpoint.path} answered {status}, not 200 "
            "(a 302 means the session was not accepted)\n" + server.log_tail()
        )
    missing = [m for m in endpoint.markers if m not in body]
    if missing:
        raise SystemExit(f"{endpoint.label}: the page lacks {missing!r}; it is not the page to measure")
    leaked = [m for m in endpoint.absent if m in body]
    if leaked:
        raise SystemExit(f"{endpoint.label}: the page shows {leaked!r}, which the consent gate should keep out")


# --- The client --------------------------------------------------------------------


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "bench/load.py drives the load with wrk. Install it with `sudo apt-get install wrk` "
            "(`make bench` does this when run as root)."
        )
    return path


def run_wrk(url: str, *, cookie: str, seconds: int, options: LoadOptions) -> dict[str, Any]:
    threads = min(options.wrk_threads, options.connections)
    per_thread_cap = math.ceil(options.max_requests / threads)
    cmd = [
        wrk_path(),
        "--threads", str(threads),
        "--connections", str(options.connections),
        "--duration", f"{seconds}s",
        "--timeout", f"{options.timeout}s",
        "--script", str(WRK_SCRIPT),
    ]  # fmt: skip
    if cookie:
        cmd += ["--header", f"Cookie: {cookie}"]
    cmd += [url, "--", str(per_thread_cap)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + options.timeout + 30, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result
    raise SystemExit(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "latency_ms": {k: round(latency[k] / 1000, 2) for k in ("p50", "p90", "p95", "p99", "max", "mean")},
        "errors": raw["errors"],
        "not_200": raw["not_200"],
        "kib_per_response": round(raw["bytes"] / raw["requests"] / 1024, 1) if raw["requests"] else 0.0,
    }


# --- The server log --------------------------------------------------------------


def tally_server_log(path: Path) -> dict[str, dict[str, int]]:
    """Statuses per route, and whether signed in, from Tandem's JSON request
    log (route names only, never paths or query strings): the server's side of
    what wrk counted, warm-up and checks included."""
    counts: dict[str, Counter[str]] = {}
    with path.open(errors="replace") as lines:
        for line in lines:
            if not line.startswith("{"):
                continue  # gunicorn's own lines
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("logger") != "tandem.request":
                continue
            who = "signed in" if entry.get("user_id") is not None else "anonymous"
            counts.setdefault(f"{entry.get('route')} ({who})", Counter())[str(entry.get("status"))] += 1
    return {route: dict(statuses) for route, statuses in sorted(counts.items())}


# --- The run ----------------------------------------------------------------------


def _tandem_commit() -> str:
    """The commit measured, marked when the application code differs from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    head = subprocess.run([git, "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        [git, "status", "--porcelain", "--", "tandem", "pyproject.toml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    commit = head.stdout.strip() or "unknown"
    return commit + ("+changes" if dirty.stdout.strip() else "")


def _versions() -> dict[str, str]:
    import django
    import gunicorn

    wrk = subprocess.run([wrk_path(), "--version"], capture_output=True, text=True, check=False)
    return {
        "tandem": _tandem_commit(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "wrk": (wrk.stdout or wrk.stderr).split("[")[0].strip(),
    }


def measure(
    server: Server, manifest: Manifest, endpoint: Endpoint, options: LoadOptions, progress: bool
) -> dict[str, Any]:
    """One endpoint: warm up, then one measured run.

    With ``quiet_wait``, each endpoint first waits for the machine to be idle,
    and a run during which other processes took CPU is thrown away and taken
    again (up to ``QUIET_RETRIES`` times): on two cores, a test suite running
    beside the bench halves its figures.
    """
    url = server.base_url + endpoint.path
    cookie = _cookie(manifest, endpoint)
    pids = [server.process.pid, *server.worker_pids()] if server.process else []
    attempts = 1 + (QUIET_RETRIES if options.quiet_wait else 0)
    for attempt in range(1, attempts + 1):
        if options.quiet_wait:
            wait_for_quiet(options.quiet_wait, progress)
        if progress:
            print(f"  {endpoint.label:<38} {options.warmup} s warm-up, {options.seconds} s measured", flush=True)
        if options.warmup:
            run_wrk(url, cookie=cookie, seconds=options.warmup, options=options)
        cpu = CpuAccount(pids)
        summary = summarize(run_wrk(url, cookie=cookie, seconds=options.seconds, options=options))
        summary["cpu_cores"] = cpu.report()
        summary["attempts"] = attempt
        others = summary["cpu_cores"]["other_processes_cores"]
        if others <= OTHER_CORES_WARNING or attempt == attempts:
            return summary
        if progress:
            print(f"    other processes took {others:.2f} cores: measuring again", flush=True)
    raise AssertionError("unreachable")


def _disturbed(summary: dict[str, Any]) -> bool:
    return bool(summary["cpu_cores"]["other_processes_cores"] > OTHER_CORES_WARNING)


def _trivial_reference(first: dict[str, Any], last: dict[str, Any]) -> float:
    """What the ratios divide by: the mean of the two trivial runs, leaving out
    one that other processes disturbed (it would flatter every ratio)."""
    steady = [run["rps"] for run in (first, last) if not _disturbed(run)] or [first["rps"], last["rps"]]
    return sum(steady) / len(steady)


def run_load(manifest: Manifest, options: LoadOptions, progress: bool = True) -> dict[str, Any]:
    """Measure every endpoint against one gunicorn; returns the results."""
    wrk_path()
    busy_before = wait_for_quiet(options.quiet_wait, progress)
    started = datetime.datetime.now(datetime.UTC)
    targets = endpoints(manifest)
    order = [*targets, targets[0]]  # the trivial view again, last
    measured: list[tuple[Endpoint, dict[str, Any]]] = []
    server = Server(manifest, options)
    server.start()
    assert server.process is not None
    sampler = MemorySampler(server.process.pid)
    sampler.start()
    cpu = CpuAccount(sampler.pids())
    try:
        for endpoint in targets:
            preflight(server, manifest, endpoint)
        for endpoint in order:
            measured.append((endpoint, measure(server, manifest, endpoint, options, progress)))
        # The sessions must still be good after the load: pages measured after
        # a silent sign-out would be measuring the redirect.
        for key in ("patient_chart", "prescriber_chart"):
            for endpoint in targets:
                if endpoint.key == key:
                    preflight(server, manifest, endpoint)
    finally:
        cpu_report = cpu.report()
        sampler.stop()
        memory = sampler.report()
        server.stop()

    before, after = measured[0][1]["rps"], measured[-1][1]["rps"]
    trivial_reference = _trivial_reference(measured[0][1], measured[-1][1])
    results_by_key: dict[str, Any] = {}
    for index, (endpoint, summary) in enumerate(measured):
        key = "trivial_after" if index == len(measured) - 1 else endpoint.key
        results_by_key[key] = {
            "label": endpoint.label + (", again last" if key == "trivial_after" else ""),
            "signed_in": endpoint.signed_in,
            "session": endpoint.session,
            **summary,
            "ratio_to_trivial": round(summary["rps"] / trivial_reference, 3) if trivial_reference else None,
        }

    server_log = tally_server_log(server.log_path)
    problems = []
    for key, result in results_by_key.items():
        errors = {k: v for k, v in result["errors"].items() if v}
        if errors:
            problems.append(f"{key}: wrk counted errors {errors}")
        if result["not_200"]:
            problems.append(f"{key}: {result['not_200']} answers were not 200")
    for route, statuses in server_log.items():
        bad = {s: n for s, n in statuses.items() if s != "200"}
        if bad:
            problems.append(f"{route}: the server answered {bad}")
    drift = abs(before - after) / ((before + after) / 2) if before + after else 0.0
    warnings = []
    if drift > DRIFT_WARNING and not (_disturbed(measured[0][1]) or _disturbed(measured[-1][1])):
        warnings.append(f"the trivial view moved {drift:.0%} between first and last run: the machine was not steady")
    disturbed = [key for key, result in results_by_key.items() if _disturbed(result)]
    if disturbed:
        warnings.append(
            f"other processes took CPU while measuring {', '.join(disturbed)}: those figures are lower than "
            "this machine can do (a longer --quiet-wait waits longer for an idle machine)"
        )

    return {
        "schema": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "cores_busy_before_start": round(busy_before, 2),
            "cpu_during_run": cpu_report,
        },
        "versions": _versions(),
        "config": {
            "database": manifest.database_vendor,
            "patients": manifest.patients,
            "other_practice_patients": manifest.other_patients,
            "search_matches": manifest.search_matches,
            "prescriber_patients": manifest.prescriber_patients,
            "chart_documents": manifest.chart_documents,
            "documents": manifest.documents,
            "authorizations": manifest.authorizations,
            "server": f"gunicorn {options.worker_class}, {options.workers} workers"
            + (f" × {options.gunicorn_threads} threads" if options.worker_class == "gthread" else ""),
            **asdict(options),
        },
        "trivial_rps": {
            "first": before,
            "last": after,
            "reference": round(trivial_reference, 1),
            "drift": round(drift, 3),
        },
        "endpoints": results_by_key,
        "memory": {"server": memory, "generator_peak_rss_mib": manifest.generator.get("peak_rss_mib")},
        "generator": manifest.generator,
        "server_log": server_log,
        "problems": problems,
        "warnings": warnings,
    }


def write_results(results: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    config = results["config"]
    path = directory / f"{stamp}-{config['database']}-{config['patients']}p.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def format_table(results: dict[str, Any]) -> str:
    c = results["config"]
    width = max(38, *(len(r["label"]) + 2 for r in results["endpoints"].values()))
    lines = [
        f"Tandem bench: {c['database']}, {c['patients']:,} patients (+{c['other_practice_patients']:,} at another "
        f"practice); {c['server']}; wrk, {c['connections']} connections, {c['seconds']} s per endpoint; "
        f"{results['machine']['cpus']} CPUs; Tandem {results['versions']['tandem']}",
        "",
        # CPU cores used while measuring: gunicorn, PostgreSQL, wrk (and this script), unrelated processes.
        f"{'endpoint':<{width}}{'req/s':>8}{'× trivial':>10}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'KiB':>6}"
        f"{'cpu: server':>12}{'pg':>6}{'wrk':>6}{'others':>7}",
    ]
    for result in results["endpoints"].values():
        ratio = result["ratio_to_trivial"]
        lat = result["latency_ms"]
        cpu = result["cpu_cores"]
        lines.append(
            f"{result['label']:<{width}}{result['rps']:>8,.0f}{ratio:>10.3f}"
            f"{lat['p50']:>8.2f}{lat['p95']:>8.2f}{lat['p99']:>8.2f}{result['kib_per_response']:>6.1f}"
            f"{cpu['server_cores']:>12.2f}{cpu['postgres_cores']:>6.2f}{cpu['client_cores']:>6.2f}"
            f"{cpu['other_processes_cores']:>7.2f}"
        )
    memory = results["memory"]["server"]
    workers = [p for p in memory["processes"] if p["role"] == "worker"]
    lines += [
        "",
        f"Server memory: peak RSS {memory['peak_rss_mib']} MiB (master + {len(workers)} workers, summed at one "
        f"instant); per process peaks {', '.join(str(p['peak_rss_mib']) for p in memory['processes'])} MiB; "
        f"PSS at end {memory['pss_mib_at_end']} MiB",
        f"Generator: peak RSS {results['memory']['generator_peak_rss_mib']} MiB",
    ]
    if c.get("chart_documents"):
        shown = c["chart_documents"]
        lines.append(
            f"Data: {c.get('documents', 0):,} records, {c.get('authorizations', 0):,} authorizations; the chart shows "
            f"{shown.get('therapist')} records to the therapist and {shown.get('prescriber')} to the prescriber, "
            f"whose list holds {c.get('prescriber_patients', 0):,} patients"
        )
    t = results["trivial_rps"]
    lines.append(
        f"Trivial view first/last: {t['first']:,.0f} / {t['last']:,.0f} req/s (drift {t['drift']:.1%}); "
        f"ratios are to {t['reference']:,.0f}"
    )
    lines += [f"WARNING: {w}" for w in results["warnings"]]
    lines += [f"PROBLEM: {p}" for p in results["problems"]]
    return "\n".join(lines)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = LoadOptions()
    parser.add_argument("--seconds", type=int, default=defaults.seconds, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=defaults.warmup, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=defaults.connections, help="concurrent connections")
    parser.add_argument("--wrk-threads", type=int, default=defaults.wrk_threads, help="wrk threads")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="gunicorn workers")
    parser.add_argument("--worker-class", default=defaults.worker_class, choices=["sync", "gthread"])
    parser.add_argument("--gunicorn-threads", type=int, default=defaults.gunicorn_threads, help="with gthread")
    parser.add_argument(
        "--max-requests", type=int, default=defaults.max_requests, help="cap on requests per measured endpoint"
    )
    parser.add_argument(
        "--quiet-wait",
        type=int,
        default=defaults.quiet_wait,
        metavar="SECONDS",
        help="before each endpoint, wait up to this long for an idle machine, and retry disturbed runs (0: never wait)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="TANDEM_NAME=VALUE",
        help="a Tandem setting for the server, e.g. TANDEM_DB_CONN_MAX_AGE=60 (repeatable)",
    )


def options_from(args: argparse.Namespace) -> LoadOptions:
    if not 1 <= args.seconds <= 120 or not 0 <= args.warmup <= 30:
        raise SystemExit("--seconds must be 1 to 120 and --warmup 0 to 30: the load stays short")
    if not 1 <= args.connections <= 256 or args.max_requests < 1:
        raise SystemExit("--connections must be 1 to 256 and --max-requests at least 1")
    return LoadOptions(
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        wrk_threads=max(1, args.wrk_threads),
        workers=max(1, args.workers),
        worker_class=args.worker_class,
        gunicorn_threads=max(1, args.gunicorn_threads),
        max_requests=args.max_requests,
        quiet_wait=max(0, args.quiet_wait),
        server_env=parse_overrides(args.server_env),
    )


def unwind_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the finally blocks stop gunicorn and clean up."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def main(argv: list[str] | None = None) -> int:
    unwind_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a directory made by bench/generate.py")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    results = run_load(Manifest.load(args.run_dir), options_from(args))
    path = write_results(results, args.results_dir)
    print()
    print(format_table(results))
    print(f"\nResults: {path}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
