"""What the browser tests share besides fixtures: Chromium's flags, the
problem collector, the authenticator and the sign-in steps.

A plain module (not conftest.py) so that tests can import its types; pytest
puts this directory on sys.path because tests/e2e is not a package.
"""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pyotp
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, WebSocketRoute, expect

from tandem.accounts.models import User
from tandem.lib import chromium
from tandem.test import PASSWORD, TOTP_SECRET

# A fake camera and microphone for the call tests, and no name resolves
# except the local ones (see tandem/lib/chromium.py).
CHROMIUM, CHROMIUM_ARGS = chromium.CHROMIUM, chromium.CHROMIUM_ARGS

SIGN_IN_URL = re.compile(r"/accounts/sign-in/(\?.*)?$")
CODE_URL = re.compile(r"/accounts/sign-in/code/(\?.*)?$")
TODAY_URL = re.compile(r"/today/$")
LIVE_SOCKET_URL = re.compile(r"/ws/live/$")
SIGNED_OUT_IDLE_URL = re.compile(r"/accounts/signed-out/\?reason=idle$")
IDLE_MESSAGE = re.compile(r"signed out after a period of inactivity")


def wait_for_scripts(page: Page) -> None:
    """htmx and session.js are deferred scripts: they run just before the load
    event, and a heading can show earlier. Until then typing in the live search
    or moving the page's clock would go unnoticed (page.goto already waits)."""
    page.wait_for_load_state("load")


def minutes_from_now(minutes: float) -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=minutes)


# --- What the browser complains about ----------------------------------------------------------

FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")

# Installed before any page script runs. Scripts injected this way are exempt
# from the page's CSP, so this sees every violation, including those Chromium
# reports only as an event and never on the console.
CSP_LISTENER = """
window.tandemCspReported = Promise.resolve();
document.addEventListener("securitypolicyviolation", (event) => {
  const report = {
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    page: event.documentURI,
  };
  // A promise the test can await, to know the report has reached Python.
  window.tandemCspReported = window.tandemCspReported.then(() => window.tandemCspViolation(report));
});
"""


@dataclass
class BrowserProblems:
    """Console errors, uncaught exceptions and CSP violations seen during one test.

    Chromium logs every 4xx/5xx response as a console error, so a test that
    expects one (a 404 page, a refused form) declares it with ``allow_status``.
    """

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    _allowed: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    _allowed_console: list[re.Pattern[str]] = field(default_factory=list)
    # Set once the test is over and its pages are being closed: a request
    # still in flight is aborted then, and htmx logs that as an error.
    closing: bool = False

    def allow_status(self, status: int, url: str | re.Pattern[str]) -> None:
        """Expect ``status`` from a URL ending in ``url`` (or matching the pattern)."""
        pattern = url if isinstance(url, re.Pattern) else re.compile(re.escape(url) + r"$")
        self._allowed.append((status, pattern))

    def allow_console(self, pattern: re.Pattern[str]) -> None:
        """Expect console errors matching ``pattern`` (a refused WebSocket
        handshake, say, which Chromium logs as it does a 4xx page)."""
        self._allowed_console.append(pattern)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error" or self.closing:
            return
        if any(pattern.search(message.text) for pattern in self._allowed_console):
            return
        url = message.location.get("url", "")
        failed = FAILED_LOAD.match(message.text)
        if failed and any(int(failed[1]) == code and pattern.search(url) for code, pattern in self._allowed):
            return
        self.console_errors.append(f"{message.text} [{url}]")

    def on_page_error(self, error: Exception) -> None:
        self.page_errors.append(str(error))

    def on_csp_violation(self, report: dict[str, Any]) -> None:
        blocked = report.get("blocked") or "inline"
        self.csp_violations.append(f"{report.get('directive')} blocked {blocked} on {report.get('page')}")

    def summary(self) -> list[str]:
        return (
            [f"console: {e}" for e in self.console_errors]
            + [f"uncaught: {e}" for e in self.page_errors]
            + [f"CSP: {v}" for v in self.csp_violations]
        )


def stand_in_for_live_socket(ws: WebSocketRoute) -> None:
    """pytest-django's live server speaks WSGI only and cannot answer the live
    socket every signed-in page opens: each handshake would fail and log a
    console error. Not connecting the route to the server keeps the socket
    open and silent. The socket itself is tested with Channels in tandem/, and
    in the browser against the ASGI server (conftest.py's ``asgi_pages``)."""


# --- Contexts and pages -------------------------------------------------------------------------

# Long enough for a busy two-core machine, short enough that a hang fails fast.
ACTION_TIMEOUT_MS = 10_000


def new_context(
    browser: Browser, base_url: str, problems: BrowserProblems, *, stub_live_socket: bool = True, **options: Any
) -> BrowserContext:
    """One person's browser: its own cookies and storage, reporting CSP
    violations to ``problems``. Against the WSGI live server the live socket
    is stubbed; against the ASGI server it is the real one. ``options`` go to
    Playwright (a phone's viewport and locale, say)."""
    context = browser.new_context(**{"base_url": base_url, "locale": "en-US", **options})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.expose_binding("tandemCspViolation", lambda _source, report: problems.on_csp_violation(report))
    context.add_init_script(CSP_LISTENER)
    if stub_live_socket:
        context.route_web_socket(LIVE_SOCKET_URL, stand_in_for_live_socket)
    return context


