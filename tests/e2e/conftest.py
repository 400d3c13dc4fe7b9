"""Fixtures for the browser suite: Debian's Chromium, driven by Playwright,
against pytest-django's live server.

The live server is a thread of this process, so ``time_machine`` moves the
server's clock along with the test's. ``make test-e2e`` runs the suite in a
network namespace that has only loopback.

pytest-django's live server speaks WSGI, so there the live socket is stubbed.
Tests of what the live socket does use ``asgi_live_server`` and ``asgi_pages``
instead: the project's ASGI app (pages and WebSockets, with Channels) on
uvicorn, in a thread of this process, against the same test database.
"""

from __future__ import annotations

import os

# Django refuses ORM calls from a thread with a running event loop, and the
# sync Playwright API keeps one. Django reads this on every call.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# One address that Chromium's resolver rules and the server agree on
# ("localhost" may resolve to ::1 first).
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from django.conf import settings
from e2e_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    BrowserProblems,
    Codes,
    SignIn,
    flush_csp_reports,
    new_context,
    new_page,
)
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

expect.set_options(timeout=5_000)
ASGI_START_SECONDS = 10


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A file-backed test database. With in-memory SQLite, Django hands the
    live server one connection shared across threads; a file gives each
    request thread its own connection, as in production. Settings are already
    loaded when this file is imported, so TANDEM_TEST_SQLITE_FILE would come
    too late; this is the hook pytest-django offers instead."""
    default = settings.DATABASES["default"]
    if default["ENGINE"] == "django.db.backends.sqlite3":
        default.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("e2e-db") / "tandem.sqlite3")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"The browser suite needs Debian's Chromium at {CHROMIUM}: run `make test-deps`.")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer, browser_problems: BrowserProblems) -> Iterator[BrowserContext]:
    """A fresh context per test: no cookies or storage carried over."""
    context = new_context(browser, live_server.url, browser_problems)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, browser_problems: BrowserProblems) -> Iterator[Page]:
    page = new_page(context, browser_problems)
    yield page
    # After the test's own assertions, so every page it visited counts.
    problems = browser_problems.summary()
    assert not problems, "The browser reported problems:\n  " + "\n  ".join(problems)


@pytest.fixture
def codes() -> Codes:
    return Codes()


@pytest.fixture
def sign_in(codes: Codes) -> SignIn:
    return SignIn(codes)


# --- The ASGI server: pages and the live socket ---------------------------------------------


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: None) -> Iterator[str]:
    """``tandem.asgi:application`` on uvicorn, as ``tandem serve`` runs it, in
    a thread of this process: its requests and sockets use the same settings,
    hence the same file-backed test database, as the test and the WSGI live
    server, and the in-memory channel layer links the page that books with the
    sockets of everyone told. One server for the session; each test that uses
    it asks for ``asgi_live_server``, which gives it a clean database.

    Requests reach the database only while a test holds it (pytest-django's
    blocker applies to every thread), as with ``live_server``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # a free port, with no race to claim it
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        "tandem.asgi:application",
        lifespan="off",  # Django's ASGI handler has no lifespan events
        log_config=None,  # keep Django's logging as the settings made it
        access_log=False,
        loop="asyncio",
        ws_ping_interval=None,  # a test is shorter than any ping timeout
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="asgi-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + ASGI_START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("The ASGI live server did not start.")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=ASGI_START_SECONDS)
    listener.close()


@pytest.fixture
def asgi_live_server(asgi_server: str, transactional_db: None) -> str:
    """The ASGI server's address, for a test whose data the server must see:
    committed for real, and flushed afterwards, as with ``live_server``."""
    return asgi_server


@pytest.fixture
def asgi_pages(
    browser: Browser, asgi_live_server: str, browser_problems: BrowserProblems
) -> Iterator[Callable[[], Page]]:
    """Opens pages against the ASGI server, each in its own context (one per
    person), with the real live socket. Afterwards the browser must have
    reported no problems on any of them."""
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    def open_page() -> Page:
        context = new_context(browser, asgi_live_server, browser_problems, stub_live_socket=False)
        contexts.append(context)
        page = new_page(context, browser_problems)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        if not page.is_closed():
            flush_csp_reports(page)
    browser_problems.closing = True
    for context in contexts:
        context.close()
    problems = browser_problems.summary()
    assert not problems, "The browser reported problems:\n  " + "\n  ".join(problems)
