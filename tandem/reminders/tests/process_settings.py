"""Settings for the worker processes of the crash test: Tandem's own, with
the slow mail backend and a reclaim window the test chooses."""

import os

from tandem.settings import *  # noqa: F403

EMAIL_BACKEND = "tandem.reminders.tests.slow_mail.SlowFileBackend"
REMINDER_RECLAIM_SECONDS = int(os.environ.get("REMINDERS_TEST_RECLAIM_SECONDS", "600"))
