"""Fixtures for the browser suite: Debian's Chromium, driven by Playwright,
against pytest-django's live server.

The live server is a thread of this process, so ``time_machine`` moves the
server's clock along with the test's. ``make test-e2e`` runs the suite in a
network namespace that has only loopback.
"""

from __future__ import annotations

import os

# Django refuses ORM calls from a thread with a running event loop, and the
# sync Playwright API keeps one. Django reads this on every call.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# One address that Chromium's resolver rules and the server agree on
# ("localhost" may resolve to ::1 first).
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from e2e_harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_LISTENER,
    BrowserProblems,
    Codes,
    SignIn,
    stand_in_for_live_socket,
)
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

# Long enough for a busy two-core machine, short enough that a hang fails fast.
ACTION_TIMEOUT_MS = 10_000
expect.set_options(timeout=5_000)


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
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.expose_binding("tandemCspViolation", lambda _source, report: browser_problems.on_csp_violation(report))
    context.add_init_script(CSP_LISTENER)
    context.route_web_socket(re.compile(r"/ws/live/$"), stand_in_for_live_socket)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, browser_problems: BrowserProblems) -> Iterator[Page]:
    page = context.new_page()
    page.on("console", browser_problems.on_console)
    page.on("pageerror", browser_problems.on_page_error)
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
