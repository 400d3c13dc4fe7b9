"""Structured JSON logs that never carry health information.

A request line holds the method, the matched route *name* (not the path, and
never the query string, which can hold a search for a patient's name), the
status, the duration and the user's numeric id.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("tandem.request")

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Django's own loggers (errors, CSRF refusals, not-found warnings) name the
# path. A patient's signing link and a clinician's calendar feed carry their
# secret in the path, so it is blanked out.
_SECRET_PATHS = re.compile(r"(/sign/|/calendar/feed/|/video/join/)(?!new/|revoke/)[^/\s'\"?]+")
# Extra fields never written: Django's request object repeats the path.
_NEVER = {"request"}


# A video room's device key holds a participant's place in the room: with the
# link's token it would skip the waiting room. The page id goes with it.
_SECRET_QUERY = re.compile(r"([?&](?:device|page)=)[^&\s'\"]+")


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1[key]", _SECRET_PATHS.sub(r"\1[token]", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _NEVER and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            # The exception type and where it happened; not its message, which
            # may quote a value from a form or a query.
            exc_type = record.exc_info[0]
            payload["exc_type"] = exc_type.__name__ if exc_type else None
        return json.dumps(payload, default=str)


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "route": match.view_name if match else "unmatched",
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response