def new_page(context: BrowserContext, problems: BrowserProblems) -> Page:
    page = context.new_page()
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    return page


def flush_csp_reports(page: Page) -> None:
    """Wait until every CSP report the page raised has reached Python."""
    page.evaluate("() => window.tandemCspReported")


# --- Signing in ----------------------------------------------------------------------------------

TOTP_INTERVAL = 30


class Authenticator(pyotp.TOTP):
    """The user's authenticator app, independent of the server's code. The
    cast's secret is 80 bits, the size many setup guides show; pyotp refuses
    anything under 112 bits unless told otherwise."""

    min_secret_length_bits = 80


@dataclass
class Codes:
    """Hands out authenticator codes the server has not accepted yet.

    Each time step's code works once (replay protection). Signing the same
    person in twice within 30 seconds therefore takes the next step's code,
    which the server accepts as clock drift. Each test has a fresh database,
    hence a fresh record here.
    """

    authenticator: Authenticator = field(default_factory=lambda: Authenticator(TOTP_SECRET, interval=TOTP_INTERVAL))
    last_step: dict[str, int] = field(default_factory=dict)

    def fresh(self, user: User) -> str:
        # time.time() follows time_machine, as the server's clock does.
        current = int(time.time() // TOTP_INTERVAL)
        step = max(current, self.last_step.get(user.email, current - 1) + 1)
        if step > current + 1:
            raise AssertionError(f"{user.email} has used this step's and the next step's code already")
        self.last_step[user.email] = step
        return self.authenticator.at(step * TOTP_INTERVAL)

    def wrong(self) -> str:
        """Six digits that no step the server accepts right now would produce."""
        now = time.time()
        valid = {self.authenticator.at(now + offset) for offset in (-TOTP_INTERVAL, 0, TOTP_INTERVAL)}
        return next(code for code in (f"{n:06d}" for n in range(0, 10**6, 111_111)) if code not in valid)


def enter_password(page: Page, user: User) -> None:
    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(CODE_URL)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()


def enter_code(page: Page, code: str) -> None:
    page.get_by_label("Six-digit code, or a recovery code").fill(code)
    page.get_by_role("button", name="Sign in").click()


@dataclass
class SignIn:
    """Sign in through the real pages: email and password, then a code."""

    codes: Codes

    def __call__(self, page: Page, user: User) -> None:
        enter_password(page, user)
        enter_code(page, self.codes.fresh(user))
        expect(page).to_have_url(TODAY_URL)
        expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()


def wait_until(page: Page, expression: str, timeout_ms: int) -> object:
    """Evaluate ``expression`` (which may return a promise) until it gives a
    truthy value, and return it. Playwright's wait_for_function treats a
    returned promise as already true, so checks that read getStats() need this."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(200)


# --- Video calls ----------------------------------------------------------------------------------

REMOTE_TIMES = "() => Array.from(document.querySelectorAll('#remote-videos video')).map(v => v.currentTime)"
REMOTE_VIDEOS_PLAYING = """(count) => {
  const videos = Array.from(document.querySelectorAll('#remote-videos video'));
  return videos.length === count && videos.every(v => v.videoWidth > 0 && v.currentTime > 0);
}"""


def assert_receiving_video(page: Page, count: int = 1, timeout_ms: int = 30_000) -> None:
    """The page shows ``count`` remote videos that play: each has a size, its
    ``currentTime`` advances, and getStats() counts decoded frames from every
    connection."""
    page.wait_for_function(REMOTE_VIDEOS_PLAYING, arg=count, timeout=timeout_ms)
    before = page.evaluate(REMOTE_TIMES)
    page.wait_for_function(
        """(before) => Array.from(document.querySelectorAll('#remote-videos video'))
             .every((v, i) => v.currentTime > before[i])""",
        arg=before,
        timeout=timeout_ms,
    )
    wait_until(
        page,
        f"() => window.tandemRoom.framesDecoded().then(f => f.length === {count} && f.every(n => n > 0))",
        timeout_ms,
    )


def frames_decoded(page: Page) -> list[int]:
    """Frames decoded so far from each other participant."""
    return list(page.evaluate("() => window.tandemRoom.framesDecoded()"))


def video_visit(
    organization: Any,
    patient: Any,
    clinicians: list[User],
    *,
    kind: str = "med_management",
    modality: str = "video_home",
) -> Any:
    """A video appointment starting in five minutes, its room open, with
    ``clinicians`` as its participants."""
    from tandem.scheduling.models import Appointment, Participant
    from tandem.scheduling.services import ensure_types

    appointment_type = next(t for t in ensure_types(organization) if t.kind == kind)
    start = minutes_from_now(5)
    visit = Appointment.objects.create(
        organization=organization,
        appointment_type=appointment_type,
        patient=patient,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=60),
        modality=modality,
        created_by=clinicians[0],
    )
    for person in clinicians:
        Participant.objects.create(appointment=visit, user=person, starts_at=start, ends_at=visit.ends_at)
    return visit
