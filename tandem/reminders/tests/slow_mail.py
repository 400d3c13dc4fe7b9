"""A file mail backend that waits before writing each message, so a test can
kill a worker while it is handing a reminder over. Test processes only."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend
from django.core.mail.message import EmailMessage

_started = itertools.count(1)


class SlowFileBackend(EmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        markers = os.environ.get("REMINDERS_TEST_MARKERS", "")
        delay = float(os.environ.get("REMINDERS_TEST_MAIL_DELAY", "0"))
        for _ in email_messages:
            if markers:
                # "This process has begun its n-th hand-over": written before the wait, never after.
                Path(markers, f"{os.getpid()}-{next(_started)}").touch()
            time.sleep(delay)
        return super().send_messages(email_messages)
