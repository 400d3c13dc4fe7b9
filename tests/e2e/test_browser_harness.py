"""The problem collector itself: a suite that asserts "no CSP violations"
means something only if a violation would be seen."""

from __future__ import annotations

from e2e_harness import BrowserProblems
from playwright.sync_api import BrowserContext

INJECT_INLINE_SCRIPT = """
() => new Promise((resolve) => {
  // Registered after the harness's own listener, so that one has run by now.
  document.addEventListener("securitypolicyviolation", () => resolve(), { once: true });
  const script = document.createElement("script");
  script.textContent = "window.inlineScriptRan = true";
  document.head.append(script);
})
"""


def test_collector_sees_a_csp_violation(context: BrowserContext, browser_problems: BrowserProblems) -> None:
    # Not the `page` fixture: it would fail this test for the very violation it provokes.
    page = context.new_page()
    page.on("console", browser_problems.on_console)
    page.goto("/accounts/sign-in/")

    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate(INJECT_INLINE_SCRIPT)
    page.evaluate("() => window.tandemCspReported")

    assert page.evaluate("() => window.inlineScriptRan") is None
    assert any(v.startswith("script-src") for v in browser_problems.csp_violations), browser_problems.csp_violations
    assert any("Content Security Policy" in e for e in browser_problems.console_errors), browser_problems.console_errors
